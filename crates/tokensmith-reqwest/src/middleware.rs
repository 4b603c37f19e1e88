//! The bearer middleware: attaches a valid token to requests for the allowed origins.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::Extensions;
use reqwest::header::{AUTHORIZATION, HeaderMap};
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use tokensmith_core::internal::{
    Origins, dpop_key_missing, insecure_origin, is_dpop, is_loopback, secret_header,
    shared_provider,
};
use tokensmith_core::{AccessToken, Error, RequestAuth, TokenProvider};
use url::Url;

use crate::AuthError;

/// Attaches `Authorization: <type> <token>` (and any extra headers, such as an API key) to
/// requests for the allowed origins, and nowhere else.
///
/// On a 401 answer it calls [`TokenProvider::invalidate`] with the token it sent and retries
/// the request once with a fresh token, if the request body can be cloned. A second 401 is
/// returned as it is: it never loops.
///
/// # What keeps credentials on their origin
/// - Tokens and extra headers go only to the origins named with
///   [`for_origin`](BearerAuthBuilder::for_origin) (scheme, host and port), and only over
///   https, or to loopback; plain http elsewhere needs
///   [`danger_allow_insecure_http`](BearerAuthBuilder::danger_allow_insecure_http).
/// - The middleware comes only with the HTTP client it runs on
///   ([`into_client`](Self::into_client), [`into_client_builder`](Self::into_client_builder)):
///   whatever `reqwest::ClientBuilder` you hand in, that client follows redirects within the
///   origin only (a redirect to another origin is returned to you as the 3xx answer) and sends
///   no `Referer`. reqwest's own default would carry an API key, and a query string in the
///   `Referer`, to wherever a redirect points.
///
/// Not covered: headers you set yourself on a request, other middleware you add after this
/// one (it sees the request with its credentials), and a proxy you configure, which sees the
/// credentials of plain http requests (those to loopback, or allowed by a `danger_` opt-in).
///
/// ```
/// use tokensmith_core::StaticToken;
/// use tokensmith_reqwest::BearerAuth;
///
/// let client = BearerAuth::builder(std::sync::Arc::new(StaticToken::bearer("t")?))
///     .for_origin("https://api.example.com")
///     .header("x-api-key", "key")
///     .build()?
///     .into_client(None)?;
/// # let _ = client;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
pub struct BearerAuth {
    provider: Arc<dyn TokenProvider>,
    origins: Origins,
    headers: HeaderMap,
    replace_authorization: bool,
    retry_unauthorized: bool,
    allow_http: bool,
    #[cfg(feature = "dpop")]
    dpop: Option<tokensmith_core::dpop::DpopKey>,
}

impl BearerAuth {
    /// Starts a middleware over `provider` (a [`Cached`](tokensmith_core::Cached) grant, a
    /// `StaticToken`, a mock, or an `Arc<dyn TokenProvider>` shared with others); name at least
    /// one origin with [`for_origin`](BearerAuthBuilder::for_origin).
    pub fn builder(provider: impl TokenProvider + 'static) -> BearerAuthBuilder {
        BearerAuthBuilder {
            provider: shared_provider(provider),
            origins: Vec::new(),
            any_origin: false,
            headers: Vec::new(),
            replace_authorization: false,
            retry_unauthorized: true,
            allow_http: false,
            #[cfg(feature = "dpop")]
            dpop: None,
        }
    }

    /// The client that sends with this middleware, built from `http` (proxies, certificates,
    /// timeouts; default: [`client_builder`](crate::client_builder)) with redirects kept on
    /// their origin and no `Referer`, whatever `http` said.
    pub fn into_client(
        self,
        http: Option<reqwest::ClientBuilder>,
    ) -> Result<ClientWithMiddleware, Error> {
        Ok(self.into_client_builder(http)?.build())
    }

