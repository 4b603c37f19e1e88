//! A token source shared by a fleet: Redis first, one replica fetching under a lock, the others
//! waiting for what it writes.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokensmith_core::{
    AccessToken, Error, ExposeSecret, SecretString, TokenIdentity, TokenSource, TokenType,
};
use tokio::time::Instant;

use crate::RedisCache;

/// Compare-and-delete: releases the lock only if this replica still holds it.
const UNLOCK: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) else return 0 end"#;

/// Compare-and-extend: renews the lease only if this replica still holds the lock.
const RENEW: &str = r#"if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) else return 0 end"#;

/// What one look at Redis found.
struct Look {
    token: Option<AccessToken>,
    lock: Lock,
    backoff: Option<FleetBackoff>,
    clock: FleetClock,
}

/// What a look at the lock found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Lock {
    Free,
    /// Held, and expiring within the lease: in this many milliseconds.
    Held(i64),
    /// Held with no expiry, or one beyond the lease: its holder cannot be trusted to release
    /// it, and it would hold the fleet up; the value it holds.
    Broken(Vec<u8>),
}

/// Two values of one `MGET`.
type TwoValues = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Three values of one `MGET`.
type ThreeValues = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

/// The longest the fleet backs off after failures without a `Retry-After`, and the longest
/// `Retry-After` it honours.
const MAX_FLEET_BACKOFF: Duration = Duration::from_secs(300);

