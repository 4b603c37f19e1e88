//! The token endpoint: where it is, how the client authenticates, and the HTTP settings.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use tokensmith_core::Error;
use tokensmith_http::{display_url, display_url_text, is_loopback, secret_header};
use url::Url;

use crate::client_auth::{ClientIdentity, Learned};
use tokensmith_core::RetryPolicy;

use crate::discovery::choose_auth;
use crate::jwt::SecretSigner;
use crate::{ClientAssertion, ClientAuth, ClientSecret, ServerMetadata, Signer, TokenVendor};

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
    pub(crate) client: ClientIdentity,
    /// The Basic `Authorization` values, encoded once (RFC 6749 §2.3.1, and unencoded).
    pub(crate) basic: Option<HeaderValue>,
    pub(crate) basic_unencoded: Option<HeaderValue>,
    pub(crate) auth: ClientAuth,
    pub(crate) learned: Learned,
    pub(crate) http: reqwest::Client,
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
    /// Given as a `reqwest::Identity`, which cannot be read back.
    Opaque,
}

impl TokenEndpoint {
    /// Starts an endpoint at `url`; see [`TokenEndpointBuilder`].
    pub fn builder(url: impl AsRef<str>) -> TokenEndpointBuilder {
        TokenEndpointBuilder {
            url: url.as_ref().to_owned(),
            client_id: None,
            client_secret: None,
            auth: None,
            http: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            attempt_timeout: None,
            headers: Vec::new(),
            params: Vec::new(),
            max_body: DEFAULT_MAX_RESPONSE_BYTES,
            retry: RetryPolicy::default(),
            allow_http: false,
            allow_short_hmac_secret: false,
            vendor: None,
            signer: None,
            assertion: None,
            assertion_audience: None,
            identity: None,
            certificate: Certificate::None,
            metadata: None,
            issuer: None,
            revocation: None,
            #[cfg(feature = "dpop")]
            dpop: None,
        }
    }

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
        check_scheme(what, url, self.inner.allow_http)
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
fn certificate_thumbprint(pem: &[u8]) -> Option<String> {
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

/// The shortest client secret `client_secret_jwt` signs with (RFC 7518 §3.2: 256 bits).
const MIN_HMAC_SECRET_BYTES: usize = 32;

/// Builds a [`TokenEndpoint`]; `build` checks everything and never panics.
pub struct TokenEndpointBuilder {
    url: String,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    auth: Option<ClientAuth>,
    http: Option<reqwest::ClientBuilder>,
    connect_timeout: Duration,
    timeout: Duration,
    attempt_timeout: Option<Duration>,
    headers: Vec<(String, ClientSecret)>,
    params: Vec<(String, String)>,
    max_body: usize,
    retry: RetryPolicy,
    allow_http: bool,
    allow_short_hmac_secret: bool,
    vendor: Option<Arc<dyn TokenVendor>>,
    signer: Option<Arc<dyn Signer>>,
    assertion: Option<Arc<dyn ClientAssertion>>,
    assertion_audience: Option<String>,
    identity: Option<reqwest::Identity>,
    certificate: Certificate,
    metadata: Option<Arc<ServerMetadata>>,
    issuer: Option<String>,
    revocation: Option<String>,
    #[cfg(feature = "dpop")]
    dpop: Option<tokensmith_http::dpop::DpopKey>,
}

impl TokenEndpointBuilder {
    /// The client id (RFC 6749 §2.2).
    #[must_use]
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The client secret (RFC 6749 §2.3.1).
    #[must_use]
    pub fn client_secret(mut self, secret: impl Into<ClientSecret>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// How the client authenticates (default [`ClientAuth::Basic`]).
    #[must_use]
    pub fn auth(mut self, auth: ClientAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Builds the HTTP client from `builder` (proxies, root certificates, a client identity,
    /// …) instead of the default one. Whatever `builder` says, the client follows no redirect
    /// and sends no `Referer`: a redirect would replay the form body (client secret, password,
    /// refresh token, code) to wherever the server points.
    #[must_use]
    pub fn http_client(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http = Some(builder);
        self
    }

    /// Time allowed to connect (default 10 s); used when this builder makes the client.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole call (default 30 s): every attempt, the delays between retries
    /// and the answers included. A caller waits no longer than this.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time allowed for one attempt, answer included (default: the whole call's
    /// [`timeout`](Self::timeout)). Shorter than the timeout, it leaves time for a retry after
    /// an attempt that hangs.
    #[must_use]
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// A header sent with every token request, such as a vendor's `x-api-key`. Its value is
    /// treated as a secret: marked sensitive, never printed.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<ClientSecret>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// A form parameter sent with every token request (a vendor's fixed `resource`, say).
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The largest answer read (default 1 MiB); a larger one is an error, not an allocation.
    #[must_use]
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_body = limit;
        self
    }

    /// How failed requests are retried (default [`RetryPolicy::default`]).
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The vendor's quirks: error shapes, `token_type` spellings and hints beyond RFC 6749
    /// (vendor crates set this).
    #[must_use]
    pub fn vendor(mut self, vendor: impl TokenVendor) -> Self {
        self.vendor = Some(Arc::new(vendor));
        self
    }

    /// The key that signs client assertions for [`ClientAuth::PrivateKeyJwt`]; setting it
    /// makes that the default authentication.
    #[must_use]
    pub fn signer(mut self, signer: impl Signer) -> Self {
        self.signer = Some(Arc::new(signer));
        self
    }

    /// Client assertions someone else issued (a workload identity token: see
    /// [`ClientAssertion`]), sent as [`ClientAuth::PrivateKeyJwt`] sends signed ones; setting
    /// it makes that the default authentication. No secret is needed.
    #[must_use]
    pub fn client_assertion(mut self, assertion: impl ClientAssertion) -> Self {
        self.assertion = Some(Arc::new(assertion));
        self
    }

    /// The `aud` of client assertions at the token endpoint: its URL by default (RFC 7523
    /// §3); some servers want their issuer identifier instead. Assertions for the other
    /// endpoints (revocation, device authorization) name those endpoints, or this audience
    /// when they are on its origin: an assertion never names an audience whose holder did
    /// not receive it.
    #[must_use]
    pub fn assertion_audience(mut self, audience: impl Into<String>) -> Self {
        self.assertion_audience = Some(audience.into());
        self
    }

    /// The client certificate and key for mutual TLS (RFC 8705): presented to the token
    /// endpoint, so [`ClientAuth::TlsClientAuth`] or
    /// [`ClientAuth::SelfSignedTlsClientAuth`] can authenticate the client, and the server
    /// can bind tokens to the certificate. With discovery, the server's
    /// `mtls_endpoint_aliases` are used. API calls with certificate-bound tokens must
    /// present the same identity.
    ///
    /// A fleet sharing tokens through Redis cannot tell certificates given this way apart:
    /// give them with [`client_certificate_pem`](Self::client_certificate_pem) there.
    #[must_use]
    pub fn identity(mut self, identity: reqwest::Identity) -> Self {
        self.identity = Some(identity);
        self.certificate = Certificate::Opaque;
        self
    }

    /// The client certificate (its chain, first the client's own) and private key for mutual
    /// TLS, in one PEM text, as [`identity`](Self::identity) takes them; the certificate's
    /// thumbprint becomes part of what identifies the endpoint's tokens, so that tokens bound
    /// to one certificate are never shared with a client that presents another.
    pub fn client_certificate_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        let thumbprint = certificate_thumbprint(pem).ok_or_else(|| {
            Error::config("the client certificate PEM holds no readable CERTIFICATE block")
        })?;
        let identity = reqwest::Identity::from_pem(pem).map_err(|_| {
            Error::config(
                "the client certificate PEM does not hold a certificate and its private key",
            )
        })?;
        self.identity = Some(identity);
        self.certificate = Certificate::Known(thumbprint);
        Ok(self)
    }

    /// The server's metadata: the token endpoint URL is kept as given, the revocation
    /// endpoint, issuer and supported client authentication methods come from it.
    /// [`Issuer::token_endpoint`](crate::Issuer::token_endpoint) sets it.
    #[must_use]
    pub fn metadata(mut self, metadata: Arc<ServerMetadata>) -> Self {
        self.issuer = Some(metadata.issuer.clone());
        self.revocation = metadata.revocation_endpoint.clone();
        self.metadata = Some(metadata);
        self
    }

    /// The server's issuer identifier, checked against the `iss` of authorization responses
    /// (RFC 9207).
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The revocation endpoint (RFC 7009), for [`TokenEndpoint::revoke`].
    #[must_use]
    pub fn revocation_url(mut self, url: impl Into<String>) -> Self {
        self.revocation = Some(url.into());
        self
    }

    /// Proves possession of `key` on every token request (RFC 9449), so the server binds the
    /// tokens it issues to the key. Answers `use_dpop_nonce` are retried once with the nonce.
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    #[must_use]
    pub fn dpop(mut self, key: tokensmith_http::dpop::DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// Allows a plain `http://` URL to a host that is not loopback. The client secret and
    /// tokens then cross the network unencrypted: only for closed test networks.
    #[must_use]
    pub fn danger_allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Allows [`ClientAuth::ClientSecretJwt`] with a client secret shorter than 32 bytes.
    /// RFC 7518 §3.2 requires an HS256 key of at least 256 bits; a shorter secret makes the
    /// signed assertions open to brute force by anyone who sees one. Only for a server that
    /// issued such a secret and cannot issue another.
    #[must_use]
    pub fn danger_allow_short_hmac_secret(mut self) -> Self {
        self.allow_short_hmac_secret = true;
        self
    }

    /// Checks the settings and builds the endpoint.
    pub fn build(self) -> Result<TokenEndpoint, Error> {
        let auth = self.choose_auth()?;
        if auth == ClientAuth::ClientSecretJwt
            && !self.allow_short_hmac_secret
            && let Some(secret) = &self.client_secret
            && secret.expose_secret().len() < MIN_HMAC_SECRET_BYTES
        {
            return Err(Error::config(format!(
                "client_secret_jwt signs with HS256, whose key must be at least \
                 {MIN_HMAC_SECRET_BYTES} bytes (RFC 7518 §3.2); this client secret is shorter"
            ))
            .with_hint(
                "ask the server for a longer secret, use another client authentication, or \
                 call `.danger_allow_short_hmac_secret()` if the server cannot issue one",
            ));
        }
        let mtls = matches!(
            auth,
            ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth
        ) || self.identity.is_some();
        // With a client certificate, the server's mTLS aliases (RFC 8705 §5) replace the
        // plain endpoints.
        let alias = |name: &str| {
            self.metadata
                .as_ref()
                .filter(|_| mtls)
                .and_then(|m| m.mtls_alias(name))
                .map(str::to_owned)
        };
        let url_text = alias("token_endpoint").unwrap_or(self.url);
        // The text is not repeated: a URL that does not parse may still hold a key.
        let url = Url::parse(url_text.trim())
            .map_err(|e| Error::config(format!("the token endpoint URL is not a URL: {e}")))?;
        check_scheme("token endpoint", &url, self.allow_http)?;
        let revocation = match alias("revocation_endpoint").or(self.revocation) {
            Some(text) => {
                let url = Url::parse(text.trim()).map_err(|e| {
                    Error::config(format!("the revocation endpoint URL is not a URL: {e}"))
                })?;
                check_scheme("revocation endpoint", &url, self.allow_http)?;
                let display = display_url(&url);
                Some((url, display))
            }
            None => None,
        };
        let client_id = self.client_id.filter(|id| !id.is_empty()).ok_or_else(|| {
            Error::config("no client id").with_hint("set one with `.client_id(..)`")
        })?;
        for (name, _) in &self.params {
            if matches!(
                name.as_str(),
                "grant_type"
                    | "client_id"
                    | "client_secret"
                    | "client_assertion"
                    | "client_assertion_type"
            ) {
                return Err(Error::config(format!(
                    "`{name}` cannot be an extra parameter: the grant and client authentication set it"
                )));
            }
        }
        if self.max_body == 0
            || self.timeout.is_zero()
            || self.attempt_timeout.is_some_and(|t| t.is_zero())
        {
            return Err(Error::config(
                "the response size limit and timeouts must be above zero",
            ));
        }
        let headers = header_map(&self.headers)?;
        let mut http = self
            .http
            .unwrap_or_else(|| default_http().connect_timeout(self.connect_timeout));
        if let Some(identity) = self.identity {
            http = http.identity(identity);
        }
        let http = http
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))?;
        let display = display_url(&url);
        let signer = match auth {
            ClientAuth::ClientSecretJwt => self
                .client_secret
                .clone()
                .map(|secret| Arc::new(SecretSigner(secret)) as Arc<dyn Signer>),
            ClientAuth::PrivateKeyJwt => self.signer,
            _ => None,
        };
        let client = ClientIdentity {
            id: client_id,
            secret: self.client_secret,
        };
        Ok(TokenEndpoint {
            inner: Arc::new(Inner {
                assertion_audience: self
                    .assertion_audience
                    .unwrap_or_else(|| url.as_str().to_owned()),
                url,
                display,
                basic: client.basic_header(true),
                basic_unencoded: client.basic_header(false),
                client,
                auth,
                learned: Learned::default(),
                http,
                timeout: self.timeout,
                attempt_timeout: self.attempt_timeout.filter(|t| *t < self.timeout),
                headers,
                params: self.params,
                max_body: self.max_body,
                retry: self.retry,
                allow_http: self.allow_http,
                vendor: self.vendor,
                signer,
                assertion: match auth {
                    ClientAuth::PrivateKeyJwt => self.assertion,
                    _ => None,
                },
                issuer: self.issuer,
                metadata: self.metadata,
                revocation,
                #[cfg(feature = "dpop")]
                dpop: self.dpop,
                certificate: self.certificate,
            }),
        })
    }

    /// The authentication to use: the configured one, or the one the metadata and the
    /// client's credentials allow; and whether the client has what it needs.
    fn choose_auth(&self) -> Result<ClientAuth, Error> {
        let has_secret = self.client_secret.is_some();
        let has_cert = self.identity.is_some() || self.http.is_some();
        let asserts = self.signer.is_some() || self.assertion.is_some();
        let can = |auth: ClientAuth| match auth {
            ClientAuth::PrivateKeyJwt => asserts,
            ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth => {
                self.identity.is_some() && !has_secret
            }
            ClientAuth::None => !has_secret && !asserts && self.identity.is_none(),
            ClientAuth::AutoDetect => false,
            _ => has_secret,
        };
        let auth = match (&self.metadata, self.auth) {
            (Some(metadata), configured) => choose_auth(metadata, configured, &can)?,
            (None, Some(auth)) => auth,
            (None, None) if asserts => ClientAuth::PrivateKeyJwt,
            (None, None) if self.identity.is_some() && !has_secret => ClientAuth::TlsClientAuth,
            (None, None) => ClientAuth::Basic,
        };
        let missing = match auth {
            ClientAuth::PrivateKeyJwt if !asserts => Some((
                "a signing key",
                "set `.signer(JwtKey::from_pem(..)?)`, a `Signer` backed by a KMS, or \
                 `.client_assertion(..)` with a workload identity token",
            )),
            ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth if !has_cert => Some((
                "a client certificate",
                "set `.identity(reqwest::Identity::from_pem(..)?)`",
            )),
            ClientAuth::None
            | ClientAuth::PrivateKeyJwt
            | ClientAuth::TlsClientAuth
            | ClientAuth::SelfSignedTlsClientAuth => None,
            _ if !has_secret => Some((
                "a client secret",
                "set `.client_secret(..)`, or use `ClientAuth::None` for a public client",
            )),
            _ => None,
        };
        match missing {
            Some((what, hint)) => {
                Err(Error::config(format!("{} needs {what}", auth.as_str())).with_hint(hint))
            }
            None => Ok(auth),
        }
    }
}

/// The HTTP client settings of a token endpoint or issuer that the user did not configure.
pub(crate) fn default_http() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("tokensmith/", env!("CARGO_PKG_VERSION")))
}