    /// Like [`into_client`](Self::into_client), for adding more middleware (retries, tracing)
    /// after this one: they run closer to the network.
    pub fn into_client_builder(
        self,
        http: Option<reqwest::ClientBuilder>,
    ) -> Result<reqwest_middleware::ClientBuilder, Error> {
        let http = http
            .unwrap_or_else(crate::client_builder)
            .redirect(crate::same_origin_redirects())
            .referer(false)
            .build()
            .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))?;
        Ok(reqwest_middleware::ClientBuilder::new(http).with(Attach(self)))
    }

    fn allows(&self, url: &Url) -> bool {
        self.origins.allows_url(url)
    }

    fn attach(
        &self,
        request: &mut Request,
        token: Option<&AccessToken>,
    ) -> Result<(), reqwest_middleware::Error> {
        #[cfg(feature = "dpop")]
        let proof = match token {
            Some(token) if is_dpop(token) => {
                let key = self.dpop.as_ref().ok_or_else(|| {
                    auth_failed(dpop_key_missing(
                        "pass the token endpoint's key to the middleware: `.dpop(key.clone())`",
                    ))
                })?;
                let proof = key
                    .proof(
                        request.method().as_str(),
                        request.url(),
                        Some(tokensmith_core::ExposeSecret::expose_secret(token.secret())),
                    )
                    .map_err(auth_failed)?;
                Some(proof)
            }
            _ => None,
        };
        #[cfg(not(feature = "dpop"))]
        if token.is_some_and(is_dpop) {
            return Err(auth_failed(dpop_key_missing(
                "enable tokensmith's `dpop` feature and pass the key with `.dpop(..)`",
            )));
        }
        let headers = request.headers_mut();
        for (name, value) in &self.headers {
            headers.insert(name, value.clone());
        }
        if let Some(token) = token {
            headers.insert(AUTHORIZATION, token.authorization_header());
        }
        #[cfg(feature = "dpop")]
        if let Some(proof) = proof {
            headers.insert(tokensmith_core::dpop::DPOP, proof);
        }
        Ok(())
    }
}

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("origins", &self.origins.serialised())
            .field("extra_headers", &self.headers.keys().collect::<Vec<_>>())
            .field("replace_authorization", &self.replace_authorization)
            .field("retry_unauthorized", &self.retry_unauthorized)
            .finish_non_exhaustive()
    }
}

/// A valid token, without the boxed future when the provider has one at hand.
pub(crate) async fn valid_token(provider: &dyn TokenProvider) -> Result<AccessToken, Error> {
    match provider.current() {
        Some(token) => Ok(token),
        None => provider.token().await,
    }
}

fn auth_failed(error: Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(AuthError::new(error))
}

/// The middleware itself; private, so that it runs only on a client whose redirect and
/// referer policy [`BearerAuth::into_client_builder`] set.
struct Attach(BearerAuth);

#[async_trait]
impl Middleware for Attach {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.0.handle(request, extensions, next).await
    }
}

impl BearerAuth {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if !self.allows(request.url()) {
            return next.run(request, extensions).await;
        }
        // Named origins were checked in `build`; with any origin allowed, each request is.
        if self.origins.is_any() && !self.allow_http && !secure_or_loopback(request.url()) {
            let host = request.url().host_str().unwrap_or("");
            return Err(auth_failed(insecure_origin(host, "BearerAuth")));
        }
        // Only a per-request provider is cloned out of the extensions (they are lent to the
        // next middleware); the usual one is borrowed, sparing a shared reference count.
        let per_request = match extensions.get::<RequestAuth>() {
            Some(RequestAuth::Skip) => return next.run(request, extensions).await,
            Some(RequestAuth::With(other)) => Some(Arc::clone(other)),
            _ => None,
        };
        let provider: &dyn TokenProvider = per_request.as_deref().unwrap_or(&*self.provider);
        if request.headers().contains_key(AUTHORIZATION) && !self.replace_authorization {
            self.attach(&mut request, None)?;
            return next.run(request, extensions).await;
        }

        let token = valid_token(provider).await.map_err(auth_failed)?;
        let dpop = is_dpop(&token);
        #[cfg_attr(not(feature = "dpop"), allow(unused_mut))]
        let mut retry = if self.retry_unauthorized || dpop {
            request.try_clone()
        } else {
            None
        };
        self.attach(&mut request, Some(&token))?;
        tracing::debug!(
            target: "tokensmith::reqwest",
            origin = %request.url().origin().ascii_serialization(),
            token_type = %token.token_type(),
            "attached access token"
        );
        let response = next.clone().run(request, extensions).await?;
        #[cfg(feature = "dpop")]
        if let Some(key) = self.dpop.as_ref().filter(|_| dpop) {
            let new_nonce = key.remember_nonce(response.url(), response.headers());
            if response.status() == StatusCode::UNAUTHORIZED
                && new_nonce
                && tokensmith_core::dpop::asks_for_nonce(response.headers())
                && let Some(mut again) = retry.take()
            {
                // RFC 9449 §9: the same token, a proof with the nonce just given; once.
                drop(response);
                self.attach(&mut again, Some(&token))?;
                tracing::debug!(target: "tokensmith::reqwest", "the resource server asked for a DPoP nonce; retrying once with it");
                tokensmith_core::internal::count_dpop_nonce_retry("reqwest");
                let response = next.run(again, extensions).await?;
                key.remember_nonce(response.url(), response.headers());
                return Ok(response);
            }
        }
        if response.status() != StatusCode::UNAUTHORIZED || !self.retry_unauthorized {
            return Ok(response);
        }

