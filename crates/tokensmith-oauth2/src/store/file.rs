//! `FileStore`: tokens kept in a file, written atomically, locked against other processes, owned by the user alone.

use super::*;

/// A JSON file, readable by its owner only, that survives crashes and concurrent writers.
///
/// - A save writes a temporary file created exclusively beside the target (mode 0600 from
///   birth, never through a symlink), syncs it, renames it over the target and syncs the
///   directory: a crash leaves the old file or the new one, never half; a failed write removes
///   its temporary file.
/// - Saves and `clear` from several threads or processes take an advisory lock on
///   `<file>.lock` in turn (opened without following a symlink, so no file is created
///   elsewhere; a wait longer than 10 s is an error naming the lock file); a save whose
///   refresh token was received before the stored one is skipped, so a rotated refresh token
///   is never lost to an older write that arrives late.
/// - A load reads at most 64 KiB, refuses a file that others can read or that another user
///   owns (Unix), and reports
///   anything it cannot read as tokens as a "corrupt" error naming the file, which it leaves
///   as it is.
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
        let received_at = match value.get("received_at") {
            None | Some(Value::Null) => UNIX_EPOCH,
            Some(nanos) => nanos
                .as_u64()
                .and_then(|n| UNIX_EPOCH.checked_add(Duration::from_nanos(n)))
                .ok_or_else(|| self.corrupt("received_at is not a time"))?,
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
                    expires_at: match access.get("expires_at") {
                        None | Some(Value::Null) => None,
                        Some(secs) => Some(
                            secs.as_u64()
                                .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
                                .ok_or_else(|| self.corrupt("expires_at is not a time"))?,
                        ),
                    },
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
            received_at,
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
        let received_at = tokens
            .received_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        json!({
            "format": FORMAT,
            "refresh_token": tokens.refresh_token.expose_secret(),
            "access_token": access,
            "received_at": received_at,
        })
        .to_string()
        .into_bytes()
    }
}

#[async_trait]
impl TokenStore for FileStore {
    async fn load(&self) -> Result<Option<StoredTokens>, Error> {
        let store = self.clone();
        let bytes = tokio::task::spawn_blocking(move || store.read_bounded())
            .await
            .map_err(|e| Error::other(format!("token store read did not finish: {e}")))??;
        bytes.map(|bytes| self.decode(&bytes)).transpose()
    }

    async fn save(&self, tokens: &StoredTokens) -> Result<(), Error> {
        let bytes = Self::encode(tokens);
        let received_at = tokens.received_at;
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.write_locked(&bytes, received_at))
            .await
            .map_err(|e| Error::other(format!("token store write did not finish: {e}")))?
    }

    async fn clear(&self) -> Result<(), Error> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let _lock = store.lock()?;
            match std::fs::remove_file(&store.path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(Error::config(format!(
                    "cannot remove token store {}: {e}",
                    store.path.display()
                ))),
            }
        })
        .await
        .map_err(|e| Error::other(format!("the token store task failed: {e}")))?
    }

    /// Registered clients live in `<file>.clients`, a JSON object of records by issuer, kept
    /// like the token file (owner-only, written atomically under its own lock).
    async fn load_client(&self, issuer: &str) -> Result<Option<StoredClient>, Error> {
        let clients = self.clients();
        let reader = clients.clone();
        let bytes = tokio::task::spawn_blocking(move || reader.read_bounded())
            .await
            .map_err(|e| Error::other(format!("token store read did not finish: {e}")))??;
        let Some(bytes) = bytes else {
            return Ok(None);
        };
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| clients.corrupt(e))?;
        value.get(issuer).map(StoredClient::from_json).transpose()
    }

    async fn save_client(&self, client: &StoredClient) -> Result<(), Error> {
        let clients = self.clients();
        let issuer = client.issuer.clone();
        let record = client.to_json();
        tokio::task::spawn_blocking(move || {
            let _lock = clients.lock()?;
            let mut all = match clients.read_bounded()? {
                Some(bytes) => serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!({})),
                None => json!({}),
            };
            all[issuer] = record;
            write_atomically(clients.dir(), &clients.path, all.to_string().as_bytes()).map_err(
                |e| {
                    Error::config(format!(
                        "cannot write token store {}: {e}",
                        clients.path.display()
                    ))
                },
            )
        })
        .await
        .map_err(|e| Error::other(format!("token store write did not finish: {e}")))?
    }
}