impl FleetBackoff {
    /// What a replica is told while the fleet waits (`now_ms` on the fleet's clock).
    fn error(&self, now_ms: u64) -> Error {
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

/// The fleet's one clock: Redis's `TIME`, read in a round trip the replica makes anyway, and
/// carried forward on this replica's monotonic clock. No replica's wall clock enters what the
/// fleet stores, so replicas whose clocks disagree agree on every expiry.
#[derive(Debug, Clone, Copy)]
struct FleetClock {
    /// Redis's time, in milliseconds since the Unix epoch, when `at` was read.
    redis_ms: u64,
    at: Instant,
}

impl FleetClock {
    fn from_time((seconds, micros): (u64, u64)) -> Self {
        Self {
            redis_ms: seconds.saturating_mul(1000).saturating_add(micros / 1000),
            at: Instant::now(),
        }
    }

    /// Redis's time now.
    fn now_ms(&self) -> u64 {
        self.redis_ms.saturating_add(millis(self.at.elapsed()))
    }
}

/// A backoff the fleet shares: until when, after how many failures in a row, and why.
struct FleetBackoff {
    until_ms: u64,
    failures: u32,
    message: String,
}

/// The shortest remaining lifetime worth reading from Redis.
const MIN_REMAINING: Duration = Duration::from_secs(1);

/// The longest a replica waits for a holder that keeps renewing its lease (a slow endpoint,
/// a `Retry-After` honoured inside its fetch): below the cache's 30 s load timeout.
const MAX_LIVE_WAIT: Duration = Duration::from_secs(25);

/// The first and longest pause between looks while another replica fetches.
const FIRST_POLL: Duration = Duration::from_millis(10);
const MAX_POLL: Duration = Duration::from_millis(200);

/// A [`TokenSource`] whose tokens the fleet shares through Redis; wrap it in
/// [`Cached`](tokensmith_core::Cached), whose hits never reach Redis.
///
/// On a fetch (a miss in memory, a refresh ahead, a rejected token) it reads Redis: a token
/// there that this replica has not handed out yet is taken as it is. Otherwise one replica
/// takes the lock (`SET NX PX` with a random owner), reads again, fetches from the source,
/// writes the token sealed with a TTL of its remaining lifetime minus the skew (and the
/// source's shared state, a rotating refresh token, before unlocking), and releases the lock
/// with a compare-and-delete. The others poll (10 ms doubling to 200 ms, for at most the lock
/// lease) and take what it wrote. A Redis error or timeout makes that fetch a local one.
pub struct FleetSource<S> {
    cache: RedisCache,
    token_key: String,
    lock_key: String,
    state_key: String,
    backoff_key: String,
    source: S,
    /// A fingerprint of the token last handed out: the one a fetch must replace.
    last: Mutex<Option<u64>>,
    fingerprints: RandomState,
    stats: Counters,
    /// Whether fetching alone after waiting was logged already (once per source).
    waited_out: std::sync::atomic::AtomicBool,
    /// The generation of the shared state this replica holds (adopted or written); 0: none.
    generation: AtomicU64,
    /// Set when the state of the fetch just made could not be written: the lock is kept.
    state_unconfirmed: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct Counters {
    redis_hits: AtomicU64,
    fetches: AtomicU64,
    waits: AtomicU64,
    alone: AtomicU64,
}

/// What a [`FleetSource`] source has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FleetStats {
    /// Tokens taken from Redis (another replica fetched them).
    pub redis_hits: u64,
    /// Fetches from the source made by this replica for the fleet, under the lock.
    pub fetches: u64,
    /// Fetches that waited for another replica.
    pub waits: u64,
    /// Fetches from the source made without the fleet (Redis down, or the wait ran out).
    pub alone: u64,
}

impl<S: TokenSource> FleetSource<S> {
    pub(crate) fn new(cache: RedisCache, name: &str, source: S) -> Self {
        let base = format!("{}:{{{name}}}", cache.inner.prefix);
        Self {
            token_key: format!("{base}:token"),
            lock_key: format!("{base}:lock"),
            state_key: format!("{base}:state"),
            backoff_key: format!("{base}:backoff"),
            cache,
            source,
            last: Mutex::new(None),
            fingerprints: RandomState::new(),
            stats: Counters::default(),
            waited_out: std::sync::atomic::AtomicBool::new(false),
            generation: AtomicU64::new(0),
            state_unconfirmed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The Redis key of the shared token (its lock and state end in `:lock` and `:state`
    /// instead of `:token`), for operators who look at Redis.
    pub fn redis_key(&self) -> &str {
        &self.token_key
    }

    /// Removes this key's token and state (a rotating refresh token) from Redis: what a
    /// user's sign-out does for the fleet, after the source's own (`GrantSource::sign_out`,
    /// which revokes the grant at the server and drops the local copies).
    pub async fn forget(&self) -> Result<(), Error> {
        let _: i64 = self
            .cache
            .run(
                redis::cmd("DEL")
                    .arg(&self.token_key)
                    .arg(&self.state_key)
                    .arg(&self.backoff_key),
            )
            .await?;
        Ok(())
    }

    /// What this replica has done.
    pub fn stats(&self) -> FleetStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FleetStats {
            redis_hits: get(&self.stats.redis_hits),
            fetches: get(&self.stats.fetches),
            waits: get(&self.stats.waits),
            alone: get(&self.stats.alone),
        }
    }

    fn fingerprint(&self, token: &AccessToken) -> u64 {
        self.fingerprints
            .hash_one(token.secret().expose_secret().as_bytes())
    }

    fn last(&self) -> Option<u64> {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember(&self, token: &AccessToken) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.fingerprint(token));
    }

    /// The token in a sealed Redis value, if it opens, lives on, and is not the one this
    /// replica is replacing.
    fn usable(&self, sealed: Option<&[u8]>, clock: FleetClock) -> Option<AccessToken> {
        let plain = self.cache.inner.key.open(&self.token_key, sealed?)?;
        let token = decode(&plain, clock)?;
        let fresh = token.expires_in().is_none_or(|left| left > MIN_REMAINING);
        (fresh && self.last() != Some(self.fingerprint(&token))).then_some(token)
    }

    /// The token, the lock's state and the fleet's backoff, in one round trip (one slot: one
    /// hash tag).
    async fn look(&self) -> Result<Look, Error> {
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("MGET")
            .arg(&self.token_key)
            .arg(&self.lock_key)
            .arg(&self.backoff_key)
            .cmd("PTTL")
            .arg(&self.lock_key)
            .cmd("TIME");
        let ((token, lock, backoff), ttl, time): (ThreeValues, i64, (u64, u64)) =
            self.cache.run_pipeline(&pipeline).await?;
        let clock = FleetClock::from_time(time);
        let backoff = backoff.and_then(|sealed| self.open_backoff(&sealed));
        let lease = i64::try_from(millis(self.cache.inner.lease)).unwrap_or(i64::MAX);
        let lock = match lock {
            None => Lock::Free,
            // -2: it expired between the two commands.
            Some(_) if ttl == -2 => Lock::Free,
            // -1: no expiry at all; or a lease longer than any this fleet sets.
            Some(value) if ttl == -1 || ttl > lease => Lock::Broken(value),
            Some(_) => Lock::Held(ttl),
        };
        Ok(Look {
            token: self.usable(token.as_deref(), clock),
            lock,
            backoff,
            clock,
        })
    }

    fn open_backoff(&self, sealed: &[u8]) -> Option<FleetBackoff> {
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
    async fn share_backoff(&self, error: &Error, previous: u32, clock: FleetClock) {
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

    /// Takes the lock for `owner`; a lock that already holds `owner` is this replica's own
    /// (a `SET` retried after a dropped connection may have been applied the first time).
    async fn try_lock(&self, owner: &str) -> Result<bool, Error> {
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
    async fn unlock(&self, owner: &[u8]) {
        let script = redis::Script::new(UNLOCK);
        let _: Result<Option<i64>, Error> = self
            .cache
            .run_script(&script, &[&self.lock_key], &[owner])
            .await;
    }

    /// Extends the lease of the lock `owner` holds; false when it is no longer held.
    async fn renew(&self, owner: &str) -> bool {
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
    async fn fetch_renewing(&self, owner: &str) -> Result<AccessToken, Error> {
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

    /// Takes a token from Redis: remembered as handed out.
    fn take(&self, token: AccessToken) -> AccessToken {
        self.stats.redis_hits.fetch_add(1, Ordering::Relaxed);
        self.remember(&token);
        token
    }

    /// Fetches without the fleet.
    async fn alone(&self) -> Result<AccessToken, Error> {
        self.stats.alone.fetch_add(1, Ordering::Relaxed);
        let token = self.source.fetch().await?;
        self.remember(&token);
        Ok(token)
    }

    /// Holding the lock: reads again, takes over the fleet's state, fetches, writes, unlocks;
    /// a retryable failure becomes the fleet's backoff (`previous` failures in a row before).
    async fn fetch_locked(
        &self,
        owner: &str,
        previous: u32,
        mut clock: FleetClock,
    ) -> Result<AccessToken, Error> {
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("MGET")
            .arg(&self.token_key)
            .arg(&self.state_key)
            .cmd("TIME");
        let current: Result<(TwoValues, (u64, u64)), Error> =
            self.cache.run_pipeline(&pipeline).await;
        if let Ok(((token, state), time)) = &current {
            clock = FleetClock::from_time(*time);
            if let Some(token) = self.usable(token.as_deref(), clock) {
                self.unlock(owner.as_bytes()).await;
                return Ok(self.take(token));
            }
            if let Some((generation, state)) = state.as_deref().and_then(|s| self.open_state(s)) {
                let held = self.generation.load(Ordering::Acquire);
                if generation >= held {
                    self.generation.store(generation, Ordering::Release);
                    self.source.adopt_shared_state(state);
                } else {
                    // Only an older value put back (by someone who can write to Redis) is
                    // older than what this replica wrote or took: its refresh token was used.
                    tracing::warn!(
                        target: "tokensmith::redis",
                        source = self.source.name(),
                        found = generation,
                        held,
                        "the fleet's state in Redis is older than this replica's; ignored"
                    );
                }
            }
        }
        self.stats.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch_renewing(owner).await;
        match &result {
            Ok(token) => {
                self.remember(token);
                if let Err(e) = self.write(token, clock).await {
                    tracing::debug!(target: "tokensmith::redis", error = %e, "could not share the new token");
                }
                if previous > 0 {
                    let _: Result<i64, Error> = self
                        .cache
                        .run(redis::cmd("DEL").arg(&self.backoff_key))
                        .await;
                }
            }
            Err(error) => self.share_backoff(error, previous, clock).await,
        }
        if self.state_unconfirmed.swap(false, Ordering::AcqRel) {
            // The next replica would refresh with the refresh token this one just used: the
            // lock stays until its lease ends, and the fleet waits for it.
            tracing::warn!(
                target: "tokensmith::redis",
                source = self.source.name(),
                "the rotated refresh token could not be written to Redis; the fetch lock is kept \
                 until its lease ends rather than handed on"
            );
        } else {
            self.unlock(owner.as_bytes()).await;
        }
        result
    }

    /// The generation and the state in a sealed state value, if it opens and reads.
    fn open_state(&self, sealed: &[u8]) -> Option<(u64, SecretString)> {
        let plain = zeroize::Zeroizing::new(self.cache.inner.key.open(&self.state_key, sealed)?);
        let value: Value = serde_json::from_slice(&plain).ok()?;
        let generation = value.get("generation")?.as_u64()?;
        let state = value.get("state")?.as_str()?;
        Some((generation, SecretString::from(state.to_owned())))
    }

    /// Writes the source's state with the next generation, confirmed: tries again, each try
    /// bounded by the command timeout, for up to the lock wait (a slow or paused Redis), while
    /// this replica holds the lock.
    async fn write_state(&self, state: &SecretString) -> Result<(), Error> {
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

    async fn write(&self, token: &AccessToken, clock: FleetClock) -> Result<(), Error> {
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

    async fn put(
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

#[async_trait]
impl<S: TokenSource> TokenSource for FleetSource<S> {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let started = Instant::now();
        let lock_wait = self.cache.inner.lock_wait;
        let mut give_up = started + lock_wait;
        // A holder that renews its lease is alive: waited for, up to this long in all.
        let live_limit = started + MAX_LIVE_WAIT;
        let mut last_ttl = None;
        let mut pause = FIRST_POLL;
        let mut waited = false;
        let provider = self.source.name();
        loop {
            let Look {
                token,
                lock,
                backoff,
                clock,
            } = match self.look().await {
                Ok(seen) => seen,
                Err(_) => return self.alone().await,
            };
            if let Some(token) = token {
                if waited {
                    crate::metrics::record_lock_wait(provider, started.elapsed());
                } else {
                    crate::metrics::count_shared_lookup(provider, true);
                }
                return Ok(self.take(token));
            }
            if !waited {
                crate::metrics::count_shared_lookup(provider, false);
            }
            let now_ms = clock.now_ms();
            if let Some(backoff) = backoff.as_ref().filter(|b| b.until_ms > now_ms) {
                return Err(backoff.error(now_ms));
            }
            if let Lock::Broken(holder) = &lock {
                tracing::warn!(
                    target: "tokensmith::redis",
                    source = self.source.name(),
                    "the fetch lock has no expiry or one beyond the lease; it is removed and this \
                     replica fetches alone"
                );
                self.unlock(holder).await;
                return self.alone().await;
            }
            if let Lock::Held(ttl) = lock {
                if last_ttl.is_some_and(|previous| ttl > previous) {
                    // Renewed since the last look: the holder is fetching, not dead.
                    give_up = give_up.max((Instant::now() + lock_wait).min(live_limit));
                }
                last_ttl = Some(ttl);
            }
            if lock == Lock::Free {
                let owner = owner_token()?;
                match self.try_lock(&owner).await {
                    Ok(true) => {
                        if waited {
                            crate::metrics::record_lock_wait(provider, started.elapsed());
                        }
                        let previous = backoff.as_ref().map_or(0, |b| b.failures);
                        return self.fetch_locked(&owner, previous, clock).await;
                    }
                    Ok(false) => {}
                    Err(_) => return self.alone().await,
                }
            }
            if !waited {
                waited = true;
                self.stats.waits.fetch_add(1, Ordering::Relaxed);
            }
            let now = Instant::now();
            if now >= give_up {
                if !self.waited_out.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "tokensmith::redis",
                        source = self.source.name(),
                        lock_wait_ms = millis(self.cache.inner.lock_wait),
                        "another replica held the fetch lock for the whole lock wait; fetching alone"
                    );
                }
                return self.alone().await;
            }
            tokio::time::sleep(pause.min(give_up - now)).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    fn name(&self) -> &str {
        self.source.name()
    }

    fn identity(&self) -> Option<TokenIdentity> {
        self.source.identity()
    }
}

impl<S: TokenSource> fmt::Debug for FleetSource<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetSource")
            .field("source", &self.source.name())
            .field("token_key", &self.token_key)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A random owner for the lock, so that only its holder releases it.
fn owner_token() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::other(format!("no random bytes: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The token as the fleet keeps it: when it was issued and when it expires, on the fleet's
/// clock (Redis's), so that a replica reading it knows its whole lifetime (for its own skew
/// and refresh window) and its expiry, whatever its own wall clock says.
fn encode(token: &AccessToken, clock: FleetClock) -> Vec<u8> {
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

fn decode(plain: &[u8], clock: FleetClock) -> Option<AccessToken> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(redis_ms: u64) -> FleetClock {
        FleetClock {
            redis_ms,
            at: Instant::now(),
        }
    }

    /// Expiry is read on the fleet's clock alone: a replica that reads 10 s of Redis time
    /// after the write sees 10 s less left and the same lifetime, whatever its wall clock.
    #[tokio::test]
    async fn expiry_travels_on_the_fleets_clock() {
        let token = AccessToken::builder("canary-fleet-clock")
            .expires_in(Duration::from_secs(3600))
            .build()
            .unwrap();
        let written = encode(&token, clock(1_800_000_000_000));
        for (later_ms, left) in [(0, 3600), (10_000, 3590), (3_599_000, 1)] {
            let read = decode(&written, clock(1_800_000_000_000 + later_ms)).unwrap();
            let lifetime = read.lifetime().unwrap();
            assert!(lifetime.abs_diff(Duration::from_secs(3600)) < Duration::from_millis(50));
            let remaining = read.expires_in().unwrap();
            assert!(
                remaining.abs_diff(Duration::from_secs(left)) < Duration::from_millis(50),
                "{later_ms}: {remaining:?}"
            );
        }
        // Read after its expiry on the fleet's clock: expired, not alive on a slow wall clock.
        let late = decode(&written, clock(1_800_000_000_000 + 3_700_000)).unwrap();
        assert!(late.expires_in().is_none_or(|left| left.is_zero()));
        assert!(decode(b"garbage", clock(0)).is_none());
    }
}
