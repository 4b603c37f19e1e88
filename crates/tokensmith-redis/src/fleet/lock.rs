//! The fleet's lock: taken with SET NX and a lease, renewed while its holder fetches, released only by its holder.

use std::time::Duration;

use tokensmith_core::{AccessToken, Error, TokenSource};

use super::FleetSource;
use super::stored::millis;

/// Compare-and-delete: releases the lock only if this replica still holds it.
pub(super) const UNLOCK: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#;

/// Compare-and-extend: renews the lease only if this replica still holds the lock.
pub(super) const RENEW: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end"#;

/// A random owner for the lock, so that only its holder releases it.
pub(super) fn owner_token() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::other(format!("no random bytes: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl<S: TokenSource> FleetSource<S> {
    /// Takes the lock for `owner`; a lock that already holds `owner` is this replica's own
    /// (a `SET` retried after a dropped connection may have been applied the first time).
    pub(super) async fn try_lock(&self, owner: &str) -> Result<bool, Error> {
        let lease = millis(self.cache.inner.lease);
        let set: Option<String> = self
            .cache
            .run(
                redis::cmd("SET")
                    .arg(&self.lock_key)
                    .arg(owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(lease),
            )
            .await?;
        if set.is_some() {
            return Ok(true);
        }
        let holder: Option<String> = self
            .cache
            .run(redis::cmd("GET").arg(&self.lock_key))
            .await?;
        Ok(holder.as_deref() == Some(owner))
    }

    /// Releases the lock if this replica still holds it. Where the server refuses scripts,
    /// the lock is left to expire with its lease: waiters take the token as soon as it is
    /// written, and wait no longer than their lock wait otherwise.
    pub(super) async fn unlock(&self, owner: &[u8]) {
        let script = redis::Script::new(UNLOCK);
        let _: Result<Option<i64>, Error> = self
            .cache
            .run_script(&script, &[&self.lock_key], &[owner])
            .await;
    }

    /// Extends the lease of the lock `owner` holds; false when it is no longer held.
    pub(super) async fn renew(&self, owner: &str) -> bool {
        let script = redis::Script::new(RENEW);
        let lease = millis(self.cache.inner.lease).to_string();
        let renewed: Result<Option<i64>, Error> = self
            .cache
            .run_script(
                &script,
                &[&self.lock_key],
                &[owner.as_bytes(), lease.as_bytes()],
            )
            .await;
        !matches!(renewed, Ok(Some(0)))
    }

    /// Runs the source's fetch, renewing the lock's lease every third of it while it runs.
    pub(super) async fn fetch_renewing(&self, owner: &str) -> Result<AccessToken, Error> {
        // Often enough that a waiter sees the lease renewed within its lock wait, and so
        // tells a live holder from a dead one.
        let inner = &self.cache.inner;
        let period = (inner.lease / 3)
            .min(inner.lock_wait / 3)
            .max(Duration::from_millis(1));
        let fetch = self.source.fetch();
        tokio::pin!(fetch);
        loop {
            match tokio::time::timeout(period, &mut fetch).await {
                Ok(result) => return result,
                Err(_) => {
                    if !self.renew(owner).await {
                        tracing::warn!(
                            target: "tokensmith::redis",
                            source = self.source.name(),
                            "the fetch lock was lost while fetching; another replica may fetch too"
                        );
                    }
                }
            }
        }
    }
}
