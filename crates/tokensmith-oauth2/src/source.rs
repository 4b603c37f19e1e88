//! The token source behind every grant: runs the grant, keeps and uses the refresh token.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokensmith_core::{
    AccessToken, Cached, Error, ErrorCode, ExposeSecret, SecretString, TokenIdentity, TokenSource,
};

use crate::{GrantRequest, RefreshToken, StoredTokens, TokenEndpoint, TokenResponse, TokenStore};

/// A grant that can be run again whenever a new token is needed (client credentials,
/// password). Implement it for a custom grant and wrap it in a [`GrantSource`].
pub trait Grant: Send + Sync + 'static {
    /// The request that runs the grant.
    fn request(&self) -> GrantRequest<'_>;
}

/// A [`TokenSource`] that gets tokens from a token endpoint.
///
/// When it holds a refresh token it refreshes with it first (RFC 6749 §6). If the server
/// answers `invalid_grant`, the dead refresh token is dropped and the source falls back to its
/// grant, where it has one. A refresh token in an answer replaces the one held (rotation); an
/// answer without one keeps it.
pub struct GrantSource {
    endpoint: TokenEndpoint,
    grant: Option<Box<dyn Grant>>,
    name: &'static str,
    refresh: Mutex<Option<RefreshToken>>,
    store: Option<Arc<dyn TokenStore>>,
}

impl GrantSource {
    /// Runs `grant` at `endpoint`; `name` names it in logs (such as `client_credentials`).
    pub fn new(endpoint: TokenEndpoint, name: &'static str, grant: impl Grant) -> Self {
        Self {
            endpoint,
            grant: Some(Box::new(grant)),
            name,
            refresh: Mutex::new(None),
            store: None,
        }
    }

    /// Only refreshes: for a refresh token obtained elsewhere (a stored one, or the result of
    /// an authorization code flow). When it is rejected, there is no grant to fall back to.
    pub fn refresh_only(endpoint: TokenEndpoint, refresh_token: RefreshToken) -> Self {
        Self {
            endpoint,
            grant: None,
            name: "refresh_token",
            refresh: Mutex::new(Some(refresh_token)),
            store: None,
        }
    }

    /// Saves every answer that brings a refresh token to `store`.
    #[must_use]
    pub fn with_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Starts with a refresh token (a stored one) instead of running the grant first.
    #[must_use]
    pub fn with_refresh_token(self, refresh_token: RefreshToken) -> Self {
        *self.refresh.lock().unwrap_or_else(PoisonError::into_inner) = Some(refresh_token);
        self
    }

