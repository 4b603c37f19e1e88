//! The refresh token grant (RFC 6749 §6), for a refresh token obtained elsewhere.

use tokensmith_core::Cached;

use crate::{GrantSource, RefreshToken, TokenEndpoint};

/// Builds a provider from a refresh token alone (a stored one, or one from an authorization
/// code flow). Rotated refresh tokens replace the held one; when the server rejects it, the
/// provider answers with the `invalid_grant` error and its hint to sign in again.
///
/// ```
/// use tokensmith_oauth2::{RefreshTokenGrant, TokenEndpoint};
///
/// let endpoint = TokenEndpoint::builder("https://auth.example.com/oauth/token")
///     .client_id("id")
///     .client_secret("secret")
///     .build()?;
/// let provider = RefreshTokenGrant::new(endpoint, "stored-refresh-token").build();
/// # let _ = provider;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Debug)]
pub struct RefreshTokenGrant {
    endpoint: TokenEndpoint,
    refresh_token: RefreshToken,
}

impl RefreshTokenGrant {
    /// Refreshes with `refresh_token` at `endpoint`.
    pub fn new(endpoint: TokenEndpoint, refresh_token: impl Into<RefreshToken>) -> Self {
        Self {
            endpoint,
            refresh_token: refresh_token.into(),
        }
    }

    /// The raw token source.
    pub fn build_source(self) -> GrantSource {
        GrantSource::refresh_only(self.endpoint, self.refresh_token)
    }

    /// The cached provider.
    pub fn build(self) -> Cached<GrantSource> {
        self.build_source().cached()
    }
}
