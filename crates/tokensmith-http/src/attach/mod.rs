//! The attach engine the reqwest middleware and the tower layer drive: which requests get
//! credentials, which headers they carry, and what an answer means (a 401, a DPoP nonce).
//!
//! A driver sends and replays; the engine decides. Per request:
//! 1. [`Attach::plan`]: not ours (send as is), the caller's own `Authorization` (extra headers
//!    only), or a token from the usual or a per-request provider;
//! 2. [`Attach::token`], then [`Attach::sign`] with it (and again for each replay);
//! 3. [`Attach::judge`] the answer: accept it, send again with the DPoP nonce just given, or
//!    a refusal, after which [`Attach::replacement`] gives the fresh token to send it with
//!    (at most once: a second refusal is the answer).

mod challenged;
mod settings;

use std::fmt;
use std::sync::Arc;

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, StatusCode};
use tokensmith_core::{AccessToken, Error, RequestAuth, TokenProvider};
use url::Url;

pub use self::challenged::{ChallengeHandler, MAX_CHALLENGE_ROUNDS, Rounds};
pub use self::settings::{AttachBuilder, Driver, secret_header};
pub use crate::origin::RequestOrigin;
use crate::origin::{Origins, insecure_origin, is_loopback_host};

/// A checked attach setup, built by [`AttachBuilder::build`] and driven by a middleware.
pub struct Attach {
    provider: Arc<dyn TokenProvider>,
    origins: Origins,
    headers: HeaderMap,
    replace_authorization: bool,
    retry_unauthorized: bool,
    allow_http: bool,
    challenges: Option<Arc<dyn ChallengeHandler>>,
    name: &'static str,
    layer: &'static str,
    #[cfg(feature = "dpop")]
    dpop: Option<crate::dpop::DpopKey>,
}

/// What to do with a request, from [`Attach::plan`].
pub enum Plan {
    /// Not for these credentials (another origin, or [`RequestAuth::Skip`]): send it as it is.
    Pass,
    /// The caller set `Authorization` itself: add the extra headers only.
    HeadersOnly,
    /// Attach a token: from this per-request provider ([`RequestAuth::With`]), or from the
    /// usual one (`None`).
    Token(Option<Arc<dyn TokenProvider>>),
}

/// What the answer to a request that carried a token means, from [`Attach::judge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The answer is the caller's.
    Accept,
    /// The server asked for a DPoP nonce it has now given: send the copy once more, signed
    /// again with the same token; then [`Attach::observe`] its answer.
    SendWithNonce,
    /// Refused (a 401): ask [`Attach::replacement`] for the token to send the copy with.
    Refused,
}

impl Attach {
    /// Whether a request to `origin` carries credentials: `Ok(false)` for another origin, an
    /// error for plain http to a host that is not loopback when any origin is allowed.
    pub fn allows_origin(&self, origin: &RequestOrigin<'_>) -> Result<bool, Error> {
        let RequestOrigin { scheme, host, port } = origin;
        if !self.origins.allows(scheme, host, *port) {
            return Ok(false);
        }
        if self.origins.is_any()
            && !self.allow_http
            && *scheme != "https"
            && !is_loopback_host(host)
        {
            return Err(insecure_origin(&host.to_string(), self.name));
        }
        Ok(true)
    }

    /// What a request to `origin` with `headers` and the request's [`RequestAuth`] gets.
    pub fn plan(
        &self,
        origin: &RequestOrigin<'_>,
        headers: &HeaderMap,
        auth: Option<&RequestAuth>,
    ) -> Result<Plan, Error> {
        if !self.allows_origin(origin)? {
            return Ok(Plan::Pass);
        }
        let per_request = match auth {
            Some(RequestAuth::Skip) => return Ok(Plan::Pass),
            Some(RequestAuth::With(other)) => Some(Arc::clone(other)),
            _ => None,
        };
        if headers.contains_key(AUTHORIZATION)
            && !self.replace_authorization
            && !carries_copied_proof(headers)
        {
            return Ok(Plan::HeadersOnly);
        }
        Ok(Plan::Token(per_request))
    }