        provider.invalidate(&token);
        let Some(mut retry) = retry else {
            tracing::debug!(
                target: "tokensmith::reqwest",
                origin = %response.url().origin().ascii_serialization(),
                "401 for a request whose body cannot be replayed; returning it"
            );
            return Ok(response);
        };
        let fresh = match valid_token(provider).await {
            Ok(fresh) => fresh,
            Err(error) => {
                // The server's 401 says more than "no new token yet" (a backoff, say).
                tracing::debug!(target: "tokensmith::reqwest", error = %error, "no fresh token for the retry; returning the 401");
                return Ok(response);
            }
        };
        if fresh.same_as(&token) {
            // The provider cannot replace the token (a static one): the 401 is the answer.
            return Ok(response);
        }
        drop(response);
        self.attach(&mut retry, Some(&fresh))?;
        tracing::debug!(
            target: "tokensmith::reqwest",
            origin = %retry.url().origin().ascii_serialization(),
            "401 answered; retrying once with a fresh token"
        );
        tokensmith_core::internal::count_unauthorized_retry("reqwest");
        next.run(retry, extensions).await
    }
}

/// Builds a [`BearerAuth`]; `build` checks the origins and headers.
pub struct BearerAuthBuilder {
    provider: Arc<dyn TokenProvider>,
    origins: Vec<String>,
    any_origin: bool,
    headers: Vec<(String, tokensmith_core::SecretString)>,
    replace_authorization: bool,
    retry_unauthorized: bool,
    allow_http: bool,
    #[cfg(feature = "dpop")]
    dpop: Option<tokensmith_core::dpop::DpopKey>,
}

impl BearerAuthBuilder {
    /// Attaches tokens to requests for this origin (scheme, host and port of the URL; any
    /// path is ignored).
    #[must_use]
    pub fn for_origin(mut self, origin: impl AsRef<str>) -> Self {
        self.origins.push(origin.as_ref().to_owned());
        self
    }

    /// Attaches tokens to requests for any origin (over https, or to loopback). Every host the
    /// client talks to then sees the token and extra headers: only for clients whose every
    /// URL you control; prefer [`for_origin`](Self::for_origin).
    #[must_use]
    pub fn danger_allow_any_origin(mut self) -> Self {
        self.any_origin = true;
        self
    }

    /// Allows plain `http://` to hosts that are not loopback. Tokens and API keys then cross
    /// the network unencrypted: only for closed test networks.
    #[must_use]
    pub fn danger_allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// An extra header for every authenticated request (an API key, say). Its value is
    /// treated as a secret: marked sensitive, never printed, scoped like the token.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((
            name.into(),
            tokensmith_core::SecretString::from(value.into()),
        ));
        self
    }

    /// Replace an `Authorization` header the caller already set (default: leave it alone).
    #[must_use]
    pub fn replace_existing_authorization(mut self, replace: bool) -> Self {
        self.replace_authorization = replace;
        self
    }

    /// The DPoP key of the token endpoint whose tokens this middleware attaches (RFC 9449):
    /// a DPoP-bound token goes as `Authorization: DPoP …` with a proof for each request
    /// (`htm`, `htu`, `ath`, the origin's nonce). A 401 asking for a nonce
    /// (`use_dpop_nonce`) is retried once with it.
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    #[must_use]
    pub fn dpop(mut self, key: tokensmith_core::dpop::DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// Do not invalidate and retry on 401 answers.
    #[must_use]
    pub fn no_retry_on_unauthorized(mut self) -> Self {
        self.retry_unauthorized = false;
        self
    }

    /// Checks the settings and builds the middleware.
    pub fn build(self) -> Result<BearerAuth, Error> {
        let origins = if self.any_origin {
            Origins::any()
        } else {
            Origins::named(&self.origins, self.allow_http, "BearerAuth")?
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let (name, value) =
                secret_header(name, tokensmith_core::ExposeSecret::expose_secret(value))?;
            headers.insert(name, value);
        }
        Ok(BearerAuth {
            provider: self.provider,
            origins,
            headers,
            replace_authorization: self.replace_authorization,
            retry_unauthorized: self.retry_unauthorized,
            allow_http: self.allow_http,
            #[cfg(feature = "dpop")]
            dpop: self.dpop,
        })
    }
}

impl fmt::Debug for BearerAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Origins as parsed, so that a path, query or user info handed in is not shown.
        let origins: Vec<String> = self
            .origins
            .iter()
            .map(|text| {
                Origins::named(std::slice::from_ref(text), true, "BearerAuth")
                    .ok()
                    .and_then(|o| o.serialised())
                    .and_then(|mut o| o.pop())
                    .unwrap_or_else(|| "(not an origin)".into())
            })
            .collect();
        f.debug_struct("BearerAuthBuilder")
            .field("origins", &origins)
            .field("any_origin", &self.any_origin)
            .field(
                "extra_headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Whether `url` is https, or goes to this machine.
pub(crate) fn secure_or_loopback(url: &Url) -> bool {
    url.scheme() == "https" || is_loopback(url)
}
