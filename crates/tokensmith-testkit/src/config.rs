//! What the server knows: clients, users, lifetimes, and which vendor it plays.

use std::time::Duration;

/// The client id of the confidential client every server starts with.
pub const DEFAULT_CLIENT_ID: &str = "test-client";
/// Its secret.
pub const DEFAULT_CLIENT_SECRET: &str = "test-secret";
/// The public client (no secret) every server starts with.
pub const DEFAULT_PUBLIC_CLIENT_ID: &str = "test-public";
/// The user every server starts with.
pub const DEFAULT_USERNAME: &str = "alice";
/// Her password.
pub const DEFAULT_PASSWORD: &str = "wonderland";
/// The redirect URI registered for the default clients.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// Shapes an OAuth error answer the way a vendor does: `(status, body)` for a code and a
/// description, or `None` for RFC 6749's shape.
pub type ErrorShape = fn(code: &str, description: &str) -> Option<(u16, serde_json::Value)>;

/// How a client may authenticate at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AuthMethods {
    pub(crate) basic: bool,
    pub(crate) body: bool,
    /// Decode the form-urlencoding of Basic credentials (RFC 6749 §2.3.1); some servers don't.
    pub(crate) decode_basic: bool,
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
    pub(crate) auth: AuthMethods,
    pub(crate) grants: Option<Vec<String>>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) redirect_uris: Vec<String>,
    /// The public key of a `private_key_jwt` client (RFC 7523 §2.2).
    pub(crate) jwk: Option<serde_json::Value>,
}

impl ClientConfig {
    /// A confidential client that may authenticate with Basic or in the body, use any grant
    /// and ask for any scope, with [`DEFAULT_REDIRECT_URI`] registered.
    pub fn confidential(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: Some(secret.into()),
            auth: AuthMethods {
                basic: true,
                body: true,
                decode_basic: true,
            },
            grants: None,
            scopes: None,
            redirect_uris: vec![DEFAULT_REDIRECT_URI.to_owned()],
            jwk: None,
        }
    }

    /// A confidential client that authenticates with `private_key_jwt`: a client assertion
    /// signed by the private half of `public_jwk` (ES256, RS256, PS256 or EdDSA), with `aud`
    /// the token endpoint URL or the server's URL, and a `jti` never used before.
    pub fn private_key_jwt(id: impl Into<String>, public_jwk: serde_json::Value) -> Self {
        Self {
            secret: None,
            jwk: Some(public_jwk),
            ..Self::confidential(id, "")
        }
    }

    /// A public client: no secret, `client_id` in the body.
    pub fn public(id: impl Into<String>) -> Self {
        Self {
            secret: None,
            ..Self::confidential(id, "")
        }
    }

    /// Accepts HTTP Basic client authentication only.
    #[must_use]
    pub fn basic_only(mut self) -> Self {
        self.auth.basic = true;
        self.auth.body = false;
        self
    }

    /// Accepts credentials in the form body only.
    #[must_use]
    pub fn body_only(mut self) -> Self {
        self.auth.basic = false;
        self.auth.body = true;
        self
    }

    /// Compares Basic credentials without form-urlencoding them first, as some servers do.
    #[must_use]
    pub fn basic_without_decoding(mut self) -> Self {
        self.auth.decode_basic = false;
        self
    }

    /// Allows only these grant types (`client_credentials`, `password`, …).
    #[must_use]
    pub fn grants<I, S>(mut self, grants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.grants = Some(grants.into_iter().map(Into::into).collect());
        self
    }

    /// Allows only these scopes; asking for another is `invalid_scope`.
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Registers a redirect URI (in addition to [`DEFAULT_REDIRECT_URI`]).
    #[must_use]
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    pub(crate) fn allows_grant(&self, grant: &str) -> bool {
        self.grants
            .as_ref()
            .is_none_or(|grants| grants.iter().any(|g| g == grant))
    }

    /// The scopes asked for that this client may not have.
    pub(crate) fn refused_scopes<'a>(&self, asked: &'a str) -> Vec<&'a str> {
        match &self.scopes {
            None => Vec::new(),
            Some(allowed) => asked
                .split_whitespace()
                .filter(|s| !allowed.iter().any(|a| a == s))
                .collect(),
        }
    }
}

