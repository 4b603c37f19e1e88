//! The token source behind every grant: runs the grant, keeps and uses the refresh token.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use tokensmith_core::{
    AccessToken, Cached, Error, ErrorCode, ExposeSecret, SecretString, TokenIdentity, TokenSource,
};

use crate::endpoint::grouped;
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
    /// Set by `sign_out`: answers that arrive after it (a refresh in flight) are revoked and
    /// dropped, never kept.
    signed_out: std::sync::atomic::AtomicBool,
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
            signed_out: std::sync::atomic::AtomicBool::new(false),
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
            signed_out: std::sync::atomic::AtomicBool::new(false),
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
    ///
    /// Final: a refresh in flight when it is called ends in an error, and the refresh token
    /// its answer brings is revoked and dropped, so that none is left in memory or the store
    /// once this returns; later fetches fail with a config error. A fleet sharing the session
    /// through Redis also removes it there (`Shared::forget` in `tokensmith-redis`).
    pub async fn sign_out(&self) -> Result<(), Error> {
        self.signed_out
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let refresh = self
            .refresh
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(store) = &self.store {
            store.clear().await?;
        }
        self.revoke(refresh).await
    }

    /// Revokes `refresh` at the revocation endpoint, when there is one and a token to revoke.
    async fn revoke(&self, refresh: Option<RefreshToken>) -> Result<(), Error> {
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

    /// Whether `sign_out` was called.
    pub fn is_signed_out(&self) -> bool {
        self.signed_out.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn signed_out_error() -> Error {
        Error::config("this session was signed out").with_hint("the user has to sign in again")
    }

    async fn accept(&self, answer: TokenResponse) -> Result<AccessToken, Error> {
        let (token, refresh, _) = answer.into_parts();
        if self.is_signed_out() {
            // The answer to a request sent before the sign-out: nothing of it is kept.
            let _ = self.revoke(refresh).await;
            return Err(Self::signed_out_error());
        }
        let Some(refresh) = refresh else {
            return Ok(token);
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
            if self.is_signed_out() {
                // Signed out while saving: the store is cleared again.
                let _ = store.clear().await;
            }
        }
        if self.is_signed_out() {
            let late = self
                .refresh
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let _ = self.revoke(late).await;
            return Err(Self::signed_out_error());
        }
        Ok(token)
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
        self.accept(answer).await
    }
}

#[async_trait]
impl TokenSource for GrantSource {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        if self.is_signed_out() {
            return Err(Self::signed_out_error());
        }
        if let Some(refresh) = self.refresh_token() {
            match self.refresh_with(&refresh).await {
                Ok(token) => return Ok(token),
                // Refused because the sign-out revoked the grant meanwhile: say so.
                Err(_) if self.is_signed_out() => return Err(Self::signed_out_error()),
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
        self.accept(answer).await
    }

    fn name(&self) -> &str {
        self.name
    }

    /// Everything a server could see that makes tokens differ: the endpoint URL (without user
    /// info; its query and user info as secret parts), the client id and authentication
    /// style, the client certificate's thumbprint, the DPoP key's, every extra parameter and
    /// header name, the grant and each of its public parameters (scopes as a sorted set,
    /// repeated ones such as `resource` and `audience` as sorted sets, a username); the
    /// client secret, header values and the grant's secret parameters (a password) as secret
    /// parts. A refresh-only source (a user's session) is marked
    /// [delegated](TokenIdentity::delegated): its refresh token rotates, so nothing here names
    /// its user, and a shared cache must be given one.
    ///
    /// `None` when the endpoint authenticates with a client certificate that its own
    /// [`transport`](crate::TokenEndpointBuilder::transport) presents and no one named: name
    /// it with [`client_certificate_pem`](crate::TokenEndpointBuilder::client_certificate_pem).
    fn identity(&self) -> Option<TokenIdentity> {
        let mut identity = self.endpoint.token_identity(self.name)?;
        let Some(grant) = &self.grant else {
            return Some(identity.delegated());
        };
        let request = grant.request();
        if let Some(assertion) = request.assertion {
            for (name, value) in assertion.identity() {
                identity = identity.part(format!("assertion:{name}"), value);
            }
        }
        let mut public = Vec::new();
        for (name, value) in &request.params {
            if request.secret_values.contains(value) {
                identity = identity.secret(format!("{name}:{value}"));
            } else if *name == "scope" {
                // The same scopes in another order are the same token.
                public.extend(value.split_whitespace().map(|scope| ("scope", scope)));
            } else {
                public.push((*name, *value));
            }
        }
        for (name, values) in grouped(public.into_iter()) {
            identity = identity.part(format!("grant:{name}"), values);
        }
        Some(identity)
    }

    fn shared_state(&self) -> Option<SecretString> {
        self.refresh_token()
            .map(|refresh| SecretString::from(refresh.expose_secret().to_owned()))
    }

    fn adopt_shared_state(&self, state: SecretString) {
        if self.is_signed_out() {
            return;
        }
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

#[cfg(test)]
mod tests;