    /// The provider a [`Plan::Token`] names.
    pub fn provider<'a>(
        &'a self,
        per_request: &'a Option<Arc<dyn TokenProvider>>,
    ) -> &'a dyn TokenProvider {
        per_request.as_deref().unwrap_or(&*self.provider)
    }

    /// The usual provider, shared.
    pub fn usual_provider(&self) -> &Arc<dyn TokenProvider> {
        &self.provider
    }

    /// The handler of the resource's challenges, for a driver built with
    /// [`AttachBuilder::discover`].
    pub fn challenges(&self) -> Option<&dyn ChallengeHandler> {
        self.challenges.as_deref()
    }

    /// Where credentials may go.
    pub fn origins(&self) -> &Origins {
        &self.origins
    }

    /// Whether a refusal invalidates the token and sends the request again.
    pub fn retries_unauthorized(&self) -> bool {
        self.retry_unauthorized
    }

    /// The provider's token, from its cache when it has one.
    pub async fn token(provider: &dyn TokenProvider) -> Result<AccessToken, Error> {
        match provider.current() {
            Some(token) => Ok(token),
            None => provider.token().await,
        }
    }

    /// Whether a request sent with `token` must be copied before it goes, for a replay that
    /// [`judge`](Self::judge) may ask for.
    pub fn keeps_copy(&self, token: &AccessToken) -> bool {
        self.retry_unauthorized || is_dpop(token)
    }

    /// Sets the extra headers and, for `token`, `Authorization` and the DPoP proof a request
    /// with `method` to `htu` needs; an error when the token is DPoP-bound and no key was
    /// given. `htu`, the request's URL, is needed only when a DPoP key is set
    /// ([`proves_possession`](Self::proves_possession)).
    pub fn sign(
        &self,
        method: &str,
        htu: Option<&Url>,
        headers: &mut HeaderMap,
        token: Option<&AccessToken>,
    ) -> Result<(), Error> {
        let proof = self.proof(method, htu, token)?;
        for (name, value) in &self.headers {
            headers.insert(name, value.clone());
        }
        if let Some(token) = token {
            headers.insert(AUTHORIZATION, token.authorization_header());
        }
        if let Some(proof) = proof {
            headers.insert(HeaderName::from_static("dpop"), proof);
        }
        Ok(())
    }

    fn proof(
        &self,
        method: &str,
        htu: Option<&Url>,
        token: Option<&AccessToken>,
    ) -> Result<Option<http::HeaderValue>, Error> {
        let Some(token) = token.filter(|token| is_dpop(token)) else {
            return Ok(None);
        };
        #[cfg(feature = "dpop")]
        {
            let key = self.dpop.as_ref().ok_or_else(|| {
                dpop_key_missing(&format!(
                    "pass the token endpoint's key to the {}: `.dpop(key.clone())`",
                    self.name
                ))
            })?;
            let htu = htu.ok_or_else(|| Error::other("a DPoP proof needs the request's URL"))?;
            Ok(Some(key.proof(
                method,
                htu,
                Some(token.secret().expose_secret()),
            )?))
        }
        #[cfg(not(feature = "dpop"))]
        {
            let _ = (method, htu, token);
            Err(dpop_key_missing(
                "enable tokensmith's `dpop` feature and pass the key with `.dpop(..)`",
            ))
        }
    }

    /// What the answer (`status`, `headers`) to a request to `htu` that carried `token`
    /// means (`htu` as for [`sign`](Self::sign)). `refused` is the driver's reading of a refusal (a 401; for gRPC also an
    /// `Unauthenticated` status); `has_copy` whether the request can be sent again. A DPoP
    /// nonce the answer gives is kept for the origin's next proof.
    pub fn judge(
        &self,
        token: &AccessToken,
        htu: Option<&Url>,
        status: StatusCode,
        headers: &HeaderMap,
        refused: bool,
        has_copy: bool,
    ) -> Verdict {
        if self.wants_new_nonce(token, htu, status, headers) && has_copy {
            // RFC 9449 §9: the same token, a proof with the nonce just given; once.
            tracing::debug!(target: "tokensmith::http", layer = self.layer, "the resource server asked for a DPoP nonce; sending once more with it");
            count_dpop_nonce_retry(self.layer);
            return Verdict::SendWithNonce;
        }
        if !refused || !self.retry_unauthorized {
            return Verdict::Accept;
        }
        if self.is_nonce_challenge(token, headers) {
            // A nonce challenge wants the nonce (now kept), not another token.
            tracing::debug!(target: "tokensmith::http", layer = self.layer, "DPoP nonce challenge for a request that cannot be sent again; the token stays");
            return Verdict::Accept;
        }
        Verdict::Refused
    }

    /// Reads the answer to a request sent again with a nonce: a newer nonce is kept.
    pub fn observe(
        &self,
        token: &AccessToken,
        htu: Option<&Url>,
        status: StatusCode,
        headers: &HeaderMap,
    ) {
        self.wants_new_nonce(token, htu, status, headers);
    }

    /// After a [`Verdict::Refused`]: `token` is invalidated, and the fresh token to send the
    /// copy with is returned, if there is a copy and the provider has a different token (a
    /// static one cannot replace itself; a provider in backoff has none). `None`: the refusal
    /// is the answer.
    pub async fn replacement(
        &self,
        provider: &dyn TokenProvider,
        token: &AccessToken,
        has_copy: bool,
    ) -> Option<AccessToken> {
        provider.invalidate(token);
        if !has_copy {
            tracing::debug!(target: "tokensmith::http", layer = self.layer, "refused; the body cannot be sent again, so the refusal is the answer");
            return None;
        }
        match Self::token(provider).await {
            Ok(fresh) if !fresh.same_as(token) => {
                tracing::debug!(target: "tokensmith::http", layer = self.layer, "refused; sending once more with a fresh token");
                count_unauthorized_retry(self.layer);
                Some(fresh)
            }
            Ok(_) => None,
            Err(error) => {
                // The server's refusal says more than "no new token yet" (a backoff, say).
                tracing::debug!(target: "tokensmith::http", layer = self.layer, error = %error, "no fresh token for the retry; the refusal is the answer");
                None
            }
        }
    }

    /// Whether the answer asks for a DPoP nonce that is new for `htu`'s origin (it is kept).
    fn wants_new_nonce(
        &self,
        token: &AccessToken,
        htu: Option<&Url>,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> bool {
        #[cfg(feature = "dpop")]
        if let Some((key, url)) = self.dpop.as_ref().filter(|_| is_dpop(token)).zip(htu) {
            let new = key.remember_nonce(url, headers);
            return status == StatusCode::UNAUTHORIZED
                && new
                && crate::dpop::asks_for_nonce(headers);
        }
        let _ = (token, htu, status, headers);
        false
    }

    /// Whether a DPoP key is set: each request then needs a proof of its own, so a client
    /// that would re-send one request's headers to a redirect's target must let the driver
    /// follow redirects instead.
    pub fn proves_possession(&self) -> bool {
        #[cfg(feature = "dpop")]
        {
            self.dpop.is_some()
        }
        #[cfg(not(feature = "dpop"))]
        {
            false
        }
    }

    /// Whether the answer to a request that carried `token` is a DPoP nonce challenge
    /// (`WWW-Authenticate: DPoP error="use_dpop_nonce"`, RFC 9449 §9): the server wants a
    /// nonce, not another token, so the token stays cached whether or not the request can be
    /// sent again; the next request carries the nonce.
    fn is_nonce_challenge(&self, token: &AccessToken, headers: &HeaderMap) -> bool {
        #[cfg(feature = "dpop")]
        {
            self.dpop.is_some() && is_dpop(token) && crate::dpop::asks_for_nonce(headers)
        }
        #[cfg(not(feature = "dpop"))]
        {
            let _ = (token, headers);
            false
        }
    }
}

