//! What the fleet keeps in Redis: tokens sealed with their expiry on the fleet's clock, the shared backoff, a session's state.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokensmith_core::{AccessToken, Error, ExposeSecret, SecretString, TokenSource, TokenType};
use tokio::time::Instant;

use super::{FIRST_POLL, FleetSource, MAX_POLL};

/// The fleet's one clock: Redis's `TIME`, read in a round trip the replica makes anyway, and
/// carried forward on this replica's monotonic clock. No replica's wall clock enters what the
/// fleet stores, so replicas whose clocks disagree agree on every expiry.
#[derive(Debug, Clone, Copy)]
pub(super) struct FleetClock {
    /// Redis's time, in milliseconds since the Unix epoch, when `at` was read.
    pub(super) redis_ms: u64,
    pub(super) at: Instant,
}

impl FleetClock {
    pub(super) fn from_time((seconds, micros): (u64, u64)) -> Self {
        Self {
            redis_ms: seconds.saturating_mul(1000).saturating_add(micros / 1000),
            at: Instant::now(),
        }
    }

    /// Redis's time now.
    pub(super) fn now_ms(&self) -> u64 {
        self.redis_ms.saturating_add(millis(self.at.elapsed()))
    }
}

/// A backoff the fleet shares: until when, after how many failures in a row, and why.
pub(super) struct FleetBackoff {
    pub(super) until_ms: u64,
    pub(super) failures: u32,
    pub(super) message: String,
}

/// The longest the fleet backs off after failures without a `Retry-After`, and the longest
/// `Retry-After` it honours.
pub(super) const MAX_FLEET_BACKOFF: Duration = Duration::from_secs(300);

impl FleetBackoff {
    /// What a replica is told while the fleet waits (`now_ms` on the fleet's clock).
    pub(super) fn error(&self, now_ms: u64) -> Error {
        let left = Duration::from_millis(self.until_ms.saturating_sub(now_ms));
        Error::other(format!(
            "the fleet is waiting {left:?} before asking the token endpoint again, after {} \
             failure(s) in a row; last: {}",
            self.failures, self.message
        ))
        .with_retry_after(Some(left))
        .with_hint(
            "one replica's request failed with a temporary error (429, 503, a timeout); the \
             fleet honours its Retry-After, or backs off, as one",
        )
    }
}

pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The token as the fleet keeps it: when it was issued and when it expires, on the fleet's
/// clock (Redis's), so that a replica reading it knows its whole lifetime (for its own skew
/// and refresh window) and its expiry, whatever its own wall clock says.
pub(super) fn encode(token: &AccessToken, clock: FleetClock) -> Vec<u8> {
    let now = clock.now_ms();
    let issued = now.saturating_sub(millis(token.issued_at().elapsed()));
    let expires = token
        .expires_in()
        .map(|left| now.saturating_add(millis(left)));
    json!({
        "token": token.secret().expose_secret(),
        "type": token.token_type().as_str(),
        "issued_at_ms": issued,
        "expires_at_ms": expires,
        "scopes": token.scopes(),
    })
    .to_string()
    .into_bytes()
}

pub(super) fn decode(plain: &[u8], clock: FleetClock) -> Option<AccessToken> {
    let value: Value = serde_json::from_slice(plain).ok()?;
    let now = clock.now_ms();
    let issued = value.get("issued_at_ms")?.as_u64()?.min(now);
    let age = Duration::from_millis(now - issued);
    let local_issue = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
    let mut builder = AccessToken::builder(value.get("token")?.as_str()?)
        .token_type(TokenType::parse(value.get("type")?.as_str()?))
        .issued_at(local_issue.into_std().into())
        .scopes(
            value
                .get("scopes")?
                .as_array()?
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        );
    if let Some(at) = value.get("expires_at_ms").and_then(Value::as_u64) {
        builder = builder.expires_in(Duration::from_millis(at.saturating_sub(issued)));
    }
    builder.build().ok()
}

impl<S: TokenSource> FleetSource<S> {
    pub(super) fn open_backoff(&self, sealed: &[u8]) -> Option<FleetBackoff> {
        let plain = self.cache.inner.key.open(&self.backoff_key, sealed)?;
        let value: Value = serde_json::from_slice(&plain).ok()?;
        let backoff = FleetBackoff {
            until_ms: value.get("until_ms")?.as_u64()?,
            failures: u32::try_from(value.get("failures")?.as_u64()?).ok()?,
            message: value.get("message")?.as_str()?.to_owned(),
        };
        Some(backoff)
    }