impl fmt::Debug for TokenEndpointBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = display_url_text(&self.url);
        f.debug_struct("TokenEndpointBuilder")
            .field("url", &url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("auth", &self.auth)
            .field(
                "extra_headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field(
                "extra_params",
                &self.params.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Secrets go over https only, or to loopback, or where the user opted in by name.
pub(crate) fn check_scheme(what: &str, url: &Url, allow_http: bool) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(Error::config(format!(
            "refusing plain http for the {what} at {}: secrets would cross the network unencrypted",
            url.host_str().unwrap_or("")
        ))
        .with_hint("use https; for a closed test network call `.danger_allow_insecure_http()` on the token endpoint")),
        other => Err(Error::config(format!(
            "{what} URL scheme `{other}` is not http or https"
        ))),
    }
}

fn header_map(headers: &[(String, ClientSecret)]) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let (name, value) = secret_header(name, value.expose_secret())?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder(url: &str) -> TokenEndpointBuilder {
        TokenEndpoint::builder(url)
            .client_id("id")
            .client_secret("canary-secret-44")
    }

    #[test]
    fn each_endpoint_gets_an_assertion_for_itself() {
        let url = |text: &str| Url::parse(text).unwrap();
        let plain = builder("https://login.example/oauth/token")
            .build()
            .unwrap();
        let at = |endpoint: &TokenEndpoint, text: &str| endpoint.assertion_audience_for(&url(text));
        assert_eq!(
            at(&plain, "https://login.example/oauth/token"),
            "https://login.example/oauth/token"
        );
        assert_eq!(
            at(&plain, "https://login.example/oauth/revoke"),
            "https://login.example/oauth/revoke"
        );
        assert_eq!(
            at(&plain, "https://other.example/revoke"),
            "https://other.example/revoke"
        );
        let issuer = builder("https://login.example/oauth/token")
            .assertion_audience("https://login.example/tenant")
            .build()
            .unwrap();
        assert_eq!(
            at(&issuer, "https://login.example/oauth/token"),
            "https://login.example/tenant"
        );
        assert_eq!(
            at(&issuer, "https://login.example/oauth/device"),
            "https://login.example/tenant"
        );
        assert_eq!(
            at(&issuer, "https://revoke.example/revoke"),
            "https://revoke.example/revoke"
        );
    }

    #[test]
    fn client_secret_jwt_refuses_a_secret_shorter_than_256_bits() {
        let short = || {
            TokenEndpoint::builder("https://a.example/t")
                .client_id("id")
                .client_secret("canary-short-hs256")
                .auth(ClientAuth::ClientSecretJwt)
        };
        let err = short().build().unwrap_err();
        assert!(
            matches!(err.kind(), tokensmith_core::ErrorKind::Config { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("RFC 7518 §3.2"), "{err}");
        assert!(
            err.hint()
                .unwrap()
                .contains("danger_allow_short_hmac_secret")
        );
        assert!(!format!("{err} {err:?}").contains("canary-short"));
        short().danger_allow_short_hmac_secret().build().unwrap();
        TokenEndpoint::builder("https://a.example/t")
            .client_id("id")
            .client_secret("x".repeat(32))
            .auth(ClientAuth::ClientSecretJwt)
            .build()
            .unwrap();
        // Other styles take any secret.
        builder("https://a.example/t").build().unwrap();
    }

    #[test]
    fn http_is_refused_unless_loopback_or_opted_in() {
        for url in [
            "http://127.0.0.1:8080/token",
            "http://localhost/token",
            "http://[::1]:9/t",
            "https://a.example/t",
        ] {
            builder(url)
                .build()
                .unwrap_or_else(|e| panic!("{url}: {e}"));
        }
        let err = builder("http://auth.example/token").build().unwrap_err();
        assert!(err.to_string().contains("unencrypted"), "{err}");
        assert!(err.hint().unwrap().contains("danger_allow_insecure_http"));
        builder("http://auth.example/token")
            .danger_allow_insecure_http()
            .build()
            .unwrap();
        assert!(builder("ftp://x/token").build().is_err());
        assert!(builder("not a url").build().is_err());
    }

    struct NoKey;

    #[async_trait::async_trait]
    impl Signer for NoKey {
        fn algorithm(&self) -> &str {
            "ES256"
        }
        async fn sign(&self, _: &[u8]) -> Result<Vec<u8>, Error> {
            Err(Error::other("unused"))
        }
    }

    #[test]
    fn the_authentication_follows_the_credentials_given() {
        let base = || TokenEndpoint::builder("https://a/t").client_id("id");
        let signed = base().signer(NoKey).build().unwrap();
        assert_eq!(signed.auth(), ClientAuth::PrivateKeyJwt);
        assert!(format!("{signed:?}").contains("PrivateKeyJwt"));
        let err = base().auth(ClientAuth::PrivateKeyJwt).build().unwrap_err();
        assert!(err.hint().unwrap().contains("signer"), "{err:?}");
        let err = base().auth(ClientAuth::TlsClientAuth).build().unwrap_err();
        assert!(err.hint().unwrap().contains("identity"), "{err:?}");
        let err = base()
            .auth(ClientAuth::ClientSecretJwt)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("client secret"), "{err}");
        for name in ["client_assertion", "client_assertion_type"] {
            assert!(base().signer(NoKey).param(name, "x").build().is_err());
        }
        let named = base()
            .signer(NoKey)
            .issuer("https://a")
            .revocation_url("https://a/revoke")
            .build()
            .unwrap();
        assert_eq!(named.issuer(), Some("https://a"));
        assert_eq!(named.revocation_url().unwrap().as_str(), "https://a/revoke");
        assert!(
            base()
                .signer(NoKey)
                .revocation_url("http://a.example/revoke")
                .build()
                .is_err()
        );
    }

    #[test]
    fn missing_or_conflicting_settings_are_typed_errors() {
        let no_secret = TokenEndpoint::builder("https://a/t")
            .client_id("id")
            .build()
            .unwrap_err();
        assert!(no_secret.hint().unwrap().contains("ClientAuth::None"));
        TokenEndpoint::builder("https://a/t")
            .client_id("id")
            .auth(ClientAuth::None)
            .build()
            .unwrap();
        assert!(
            TokenEndpoint::builder("https://a/t")
                .client_secret("s")
                .build()
                .is_err()
        );
        assert!(
            builder("https://a/t")
                .param("grant_type", "x")
                .build()
                .is_err()
        );
        assert!(
            builder("https://a/t")
                .header("bad header", "v")
                .build()
                .is_err()
        );
        assert!(
            builder("https://a/t")
                .header("x-api-key", "line\nbreak")
                .build()
                .is_err()
        );
    }

    #[test]
    fn debug_and_display_hide_secrets_and_queries() {
        let endpoint = builder("https://user:pw@a.example/t?key=canary-q#f")
            .header("x-api-key", "canary-key-1")
            .build()
            .unwrap();
        let text = format!(
            "{endpoint:?} {:?}",
            builder("https://u:canary-pw@a/t?api_key=canary-q")
                .header("x-api-key", "canary-key-1")
                .param("resource", "canary-param")
        );
        for canary in [
            "canary-secret-44",
            "canary-key-1",
            "canary-q",
            "pw",
            "canary-param",
        ] {
            assert!(!text.contains(canary), "{canary} in {text}");
        }
        assert!(text.contains("https://a.example/t"));
    }
}