impl fmt::Debug for Attach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(self.name)
            .field("origins", &self.origins.serialised())
            .field("extra_headers", &self.headers.keys().collect::<Vec<_>>())
            .field("replace_authorization", &self.replace_authorization)
            .field("retry_unauthorized", &self.retry_unauthorized)
            .finish_non_exhaustive()
    }
}

/// Whether `token` must travel with a DPoP proof (`token_type` `DPoP`, RFC 9449 §7.1).
pub fn is_dpop(token: &AccessToken) -> bool {
    token.token_type().as_str().eq_ignore_ascii_case("dpop")
}

/// The error for a DPoP-bound token and no key to prove it with; `fix` says how to give one.
fn dpop_key_missing(fix: &str) -> Error {
    Error::config("the token is DPoP-bound and no DPoP key was given to prove it").with_hint(fix)
}

/// Whether the request carries a DPoP token with a proof: what the engine signed for an
/// earlier request, copied by a redirect follower (tower-http's `FollowRedirect` copies the
/// headers to each hop). A proof is good for one URL and one use, so the hop gets the token
/// and a proof of its own.
fn carries_copied_proof(headers: &HeaderMap) -> bool {
    headers.contains_key("dpop")
        && headers.get(AUTHORIZATION).is_some_and(|value| {
            value
                .as_bytes()
                .get(..5)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"dpop "))
        })
}

/// Counts a request sent again after a refusal (`layer`: `reqwest`, `tower`); feature
/// `metrics`.
fn count_unauthorized_retry(layer: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(tokensmith_core::metrics::UNAUTHORIZED_RETRIES, "layer" => layer)
        .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = layer;
}

/// Counts a request sent again with a DPoP nonce (`layer`: `reqwest`, `tower`,
/// `token_endpoint`); feature `metrics`.
pub fn count_dpop_nonce_retry(layer: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(tokensmith_core::metrics::DPOP_NONCE_RETRIES, "layer" => layer).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = layer;
}

#[cfg(test)]
mod tests;