    /// After a failed fetch for the fleet: the fleet waits what the server asked
    /// (`Retry-After`, up to five minutes), or 1 s doubling to five minutes with the failures
    /// in a row, before any replica asks again. Final errors (a wrong secret) are not shared:
    /// each replica's own cache backs off from those.
    pub(super) async fn share_backoff(&self, error: &Error, previous: u32, clock: FleetClock) {
        if !error.is_retryable() {
            return;
        }
        let failures = previous.saturating_add(1);
        let delay = error
            .retry_after()
            .unwrap_or_else(|| Duration::from_secs(1u64 << (failures - 1).min(9)))
            .min(MAX_FLEET_BACKOFF);
        if delay.is_zero() {
            return;
        }
        let until_ms = clock.now_ms().saturating_add(millis(delay));
        let value = json!({
            "until_ms": until_ms,
            "failures": failures,
            "message": error.to_string(),
        })
        .to_string();
        let Ok(sealed) = self
            .cache
            .inner
            .key
            .seal(&self.backoff_key, value.as_bytes())
        else {
            return;
        };
        let written: Result<(), Error> = self
            .cache
            .run(
                redis::cmd("SET")
                    .arg(&self.backoff_key)
                    .arg(sealed)
                    .arg("PX")
                    // Kept past the wait, so that the next failure backs off longer.
                    .arg(millis(delay + MAX_FLEET_BACKOFF)),
            )
            .await;
        if written.is_ok() {
            tracing::info!(
                target: "tokensmith::redis",
                source = self.source.name(),
                failures,
                wait_ms = millis(delay),
                "the token endpoint failed; the whole fleet waits before asking again"
            );
        }
    }

    /// The generation and the state in a sealed state value, if it opens and reads.
    pub(super) fn open_state(&self, sealed: &[u8]) -> Option<(u64, SecretString)> {
        let plain = zeroize::Zeroizing::new(self.cache.inner.key.open(&self.state_key, sealed)?);
        let value: Value = serde_json::from_slice(&plain).ok()?;
        let generation = value.get("generation")?.as_u64()?;
        let state = value.get("state")?.as_str()?;
        Some((generation, SecretString::from(state.to_owned())))
    }

    /// Writes the source's state with the next generation, confirmed: tries again, each try
    /// bounded by the command timeout, for up to the lock wait (a slow or paused Redis), while
    /// this replica holds the lock.
    pub(super) async fn write_state(&self, state: &SecretString) -> Result<(), Error> {
        let inner = &self.cache.inner;
        let generation = self.generation.load(Ordering::Acquire) + 1;
        let plain = zeroize::Zeroizing::new(
            json!({"generation": generation, "state": state.expose_secret()}).to_string(),
        );
        let sealed = inner.key.seal(&self.state_key, plain.as_bytes())?;
        let mut last = None;
        let deadline = Instant::now() + inner.lock_wait;
        let mut pause = FIRST_POLL;
        while Instant::now() < deadline {
            let written: Result<(), Error> = self
                .cache
                .run(
                    redis::cmd("SET")
                        .arg(&self.state_key)
                        .arg(&sealed)
                        .arg("PX")
                        .arg(millis(inner.state_ttl)),
                )
                .await;
            match written {
                Ok(()) => {
                    self.generation.store(generation, Ordering::Release);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_POLL);
        }
        Err(last.unwrap_or_else(|| Error::other("Redis: the state was not written")))
    }

    pub(super) async fn write(&self, token: &AccessToken, clock: FleetClock) -> Result<(), Error> {
        let inner = &self.cache.inner;
        if let Some(state) = self.source.shared_state()
            && let Err(e) = self.write_state(&state).await
        {
            self.state_unconfirmed.store(true, Ordering::Release);
            return Err(e);
        }
        // The skew, up to a tenth of what is left (as the in-memory cache does).
        let Some(ttl) = token
            .expires_in()
            .map(|left| left.saturating_sub(inner.skew.min(left / 10)))
        else {
            // No stated expiry: kept for the default lifetime, and replaced on the next fetch.
            return self.put(token, inner.default_lifetime, clock).await;
        };
        if ttl.is_zero() {
            return Ok(());
        }
        self.put(token, ttl, clock).await
    }

    pub(super) async fn put(
        &self,
        token: &AccessToken,
        ttl: Duration,
        clock: FleetClock,
    ) -> Result<(), Error> {
        let sealed = self
            .cache
            .inner
            .key
            .seal(&self.token_key, &encode(token, clock))?;
        let _: () = self
            .cache
            .run(
                redis::cmd("SET")
                    .arg(&self.token_key)
                    .arg(sealed)
                    .arg("PX")
                    .arg(millis(ttl).max(1)),
            )
            .await?;
        Ok(())
    }
}