impl FileStore {
    /// The store of registered clients beside this one.
    fn clients(&self) -> FileStore {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".clients");
        FileStore::new(name)
    }
}

/// The longest wait for another writer's lock on the token file.
pub(super) const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The largest token file read; a refresh token and an access token take a few KiB.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Writes a temporary file beside `path` (created exclusively, owner-only from birth, removed
/// if the write fails), syncs it, renames it over `path`, and syncs the directory so that
/// the rename survives a crash.
pub(super) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = tempfile::Builder::new()
        .prefix(".tokensmith-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

impl FileStore {
    /// The file's bytes, or `None` when there is no file.
    fn read_bounded(&self) -> Result<Option<Vec<u8>>, Error> {
        use std::io::Read;
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::config(format!(
                    "cannot read token store {}: {e}",
                    self.path.display()
                )));
            }
        };
        let metadata = file.metadata().map_err(|e| {
            Error::config(format!(
                "cannot read token store {}: {e}",
                self.path.display()
            ))
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            let owner = rustix::process::geteuid().as_raw();
            if metadata.uid() != owner {
                return Err(Error::config(format!(
                    "token store {} belongs to another user (uid {}, this process runs as {owner}); its tokens were not used",
                    self.path.display(),
                    metadata.uid()
                ))
                .with_hint(
                    "a token file someone else owns may have been planted or read by them: \
                     remove it and sign in again",
                ));
            }
            let mode = metadata.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(Error::config(format!(
                    "token store {} can be read by other users (mode {:o}); its tokens were not used",
                    self.path.display(),
                    mode & 0o777
                ))
                .with_hint(format!(
                    "run `chmod 600 {}`, and consider the refresh token in it compromised: sign in again",
                    self.path.display()
                )));
            }
        }
        if metadata.len() > MAX_FILE_BYTES {
            return Err(self.corrupt(format!("it is larger than {MAX_FILE_BYTES} bytes")));
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Error::config(format!(
                    "cannot read token store {}: {e}",
                    self.path.display()
                ))
            })?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(self.corrupt(format!("it is larger than {MAX_FILE_BYTES} bytes")));
        }
        Ok(Some(bytes))
    }

    /// The directory the file is in.
    fn dir(&self) -> &Path {
        self.path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
    }

    /// `<file>.lock`, opened (created owner-only if missing, never through a symlink, so no
    /// file is created elsewhere) and locked; waiting for another writer is bounded.
    pub(super) fn lock(&self) -> Result<std::fs::File, Error> {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = self.dir().join(format!("{name}.lock"));
        let failed = |e: std::io::Error| {
            Error::config(format!("cannot lock token store {}: {e}", path.display()))
        };
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
            options.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        }
        let lock = options.open(&path).map_err(failed)?;
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match lock.try_lock() {
                Ok(()) => return Ok(lock),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::config(format!(
                        "token store {} stayed locked for {LOCK_WAIT:?}",
                        path.display()
                    ))
                    .with_hint(
                        "another process holds the lock file and does not release it: a hung \
                         process of this application, or one on a network file system that \
                         does not release locks",
                    ));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(failed(e)),
            }
        }
    }

    /// Writes under the lock, unless the stored refresh token was received later.
    fn write_locked(&self, bytes: &[u8], received_at: SystemTime) -> Result<(), Error> {
        let _lock = self.lock()?;
        if let Ok(Some(stored)) = self.read_bounded()
            && self
                .decode(&stored)
                .is_ok_and(|stored| stored.received_at > received_at)
        {
            tracing::debug!(
                target: "tokensmith::oauth2",
                path = %self.path.display(),
                "a newer refresh token is already stored; this older one is not written"
            );
            return Ok(());
        }
        write_atomically(self.dir(), &self.path, bytes).map_err(|e| {
            Error::config(format!(
                "cannot write token store {}: {e}",
                self.path.display()
            ))
        })
        // The lock is released when `_lock` is dropped.
    }
}
