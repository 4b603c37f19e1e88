//! The OAuth 2.0 token endpoint client of tokensmith (RFC 6749).
//!
//! - [`Issuer`]: the server's metadata (RFC 8414, OpenID Connect discovery), checked against
//!   the issuer URL and kept for a bounded time; [`Issuer::token_endpoint`] starts a
//!   [`TokenEndpoint`] with the server's endpoints and a client authentication it accepts.
//! - [`TokenEndpoint`]: where the token endpoint is, how the client authenticates
//!   ([`ClientAuth`]: Basic, body, none, unencoded Basic, auto-detect, `private_key_jwt` and
//!   `client_secret_jwt` through a [`Signer`] (an in-memory `JwtKey` with feature `jwt`),
//!   `tls_client_auth` and `self_signed_tls_client_auth` with a client certificate), DPoP
//!   proofs (feature `dpop`), revocation ([`TokenEndpoint::revoke`]), and HTTP settings
//!   (timeouts, size cap, retries, extra headers and parameters). Requests are always `POST`
//!   with a form body; `http://` is refused except to loopback.
//! - Grants, each a [`TokenSource`](tokensmith_core::TokenSource) behind the core cache:
//!   [`ClientCredentials`], [`Password`], [`RefreshTokenGrant`], [`JwtBearer`] (RFC 7523),
//!   [`TokenExchange`] (RFC 8693); [`GrantSource`] uses and rotates refresh tokens, and
//!   signs out ([`GrantSource::sign_out`]).
//! - User-delegated flows: [`AuthorizationCode`] with PKCE (two typed steps, the response's
//!   `iss` checked per RFC 9207) and
//!   [`DeviceAuthorization`] (RFC 8628); their tokens continue in a [`RefreshTokenGrant`],
//!   kept across restarts by a [`TokenStore`] ([`FileStore`], [`MemoryStore`]).
//! - [`TokenVendor`]: the hooks through which vendor crates add their error shapes,
//!   `token_type` spellings and hints.
//! - Answers are parsed strictly where safety is at stake and tolerantly where servers differ;
//!   every error keeps the HTTP status and the OAuth code, and carries a hint naming the likely
//!   cause.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use tokensmith_core::TokenProvider;
//! use tokensmith_oauth2::{ClientAuth, ClientCredentials, TokenEndpoint};
//!
//! let endpoint = TokenEndpoint::builder("https://auth.example.com/oauth/token")
//!     .client_id("my-client")
//!     .client_secret("my-secret")
//!     .auth(ClientAuth::AutoDetect)
//!     .build()?;
//! let provider: Arc<dyn TokenProvider> =
//!     Arc::new(ClientCredentials::new(endpoint).scope(["read"]).build());
//! # let _ = provider;
//! # Ok::<(), tokensmith_core::Error>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod assertion_grants;
#[cfg(feature = "authorization-code")]
mod authorization_code;
mod client_auth;
mod client_credentials;
mod device_code;
mod discovery;
mod endpoint;
mod exchange;
mod fetch;
mod hints;
mod jwt;
mod metadata;
mod password;
mod refresh;
mod request;
#[cfg(feature = "authorization-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "authorization-code")))]
pub mod resource;
mod response;
mod revocation;
mod source;
mod store;
mod vendor;

pub use crate::assertion_grants::{
    JWT_BEARER_GRANT_TYPE, JwtBearer, TOKEN_EXCHANGE_GRANT_TYPE, TokenExchange, token_type,
};
#[cfg(feature = "authorization-code")]
#[cfg_attr(docsrs, doc(cfg(feature = "authorization-code")))]
pub use crate::authorization_code::{
    AuthorizationCode, Callback, PendingAuthorization, PkceMethod,
};
pub use crate::client_auth::{ClientAuth, ClientSecret};
pub use crate::client_credentials::ClientCredentials;
pub use crate::device_code::{DEVICE_CODE_GRANT_TYPE, DeviceAuthorization, DevicePrompt};
pub use crate::discovery::{Issuer, IssuerBuilder, MAX_METADATA_BYTES};
pub use crate::endpoint::{DEFAULT_MAX_RESPONSE_BYTES, TokenEndpoint, TokenEndpointBuilder};
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use crate::jwt::JwtKey;
pub use crate::jwt::{ClientAssertion, IssuedAssertion, JWT_BEARER_ASSERTION_TYPE, Signer};
pub use crate::metadata::ServerMetadata;
pub use crate::password::{Password, UserPassword};
pub use crate::refresh::RefreshTokenGrant;
pub use crate::request::GrantRequest;
pub use crate::response::{MAX_EXPIRES_IN, RefreshToken, TokenResponse};
pub use crate::revocation::TokenTypeHint;
pub use crate::source::{Grant, GrantSource};
pub use crate::store::{
    FileStore, MemoryStore, StoredAccessToken, StoredClient, StoredTokens, TokenStore,
};
pub use crate::vendor::{HintContext, TokenVendor};

/// `n` random bytes from the operating system, base64url without padding.
pub(crate) fn random_urlsafe(n: usize) -> Result<String, tokensmith_core::Error> {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|e| {
        tokensmith_core::Error::other(format!("the operating system gave no random bytes: {e}"))
    })?;
    use base64::Engine;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}
