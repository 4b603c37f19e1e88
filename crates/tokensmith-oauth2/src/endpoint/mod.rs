//! The token endpoint: where it is, how the client authenticates, and the HTTP settings.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use tokensmith_core::{Error, RetryPolicy};
use tokensmith_http::Transport;
use url::Url;

use crate::client_auth::{Learned, RegisteredClient};
use crate::{ClientAssertion, ClientAuth, ServerMetadata, Signer, TokenVendor};

mod build;
mod builder;
mod identity;

pub(crate) use self::build::default_transport;
pub use self::builder::TokenEndpointBuilder;
pub(crate) use self::identity::grouped;

/// Default cap on the size of a token endpoint's answer.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// A token endpoint (RFC 6749 §3.2) and the client that talks to it.
///
/// Every request is a `POST` with an `application/x-www-form-urlencoded` body and
/// `Accept: application/json`; parameters never go in the query string or headers. Redirects
/// are not followed (they would carry the credentials elsewhere). Cloning is cheap and shares
/// what [`ClientAuth::AutoDetect`] learns.
///
/// ```
/// use tokensmith_oauth2::{ClientAuth, TokenEndpoint};
///
/// let endpoint = TokenEndpoint::builder("https://auth.example.com/oauth/token")
///     .client_id("my-client")
///     .client_secret("my-secret")
///     .auth(ClientAuth::Basic)
///     .build()?;
/// assert_eq!(endpoint.client_id(), "my-client");
///
/// // Plain http is refused unless the host is loopback or the opt-in says it is insecure.
/// let refused = TokenEndpoint::builder("http://auth.example.com/token")
///     .client_id("id").client_secret("s").build();
/// assert!(refused.is_err());
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone)]
pub struct TokenEndpoint {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) url: Url,
    /// Scheme, host, port and path: what logs and errors show.
    pub(crate) display: String,
    pub(crate) client: RegisteredClient,
    /// The Basic `Authorization` values, encoded once (RFC 6749 §2.3.1, and unencoded).
    pub(crate) basic: Option<HeaderValue>,
    pub(crate) basic_unencoded: Option<HeaderValue>,
    pub(crate) auth: ClientAuth,
    pub(crate) learned: Learned,
    /// Sends the requests.
    pub(crate) transport: Arc<dyn Transport>,
    /// The whole call, retries and their delays included.
    pub(crate) timeout: Duration,
    /// One attempt, when shorter than the whole call.
    pub(crate) attempt_timeout: Option<Duration>,
    pub(crate) headers: HeaderMap,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) max_body: usize,
    pub(crate) retry: RetryPolicy,
    /// Whether plain `http://` to a host that is not loopback was allowed (for the other
    /// endpoints of the same server, too).
    pub(crate) allow_http: bool,
    /// The vendor's hooks for answers and hints.
    pub(crate) vendor: Option<Arc<dyn TokenVendor>>,
    /// Signs client assertions (`private_key_jwt`, `client_secret_jwt`).
    pub(crate) signer: Option<Arc<dyn Signer>>,
    /// Gives client assertions someone else issued (a workload identity token).
    pub(crate) assertion: Option<Arc<dyn ClientAssertion>>,
    /// `aud` of client assertions.
    pub(crate) assertion_audience: String,
    /// The server's issuer identifier, for RFC 9207 checks.
    pub(crate) issuer: Option<String>,
    pub(crate) metadata: Option<Arc<ServerMetadata>>,
    pub(crate) revocation: Option<(Url, String)>,
    #[cfg(feature = "dpop")]
    pub(crate) dpop: Option<tokensmith_http::dpop::DpopKey>,
    /// The client certificate presented, as far as it is known.
    pub(crate) certificate: Certificate,
}

/// The client certificate an endpoint presents for mutual TLS.
#[derive(Debug, Clone)]
pub(crate) enum Certificate {
    None,
    /// Given as PEM: its SHA-256 thumbprint (RFC 8705 §3.1 `x5t#S256`).
    Known(String),
    /// Presented by a transport the endpoint was given, which cannot be read.
    Opaque,
}

