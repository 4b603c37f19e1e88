//! [`TokenEndpointBuilder::build`]: every setting checked, the client authentication chosen,
//! the transport made.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;
use tokensmith_core::Error;
use tokensmith_http::origin::require_secure;
use tokensmith_http::{Transport, display_url, secret_header};
use url::Url;

use super::{Certificate, Inner, TokenEndpoint, TokenEndpointBuilder};
use crate::client_auth::{Learned, RegisteredClient};
use crate::jwt::SecretSigner;
use crate::metadata::choose_auth;
use crate::{ClientAuth, ClientSecret, Signer};

/// The shortest client secret `client_secret_jwt` signs with (RFC 7518 §3.2: 256 bits).
const MIN_HMAC_SECRET_BYTES: usize = 32;

impl TokenEndpointBuilder {
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
        ) || self.certificate_pem.is_some();
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
        require_secure("token endpoint", &url, self.allow_http)?;
        let revocation = match alias("revocation_endpoint").or(self.revocation) {
            Some(text) => {
                let url = Url::parse(text.trim()).map_err(|e| {
                    Error::config(format!("the revocation endpoint URL is not a URL: {e}"))
                })?;
                require_secure("revocation endpoint", &url, self.allow_http)?;
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
        let transport = match self.transport {
            Some(transport) => transport,
            None => default_transport(
                self.connect_timeout,
                self.certificate_pem.as_deref().map(Vec::as_slice),
            )?,
        };
        let certificate = match self.certificate {
            Certificate::None if mtls => Certificate::Opaque,
            known => known,
        };
        let display = display_url(&url);
        let signer = match auth {
            ClientAuth::ClientSecretJwt => self
                .client_secret
                .clone()
                .map(|secret| Arc::new(SecretSigner(secret)) as Arc<dyn Signer>),
            ClientAuth::PrivateKeyJwt => self.signer,
            _ => None,
        };
        let client = RegisteredClient {
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
                transport,
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
                certificate,
            }),
        })
    }

    /// The authentication to use: the configured one, or the one the metadata and the
    /// client's credentials allow; and whether the client has what it needs.
    fn choose_auth(&self) -> Result<ClientAuth, Error> {
        let has_secret = self.client_secret.is_some();
        let has_cert = self.certificate_pem.is_some() || self.transport.is_some();
        let asserts = self.signer.is_some() || self.assertion.is_some();
        let can = |auth: ClientAuth| match auth {
            ClientAuth::PrivateKeyJwt => asserts,
            ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth => {
                self.certificate_pem.is_some() && !has_secret
            }
            ClientAuth::None => !has_secret && !asserts && self.certificate_pem.is_none(),
            ClientAuth::AutoDetect => false,
            _ => has_secret,
        };
        let auth = match (&self.metadata, self.auth) {
            (Some(metadata), configured) => choose_auth(metadata, configured, &can)?,
            (None, Some(auth)) => auth,
            (None, None) if asserts => ClientAuth::PrivateKeyJwt,
            (None, None) if self.certificate_pem.is_some() && !has_secret => {
                ClientAuth::TlsClientAuth
            }
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
                "set `.client_certificate_pem(..)?`, or a `.transport(..)` that presents one",
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

/// The transport of an endpoint or issuer that was given none: reqwest (feature `reqwest`).
pub(crate) fn default_transport(
    connect_timeout: Duration,
    certificate_pem: Option<&[u8]>,
) -> Result<Arc<dyn Transport>, Error> {
    #[cfg(feature = "reqwest")]
    {
        use tokensmith_http::transport::ReqwestTransport;
        let mut builder = ReqwestTransport::default_builder().connect_timeout(connect_timeout);
        if let Some(pem) = certificate_pem {
            builder = ReqwestTransport::with_client_certificate(builder, pem)?;
        }
        Ok(Arc::new(ReqwestTransport::from_builder(builder)?))
    }
    #[cfg(not(feature = "reqwest"))]
    {
        let _ = (connect_timeout, certificate_pem);
        Err(Error::config("no transport to send token requests with").with_hint(
            "enable the `reqwest` feature of tokensmith-oauth2, or give one with `.transport(..)`",
        ))
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
