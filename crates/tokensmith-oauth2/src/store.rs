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
            token: token.secret().clone(),
            token_type: token.token_type().as_str().to_owned(),
            expires_at: token.expires_in().map(|left| SystemTime::now() + left),
            scopes: token.scopes().to_vec(),
        });
        Self {
            refresh_token,
            access_token,
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
}

#[async_trait]
impl<S: TokenStore + ?Sized> TokenStore for Arc<S> {
    async fn load(&self) -> Result<Option<StoredTokens>, Error> {
        (**self).load().await
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), Error> {
        (**self).save(tokens).await
    }
}

/// A store in memory, for tests and for processes that sign in every time.
#[derive(Default)]
pub struct MemoryStore {
    tokens: Mutex<Option<StoredTokens>>,
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
}

/// A JSON file, written atomically (a temporary file renamed over it) and readable by its
/// owner only (mode 0600 on Unix). A file that exists but cannot be read as tokens is an
/// error naming the file; it is never silently replaced.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

/// The file format's version, so a later format can tell old files apart.
const FORMAT: u64 = 1;

impl FileStore {
    /// A store at `path` (created on first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn corrupt(&self, why: impl fmt::Display) -> Error {
        Error::config(format!(
            "token store {} is corrupt: {why}",
            self.path.display()
        ))
        .with_hint(
            "delete the file to sign in again, or restore it from a backup; it was left as it is",
        )
    }

    fn decode(&self, bytes: &[u8]) -> Result<StoredTokens, Error> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| self.corrupt(e))?;
        if value.get("format").and_then(Value::as_u64) != Some(FORMAT) {
            return Err(self.corrupt(format!("unknown format (expected {FORMAT})")));
        }
        let Some(refresh) = value.get("refresh_token").and_then(Value::as_str) else {
            return Err(self.corrupt("no refresh_token"));
        };
        let access_token = match value.get("access_token") {
            None | Some(Value::Null) => None,
            Some(access) => {
                let Some(token) = access.get("token").and_then(Value::as_str) else {
                    return Err(self.corrupt("access_token has no token"));
                };
                Some(StoredAccessToken {
                    token: token.into(),
                    token_type: access
                        .get("token_type")
                        .and_then(Value::as_str)
                        .unwrap_or("Bearer")
                        .to_owned(),
                    expires_at: access
                        .get("expires_at")
                        .and_then(Value::as_u64)
                        .map(|secs| UNIX_EPOCH + Duration::from_secs(secs)),
                    scopes: access
                        .get("scopes")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            }
        };
        Ok(StoredTokens {
            refresh_token: RefreshToken::new(refresh),
            access_token,
        })
    }

    fn encode(tokens: &StoredTokens) -> Vec<u8> {
        let access = tokens.access_token.as_ref().map(|a| {
            json!({
                "token": a.token.expose_secret(),
                "token_type": a.token_type,
                "expires_at": a.expires_at.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()),
                "scopes": a.scopes,
            })
        });
        json!({
            "format": FORMAT,
            "refresh_token": tokens.refresh_token.expose_secret(),
            "access_token": access,
        })
        .to_string()
        .into_bytes()
    }
}

#[async_trait]
impl TokenStore for FileStore {
    async fn load(&self) -> Result<Option<StoredTokens>, Error> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) => self.decode(&bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::config(format!(
                "cannot read token store {}: {e}",
                self.path.display()
            ))),
        }
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), Error> {
        let bytes = Self::encode(tokens);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| Error::other(format!("token store write did not finish: {e}")))?
            .map_err(|e| {
                Error::config(format!(
                    "cannot write token store {}: {e}",
                    self.path.display()
                ))
            })
    }
}

/// Writes to a temporary file beside `path` (owner-only on Unix), syncs it, renames it over.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(refresh: &str) -> StoredTokens {
        let access = AccessToken::builder("canary-access-4d")
            .expires_in(Duration::from_secs(3600))
            .scopes(["a"])
            .build()
            .unwrap();
        StoredTokens::new(RefreshToken::new(refresh), Some(&access))
    }

    #[tokio::test]
    async fn file_store_round_trips_atomically_with_owner_only_mode() {
        let dir = tokensmith_testkit::TempDir::new("roundtrip").unwrap();
        let store = FileStore::new(dir.path().join("tokens.json"));
        assert!(
            store.load().await.unwrap().is_none(),
            "no file yet is not an error"
        );
        store.save(&tokens("canary-refresh-1")).await.unwrap();
        store.save(&tokens("canary-refresh-2")).await.unwrap();
        let loaded = store.load().await.unwrap().unwrap();
        assert_eq!(loaded.refresh_token.expose_secret(), "canary-refresh-2");
        let access = loaded.live_access_token(Duration::from_secs(60)).unwrap();
        assert_eq!(access.scopes(), ["a"]);
        assert!(access.expires_in().unwrap() > Duration::from_secs(3500));
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = format!("{loaded:?} {store:?}");
        assert!(!text.contains("canary-"), "{text}");
    }

    #[tokio::test]
    async fn a_corrupt_file_is_an_error_and_is_left_alone() {
        let dir = tokensmith_testkit::TempDir::new("corrupt").unwrap();
        let path = dir.path().join("tokens.json");
        for bad in [
            "{not json",
            "{\"format\":1}",
            "{\"format\":9,\"refresh_token\":\"x\"}",
            "",
        ] {
            std::fs::write(&path, bad).unwrap();
            let err = FileStore::new(&path).load().await.unwrap_err();
            assert!(err.to_string().contains("is corrupt"), "{bad}: {err}");
            assert!(err.hint().unwrap().contains("delete the file"));
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                bad,
                "never silently reset"
            );
        }
    }

    #[tokio::test]
    async fn expired_stored_access_tokens_are_not_used() {
        let store = MemoryStore::new();
        let mut stored = tokens("r");
        if let Some(access) = stored.access_token.as_mut() {
            access.expires_at = Some(SystemTime::now() + Duration::from_secs(30));
        }
        store.save(&stored).await.unwrap();
        let loaded = store.load().await.unwrap().unwrap();
        assert!(loaded.live_access_token(Duration::from_secs(60)).is_none());
        assert!(loaded.live_access_token(Duration::from_secs(10)).is_some());
    }
}