/// The most clients one server registers.
pub(crate) const MAX_REGISTERED: usize = 256;

/// Everything the server is started with.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) clients: Vec<ClientConfig>,
    /// Clients registered at `/register` (RFC 7591). Each lives as long as the process (the
    /// handlers hold references to clients); [`MAX_REGISTERED`] bounds them.
    pub(crate) registered: std::sync::Arc<std::sync::Mutex<Vec<&'static ClientConfig>>>,
    pub(crate) users: Vec<(String, String)>,
    pub(crate) token_lifetime: Duration,
    pub(crate) rotate_refresh_tokens: bool,
    pub(crate) revoke_on_refresh_reuse: bool,
    pub(crate) refresh_for_client_credentials: bool,
    pub(crate) code_lifetime: Duration,
    pub(crate) device_interval: Duration,
    pub(crate) device_lifetime: Duration,
    pub(crate) device_slow_down_step: Duration,
    pub(crate) token_path: String,
    pub(crate) authorize_path: String,
    /// Also serve the token endpoint over `GET` with query parameters.
    pub(crate) token_over_get: bool,
    /// The token endpoint answers `GET` only (`POST` is 405).
    pub(crate) token_get_only: bool,
    /// `(header, value)` a gateway wants on token and API requests.
    pub(crate) gateway_key: Option<(String, String)>,
    pub(crate) require_scope: bool,
    pub(crate) token_type: &'static str,
    pub(crate) error_shape: Option<ErrorShape>,
    /// DPoP proofs must carry the server's nonce (RFC 9449 §8, §9).
    pub(crate) dpop_nonce: bool,
    /// The scopes reads of the protected resource need.
    pub(crate) resource_read_scopes: Vec<String>,
    /// The scopes its other methods need.
    pub(crate) resource_write_scopes: Vec<String>,
}

impl Config {
    pub(crate) fn new() -> Self {
        Self {
            clients: vec![
                ClientConfig::confidential(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
                ClientConfig::public(DEFAULT_PUBLIC_CLIENT_ID),
            ],
            registered: Default::default(),
            users: vec![(DEFAULT_USERNAME.to_owned(), DEFAULT_PASSWORD.to_owned())],
            token_lifetime: Duration::from_secs(3600),
            rotate_refresh_tokens: true,
            revoke_on_refresh_reuse: false,
            refresh_for_client_credentials: false,
            code_lifetime: Duration::from_secs(60),
            device_interval: Duration::from_secs(5),
            device_lifetime: Duration::from_secs(600),
            device_slow_down_step: Duration::from_secs(5),
            token_path: "/token".to_owned(),
            authorize_path: "/authorize".to_owned(),
            token_over_get: false,
            gateway_key: None,
            require_scope: false,
            token_type: "Bearer",
            error_shape: None,
            dpop_nonce: false,
            token_get_only: false,
            resource_read_scopes: vec!["files:read".to_owned()],
            resource_write_scopes: vec!["files:read".to_owned(), "files:write".to_owned()],
        }
    }

    pub(crate) fn client(&self, id: &str) -> Option<&ClientConfig> {
        self.clients.iter().find(|c| c.id == id).or_else(|| {
            let registered = crate::state::lock(&self.registered);
            registered.iter().find(|c| c.id == id).copied()
        })
    }

    /// Registers a client (RFC 7591); `false` when [`MAX_REGISTERED`] are registered already.
    pub(crate) fn register(&self, client: ClientConfig) -> bool {
        let mut registered = crate::state::lock(&self.registered);
        if registered.len() >= MAX_REGISTERED {
            return false;
        }
        registered.push(Box::leak(Box::new(client)));
        true
    }

    pub(crate) fn user_ok(&self, username: &str, password: &str) -> bool {
        self.users
            .iter()
            .any(|(u, p)| u == username && p == password)
    }
}