impl TokenEndpoint {
    /// The endpoint URL.
    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.inner.client.id
    }

    /// The configured client authentication.
    pub fn auth(&self) -> ClientAuth {
        self.inner.auth
    }

    /// With [`ClientAuth::AutoDetect`], the style that worked, once one has.
    pub fn learned_auth(&self) -> Option<ClientAuth> {
        self.inner.learned.get()
    }

    /// The issuer identifier of the server, when the endpoint came from discovery or
    /// [`TokenEndpointBuilder::issuer`] named it.
    pub fn issuer(&self) -> Option<&str> {
        self.inner.issuer.as_deref()
    }

    /// The server metadata the endpoint was built from, if it came from discovery.
    pub fn metadata(&self) -> Option<&ServerMetadata> {
        self.inner.metadata.as_deref()
    }

    /// The DPoP key every token request proves possession of, if one is set.
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    pub fn dpop_key(&self) -> Option<&tokensmith_http::dpop::DpopKey> {
        self.inner.dpop.as_ref()
    }

    /// Checks that another URL of this server that carries a secret (the device or
    /// authorization endpoint) is https, or loopback, or allowed like the token endpoint.
    pub(crate) fn check_secret_url(&self, what: &str, url: &Url) -> Result<(), Error> {
        tokensmith_http::origin::require_secure(what, url, self.inner.allow_http)
    }

    /// The `aud` of a client assertion sent to `url` (RFC 7523 §3, RFC 7009 §2.1): the
    /// configured audience at the token endpoint; elsewhere (revocation, device
    /// authorization), that endpoint's own URL, so that whoever runs it cannot replay the
    /// assertion at the token endpoint. A configured audience other than the token endpoint
    /// (the issuer) is also used at endpoints on its own origin, which the issuer runs.
    pub(crate) fn assertion_audience_for(&self, url: &Url) -> String {
        let inner = &self.inner;
        let configured = &inner.assertion_audience;
        let at_token_endpoint = url == &inner.url;
        let issuer_runs_it = configured != inner.url.as_str()
            && Url::parse(configured).is_ok_and(|audience| audience.origin() == url.origin());
        if at_token_endpoint || issuer_runs_it {
            configured.clone()
        } else {
            url.as_str().to_owned()
        }
    }

    /// The secrets every request to this server may carry, which a server may echo: the
    /// client secret, its Basic encodings, and the values of the extra headers (an API key).
    pub(crate) fn secret_values(&self) -> Vec<&str> {
        let inner = &self.inner;
        let basic = [inner.basic.as_ref(), inner.basic_unencoded.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|value| value.to_str().ok()?.strip_prefix("Basic "));
        inner
            .client
            .secret
            .as_ref()
            .map(|secret| secret.expose_secret())
            .into_iter()
            .chain(basic)
            .chain(inner.headers.values().filter_map(|v| v.to_str().ok()))
            .collect()
    }
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("url", &self.inner.display)
            .field("client_id", &self.inner.client.id)
            .field("auth", &self.inner.auth)
            .field(
                "signer",
                &self.inner.signer.as_deref().map(crate::jwt::SignerName),
            )
            .field(
                "client_assertion",
                &self
                    .inner
                    .assertion
                    .as_deref()
                    .map(ClientAssertion::assertion_type),
            )
            .field("issuer", &self.inner.issuer)
            .field(
                "extra_headers",
                &self.inner.headers.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// The SHA-256 thumbprint, base64url, of the first certificate in `pem`.
pub(crate) fn certificate_thumbprint(pem: &[u8]) -> Option<String> {
    use base64::Engine as _;
    let text = std::str::from_utf8(pem).ok()?;
    let begin = "-----BEGIN CERTIFICATE-----";
    let start = text.find(begin)? + begin.len();
    let end = start + text[start..].find("-----END CERTIFICATE-----")?;
    let body: String = text[start..end].split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

#[cfg(test)]
mod tests;