    /// The refresh token held now, if any (for persisting it).
    pub fn refresh_token(&self) -> Option<RefreshToken> {
        self.refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The token endpoint.
    pub fn endpoint(&self) -> &TokenEndpoint {
        &self.endpoint
    }

    /// Signs out: forgets the refresh token here and in the store, then revokes it at the
    /// server's revocation endpoint (RFC 7009), which also ends the access tokens of the same
    /// grant on most servers. Without a revocation endpoint only the local copies go.
    /// A [`Cached`] provider over this source should be invalidated too.
    pub async fn sign_out(&self) -> Result<(), Error> {
        let refresh = self
            .refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(store) = &self.store {
            store.clear().await?;
        }
        match refresh {
            Some(refresh) if self.endpoint.revocation_url().is_some() => {
                self.endpoint
                    .revoke(
                        refresh.expose_secret(),
                        Some(crate::TokenTypeHint::RefreshToken),
                    )
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Wraps the source in the caching provider with default settings.
    pub fn cached(self) -> Cached<Self> {
        Cached::new(self)
    }

    async fn accept(&self, answer: TokenResponse) -> AccessToken {
        let (token, refresh, _) = answer.into_parts();
        let Some(refresh) = refresh else {
            return token;
        };
        {
            let mut held = self.refresh.lock().unwrap_or_else(PoisonError::into_inner);
            let rotated = held
                .as_ref()
                .is_some_and(|old| old.expose_secret() != refresh.expose_secret());
            if rotated {
                tracing::debug!(target: "tokensmith::oauth2", grant = self.name, "refresh token rotated");
            }
            *held = Some(refresh.clone());
        }
        if let Some(store) = &self.store {
            // The token is good either way; a failed save costs a sign-in after a restart.
            if let Err(e) = store.save(&StoredTokens::new(refresh, Some(&token))).await {
                tracing::warn!(target: "tokensmith::oauth2", grant = self.name, error = %e, "could not save the refreshed tokens");
            }
        }
        token
    }

    /// Drops `dead` if it is still the refresh token held.
    fn drop_refresh(&self, dead: &RefreshToken) {
        let mut held = self.refresh.lock().unwrap_or_else(PoisonError::into_inner);
        if held
            .as_ref()
            .is_some_and(|r| r.expose_secret() == dead.expose_secret())
        {
            *held = None;
        }
    }

    async fn refresh_with(&self, refresh: &RefreshToken) -> Result<AccessToken, Error> {
        let request = GrantRequest::new("refresh_token")
            .secret_param("refresh_token", refresh.expose_secret())
            .single_use();
        let answer = self.endpoint.exchange(&request).await?;
        Ok(self.accept(answer).await)
    }
}

#[async_trait]
impl TokenSource for GrantSource {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        if let Some(refresh) = self.refresh_token() {
            match self.refresh_with(&refresh).await {
                Ok(token) => return Ok(token),
                Err(e) if e.oauth().is_some_and(|o| o.code == ErrorCode::InvalidGrant) => {
                    self.drop_refresh(&refresh);
                    if self.grant.is_none() {
                        return Err(e);
                    }
                    tracing::warn!(
                        target: "tokensmith::oauth2",
                        grant = self.name,
                        "the refresh token was rejected; running the grant again"
                    );
                }
                Err(e) => return Err(e),
            }
        }
        let Some(grant) = &self.grant else {
            return Err(
                Error::config("no refresh token left and no grant to get a new one")
                    .with_hint("the user has to sign in again"),
            );
        };
        let answer = self.endpoint.exchange(&grant.request()).await?;
        Ok(self.accept(answer).await)
    }

    fn name(&self) -> &str {
        self.name
    }

    /// The endpoint (without query or user info), the client id and authentication style,
    /// extra parameters and headers names, the grant and its public parameters (scope,
    /// username…); the client secret, extra header values and the grant's secret parameters
    /// (a password) as secret parts. A refresh-only source adds nothing for its refresh
    /// token, which rotates: name such a session when sharing it.
    fn identity(&self) -> Option<TokenIdentity> {
        let inner = &self.endpoint.inner;
        let mut identity = TokenIdentity::new()
            .part("endpoint", inner.display.as_str())
            .part("client_id", inner.client.id.as_str())
            .part("client_auth", inner.auth.as_str())
            .part("grant", self.name);
        #[cfg(feature = "dpop")]
        if let Some(key) = &inner.dpop {
            // A DPoP-bound token is only usable with its key.
            identity = identity.part("dpop_jkt", key.thumbprint());
        }
        for (name, value) in &inner.params {
            identity = identity.part(format!("param:{name}"), value.as_str());
        }
        for (name, value) in &inner.headers {
            identity = identity.part(format!("header:{name}"), "");
            if let Ok(text) = value.to_str() {
                identity = identity.secret(text);
            }
        }
        if let Some(secret) = &inner.client.secret {
            identity = identity.secret(secret.expose_secret());
        }
        if let Some(grant) = &self.grant {
            let request = grant.request();
            if let Some(assertion) = request.assertion {
                for (name, value) in assertion.identity() {
                    identity = identity.part(format!("assertion:{name}"), value);
                }
            }
            for (name, value) in &request.params {
                if request.secret_values.contains(value) {
                    identity = identity.secret(*value);
                } else if *name == "scope" {
                    // The same scopes in another order are the same token.
                    let mut scopes: Vec<&str> = value.split_whitespace().collect();
                    scopes.sort_unstable();
                    scopes.dedup();
                    identity = identity.part("grant:scope", scopes.join(" "));
                } else {
                    identity = identity.part(format!("grant:{name}"), *value);
                }
            }
        }
        Some(identity)
    }

    fn shared_state(&self) -> Option<SecretString> {
        self.refresh_token()
            .map(|refresh| SecretString::from(refresh.expose_secret().to_owned()))
    }

    fn adopt_shared_state(&self, state: SecretString) {
        *self.refresh.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(RefreshToken::new(state.expose_secret()));
    }
}

impl fmt::Debug for GrantSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantSource")
            .field("grant", &self.name)
            .field("endpoint", &self.endpoint)
            .field("refresh_token", &self.refresh_token())
            .field("has_store", &self.store.is_some())
            .finish()
    }
}
