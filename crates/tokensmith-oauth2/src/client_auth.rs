//! Client authentication at the token endpoint (RFC 6749 §2.3).

use std::sync::atomic::{AtomicU8, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;
use url::form_urlencoded;

tokensmith_core::secret_string! {
    /// A client secret (RFC 6749 §2.3.1 `client_secret`).
    pub struct ClientSecret;
}

/// How the client proves its identity to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_secret_basic` (RFC 6749 §2.3.1): `Authorization: Basic` with the id and secret
    /// each form-urlencoded before they are joined with `:`. The default.
    #[default]
    Basic,
    /// `client_secret_post`: `client_id` and `client_secret` as form parameters in the body.
    RequestBody,
    /// A public client: `client_id` in the body, no secret.
    None,
    /// `Authorization: Basic` without form-urlencoding the id and secret first, for servers
    /// that do not decode them. Only differs from [`ClientAuth::Basic`] when the id or secret
    /// has characters such as `:`, `+`, `%`, `&` or spaces.
    BasicUnencoded,
    /// Try [`ClientAuth::Basic`]; if the server answers `invalid_client` or 401, try
    /// [`ClientAuth::RequestBody`] once, and keep what worked for the life of the endpoint.
    /// Probes only with grants that can be repeated safely (client credentials, password).
    AutoDetect,
    /// `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): a JWT the client signs
    /// with its private key ([`Signer`](crate::Signer), set with
    /// [`TokenEndpointBuilder::signer`](crate::TokenEndpointBuilder::signer)), sent as
    /// `client_assertion`; no secret crosses the network.
    PrivateKeyJwt,
    /// `client_secret_jwt`: a JWT signed with HS256 under the client secret.
    ClientSecretJwt,
    /// `tls_client_auth` (RFC 8705 §2.1): the client certificate of a PKI-issued identity,
    /// presented in the TLS handshake
    /// ([`client_certificate_pem`](crate::TokenEndpointBuilder::client_certificate_pem), or
    /// a [`transport`](crate::TokenEndpointBuilder::transport) that presents one); `client_id`
    /// in the body.
    TlsClientAuth,
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2): a self-signed client certificate
    /// registered with the server.
    SelfSignedTlsClientAuth,
}

impl ClientAuth {
    /// The name used in OAuth server metadata (`token_endpoint_auth_method`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Basic => "client_secret_basic",
            Self::RequestBody => "client_secret_post",
            Self::None => "none",
            Self::BasicUnencoded => "client_secret_basic (unencoded)",
            Self::AutoDetect => "auto-detect",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }
}

/// The client's identity: its id and, for confidential clients, its secret.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredClient {
    pub(crate) id: String,
    pub(crate) secret: Option<ClientSecret>,
}

impl RegisteredClient {
    /// The `Authorization` header for Basic styles, marked sensitive.
    pub(crate) fn basic_header(&self, encode: bool) -> Option<HeaderValue> {
        let secret = self
            .secret
            .as_ref()
            .map(ClientSecret::expose_secret)
            .unwrap_or("");
        let joined = if encode {
            format!("{}:{}", form_encode(&self.id), form_encode(secret))
        } else {
            format!("{}:{secret}", self.id)
        };
        let mut value =
            HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(joined))).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// Form parameters the style puts in the body.
    pub(crate) fn body_params(&self, style: ClientAuth) -> Vec<(&'static str, &str)> {
        match style {
            ClientAuth::RequestBody => {
                let mut params = vec![("client_id", self.id.as_str())];
                if let Some(secret) = &self.secret {
                    params.push(("client_secret", secret.expose_secret()));
                }
                params
            }
            ClientAuth::None
            | ClientAuth::PrivateKeyJwt
            | ClientAuth::ClientSecretJwt
            | ClientAuth::TlsClientAuth
            | ClientAuth::SelfSignedTlsClientAuth => vec![("client_id", self.id.as_str())],
            _ => Vec::new(),
        }
    }
}

/// application/x-www-form-urlencoded, as RFC 6749 Appendix B defines it (space as `+`).
fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// What [`ClientAuth::AutoDetect`] has learned about an endpoint.
#[derive(Debug, Default)]
pub(crate) struct Learned(AtomicU8);

impl Learned {
    const UNKNOWN: u8 = 0;
    const BASIC: u8 = 1;
    const BODY: u8 = 2;

    pub(crate) fn get(&self) -> Option<ClientAuth> {
        match self.0.load(Ordering::Acquire) {
            Self::BASIC => Some(ClientAuth::Basic),
            Self::BODY => Some(ClientAuth::RequestBody),
            _ => None,
        }
    }

    pub(crate) fn set(&self, style: ClientAuth) {
        let value = match style {
            ClientAuth::Basic => Self::BASIC,
            ClientAuth::RequestBody => Self::BODY,
            _ => Self::UNKNOWN,
        };
        self.0.store(value, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(id: &str, secret: &str) -> RegisteredClient {
        RegisteredClient {
            id: id.into(),
            secret: Some(ClientSecret::new(secret)),
        }
    }

    fn decode(header: HeaderValue) -> String {
        let text = header
            .to_str()
            .unwrap()
            .strip_prefix("Basic ")
            .unwrap()
            .to_owned();
        String::from_utf8(STANDARD.decode(text).unwrap()).unwrap()
    }

    #[test]
    fn basic_encodes_id_and_secret_before_joining() {
        let client = identity("my:client id", "s3:+%&=/ é");
        let header = client.basic_header(true).unwrap();
        assert!(header.is_sensitive());
        assert_eq!(decode(header), "my%3Aclient+id:s3%3A%2B%25%26%3D%2F+%C3%A9");
    }

    #[test]
    fn basic_unencoded_joins_raw_values() {
        let client = identity("id", "a:b+c");
        assert_eq!(decode(client.basic_header(false).unwrap()), "id:a:b+c");
        let plain = identity("client", "secret");
        assert_eq!(
            plain.basic_header(true).unwrap().to_str().unwrap(),
            "Basic Y2xpZW50OnNlY3JldA=="
        );
    }

    #[test]
    fn body_styles() {
        let client = identity("id", "sec");
        assert_eq!(
            client.body_params(ClientAuth::RequestBody),
            [("client_id", "id"), ("client_secret", "sec")]
        );
        assert_eq!(client.body_params(ClientAuth::None), [("client_id", "id")]);
        assert!(client.body_params(ClientAuth::Basic).is_empty());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let client = identity("id", "canary-client-secret-81");
        let text = format!("{client:?} {client:#?}");
        assert!(!text.contains("canary-client-secret-81"), "{text}");
        assert!(text.contains("ClientSecret([redacted])"));
    }
}
