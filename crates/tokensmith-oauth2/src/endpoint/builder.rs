//! The settings of a token endpoint, checked by [`TokenEndpointBuilder::build`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokensmith_core::{Error, RetryPolicy};
use tokensmith_http::{Transport, display_url_text};
use zeroize::Zeroizing;

use super::{Certificate, DEFAULT_MAX_RESPONSE_BYTES, TokenEndpoint, certificate_thumbprint};
use crate::{ClientAssertion, ClientAuth, ClientSecret, ServerMetadata, Signer, TokenVendor};

impl TokenEndpoint {
    /// Starts an endpoint at `url`; see [`TokenEndpointBuilder`].
    pub fn builder(url: impl AsRef<str>) -> TokenEndpointBuilder {
        TokenEndpointBuilder {
            url: url.as_ref().to_owned(),
            client_id: None,
            client_secret: None,
            auth: None,
            transport: None,
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
            certificate_pem: None,
            certificate: Certificate::None,
            metadata: None,
            issuer: None,
            revocation: None,
            #[cfg(feature = "dpop")]
            dpop: None,
        }
    }
}

/// Builds a [`TokenEndpoint`]; `build` checks everything and never panics.
pub struct TokenEndpointBuilder {
    pub(super) url: String,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<ClientSecret>,
    pub(super) auth: Option<ClientAuth>,
    pub(super) transport: Option<Arc<dyn Transport>>,
    pub(super) connect_timeout: Duration,
    pub(super) timeout: Duration,
    pub(super) attempt_timeout: Option<Duration>,
    pub(super) headers: Vec<(String, ClientSecret)>,
    pub(super) params: Vec<(String, String)>,
    pub(super) max_body: usize,
    pub(super) retry: RetryPolicy,
    pub(super) allow_http: bool,
    pub(super) allow_short_hmac_secret: bool,
    pub(super) vendor: Option<Arc<dyn TokenVendor>>,
    pub(super) signer: Option<Arc<dyn Signer>>,
    pub(super) assertion: Option<Arc<dyn ClientAssertion>>,
    pub(super) assertion_audience: Option<String>,
    /// The client certificate and key, for the default transport.
    pub(super) certificate_pem: Option<Zeroizing<Vec<u8>>>,
    pub(super) certificate: Certificate,
    pub(super) metadata: Option<Arc<ServerMetadata>>,
    pub(super) issuer: Option<String>,
    pub(super) revocation: Option<String>,
    #[cfg(feature = "dpop")]
    pub(super) dpop: Option<tokensmith_http::dpop::DpopKey>,
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

    /// Sends the token requests through `transport` instead of the default one (reqwest,
    /// feature `reqwest`): another HTTP client, or reqwest with proxies or root certificates
    /// (`tokensmith_http::transport::ReqwestTransport::from_builder`). A transport follows no
    /// redirect: one would replay the form body (client secret, password, refresh token,
    /// code) to wherever the server points. A transport that presents a client certificate
    /// should be described with [`client_certificate_pem`](Self::client_certificate_pem) too,
    /// so that tokens bound to it are told apart.
    #[must_use]
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(tokensmith_http::transport::arc_transport(transport));
        self
    }

    /// Time allowed to connect (default 10 s), for the default transport.
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

    /// The client certificate (its chain, first the client's own) and private key for mutual
    /// TLS (RFC 8705), in one PEM text: presented to the token endpoint by the default
    /// transport, so [`ClientAuth::TlsClientAuth`] or [`ClientAuth::SelfSignedTlsClientAuth`]
    /// can authenticate the client, and the server can bind tokens to the certificate. With
    /// discovery, the server's `mtls_endpoint_aliases` are used. API calls with
    /// certificate-bound tokens must present the same certificate.
    ///
    /// The certificate's thumbprint becomes part of what identifies the endpoint's tokens, so
    /// that tokens bound to one certificate are never shared with a client that presents
    /// another. With a [`transport`](Self::transport) of your own, that transport presents
    /// the certificate; this names it.
    pub fn client_certificate_pem(mut self, pem: &[u8]) -> Result<Self, Error> {
        let thumbprint = certificate_thumbprint(pem).ok_or_else(|| {
            Error::config("the client certificate PEM holds no readable CERTIFICATE block")
        })?;
        self.certificate_pem = Some(Zeroizing::new(pem.to_vec()));
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
