//! Keeping the refresh token (and the access token) across restarts.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::{Value, json};
use tokensmith_core::{AccessToken, Error, ExposeSecret, TokenType};

use crate::RefreshToken;

/// Tokens as a store keeps them.
#[derive(Clone)]
#[non_exhaustive]
pub struct StoredTokens {
    /// The refresh token.
    pub refresh_token: RefreshToken,
    /// The last access token and its wall-clock expiry, if kept.
    pub access_token: Option<StoredAccessToken>,
    /// When the refresh token was received: of two writes, the later-received token wins, so
    /// a rotated refresh token is never replaced by the one it rotated out.
    pub received_at: SystemTime,
}

/// An access token as a store keeps it: with a wall-clock expiry, since instants do not
/// survive a restart.
#[derive(Clone)]
#[non_exhaustive]
pub struct StoredAccessToken {
    /// The token.
    pub token: tokensmith_core::SecretString,
    /// Its type (`Bearer`).
    pub token_type: String,
    /// When it expires, if it does.
    pub expires_at: Option<SystemTime>,
    /// Granted scopes.
    pub scopes: Vec<String>,
}

impl StoredTokens {
    /// A refresh token, and optionally the access token that came with it.
    pub fn new(refresh_token: RefreshToken, access_token: Option<&AccessToken>) -> Self {
        let access_token = access_token.map(|token| StoredAccessToken {
            token: tokensmith_core::SecretString::from(token.secret().expose_secret()),
            token_type: token.token_type().as_str().to_owned(),
            expires_at: token.expires_in().map(|left| SystemTime::now() + left),
            scopes: token.scopes().to_vec(),
        });
        Self {
            refresh_token,
            access_token,
            received_at: SystemTime::now(),
        }
    }

    /// The stored access token, if it is still valid for at least `margin`.
    pub fn live_access_token(&self, margin: Duration) -> Option<AccessToken> {
        let stored = self.access_token.as_ref()?;
        let mut builder = AccessToken::builder(stored.token.expose_secret())
            .token_type(TokenType::parse(&stored.token_type))
            .scopes(stored.scopes.iter().cloned());
        if let Some(at) = stored.expires_at {
            let left = at.duration_since(SystemTime::now()).ok()?;
            if left <= margin {
                return None;
            }
            builder = builder.expires_in(left);
        }
        builder.build().ok()
    }
}

impl fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredTokens")
            .field("refresh_token", &self.refresh_token)
            .field("has_access_token", &self.access_token.is_some())
            .finish()
    }
}

/// Where a provider keeps its tokens between runs. It loads once at start and saves after
/// every answer that brings a new refresh token.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The stored tokens, or `None` when nothing is stored yet. A store that cannot be read
    /// is an error, never a silent `None`.
    async fn load(&self) -> Result<Option<StoredTokens>, Error>;

    /// Replaces the stored tokens.
    async fn save(&self, tokens: &StoredTokens) -> Result<(), Error>;

    /// Forgets the stored tokens (on sign-out). The default does nothing, for stores that
    /// cannot; a store that can should, so a revoked refresh token is not loaded again.
    async fn clear(&self) -> Result<(), Error> {
        Ok(())
    }

    /// The client registered with `issuer` (RFC 7591), if one is kept. The default keeps none,
    /// so a client is registered again in each process.
    async fn load_client(&self, issuer: &str) -> Result<Option<StoredClient>, Error> {
        let _ = issuer;
        Ok(None)
    }

    /// Keeps a registered client, replacing one kept for the same issuer. The default keeps
    /// none.
    async fn save_client(&self, client: &StoredClient) -> Result<(), Error> {
        let _ = client;
        Ok(())
    }
}

#[async_trait]
impl<S: TokenStore + ?Sized> TokenStore for Arc<S> {
    async fn load(&self) -> Result<Option<StoredTokens>, Error> {
        (**self).load().await
    }

    async fn clear(&self) -> Result<(), Error> {
        (**self).clear().await
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), Error> {
        (**self).save(tokens).await
    }

    async fn load_client(&self, issuer: &str) -> Result<Option<StoredClient>, Error> {
        (**self).load_client(issuer).await
    }

    async fn save_client(&self, client: &StoredClient) -> Result<(), Error> {
        (**self).save_client(client).await
    }
}

/// A store in memory, for tests and for processes that sign in every time.
#[derive(Default)]
pub struct MemoryStore {
    tokens: Mutex<Option<StoredTokens>>,
    clients: Mutex<Vec<StoredClient>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("MemoryStore")
            .field("tokens", &*held)
            .finish()
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn load(&self) -> Result<Option<StoredTokens>, Error> {
        Ok(self
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), Error> {
        *self.tokens.lock().unwrap_or_else(PoisonError::into_inner) = Some(tokens.clone());
        Ok(())
    }

    async fn clear(&self) -> Result<(), Error> {
        *self.tokens.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(())
    }

    async fn load_client(&self, issuer: &str) -> Result<Option<StoredClient>, Error> {
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(clients.iter().find(|c| c.issuer == issuer).cloned())
    }

    async fn save_client(&self, client: &StoredClient) -> Result<(), Error> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        clients.retain(|c| c.issuer != client.issuer);
        clients.push(client.clone());
        Ok(())
    }
}

mod client;
mod file;

pub use self::client::StoredClient;

pub use self::file::FileStore;

#[cfg(test)]
mod tests;
