//! The refresh token grant (RFC 6749 §6), for a refresh token obtained elsewhere: the end of
//! an authorization code or device flow, or a store.

use std::sync::Arc;

use tokensmith_core::{AccessToken, Cached, Error};

use crate::{GrantSource, RefreshToken, StoredTokens, TokenEndpoint, TokenResponse, TokenStore};

/// Builds a provider from a refresh token. Rotated refresh tokens replace the held one (and
/// are saved to the store, if one is set); when the server rejects it, the provider answers
/// with the `invalid_grant` error and its hint to sign in again.
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
pub struct RefreshTokenGrant {
    endpoint: TokenEndpoint,
    refresh_token: RefreshToken,
    initial: Option<AccessToken>,
    store: Option<Arc<dyn TokenStore>>,
}

impl RefreshTokenGrant {
    /// Refreshes with `refresh_token` at `endpoint`.
    pub fn new(endpoint: TokenEndpoint, refresh_token: impl Into<RefreshToken>) -> Self {
        Self {
            endpoint,
            refresh_token: refresh_token.into(),
            initial: None,
            store: None,
        }
    }

    /// Continues from a flow's answer: its access token is used first, its refresh token
    /// after. Fails when the answer has no refresh token.
    pub fn from_response(endpoint: TokenEndpoint, response: TokenResponse) -> Result<Self, Error> {
        let (access, refresh, _) = response.into_parts();
        let refresh = refresh.ok_or_else(|| {
            Error::config("the answer has no refresh token to keep the session going").with_hint(
                "ask for the scope the server wants for refresh tokens (often `offline_access`)",
            )
        })?;
        Ok(Self {
            initial: Some(access),
            ..Self::new(endpoint, refresh)
        })
    }

    /// Continues from what `store` holds; `None` when it holds nothing (sign in first). The
    /// store stays attached, so rotations are saved to it.
    pub async fn load(
        endpoint: TokenEndpoint,
        store: impl TokenStore,
    ) -> Result<Option<Self>, Error> {
        let store: Arc<dyn TokenStore> = Arc::new(store);
        let Some(stored) = store.load().await? else {
            return Ok(None);
        };
        Ok(Some(Self {
            endpoint,
            initial: stored.live_access_token(std::time::Duration::from_secs(60)),
            refresh_token: stored.refresh_token,
            store: Some(store),
        }))
    }

    /// Saves the tokens to `store` now (see [`save`](Self::save)) and on every rotation.
    #[must_use]
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Writes the current refresh token (and access token) to the store, if one is set.
    pub async fn save(&self) -> Result<(), Error> {
        match &self.store {
            Some(store) => {
                store
                    .save(&StoredTokens::new(
                        self.refresh_token.clone(),
                        self.initial.as_ref(),
                    ))
                    .await
            }
            None => Ok(()),
        }
    }

    /// The raw token source (the first access token, if any, is dropped: see [`build`](Self::build)).
    pub fn build_source(self) -> GrantSource {
        let source = GrantSource::refresh_only(self.endpoint, self.refresh_token);
        match self.store {
            Some(store) => source.with_store(store),
            None => source,
        }
    }

    /// The cached provider, primed with the first access token when there is one.
    pub fn build(self) -> Cached<GrantSource> {
        let initial = self.initial.clone();
        let cached = self.build_source().cached();
        if let Some(token) = initial {
            cached.prime(token);
        }
        cached
    }

    /// Saves to the store, then builds: the end of a sign-in flow.
    pub async fn build_persisted(self) -> Result<Cached<GrantSource>, Error> {
        self.save().await?;
        Ok(self.build())
    }
}

impl std::fmt::Debug for RefreshTokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenGrant")
            .field("endpoint", &self.endpoint)
            .field("refresh_token", &self.refresh_token)
            .field("has_initial_token", &self.initial.is_some())
            .field("has_store", &self.store.is_some())
            .finish()
    }
}
