//! A token source shared by a fleet: Redis first, one replica fetching under a lock, the others
//! waiting for what it writes.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokensmith_core::{AccessToken, Error, TokenIdentity, TokenSource};
use tokio::time::Instant;

use crate::RedisCache;

mod lock;
mod stored;

use self::lock::owner_token;
use self::stored::{FleetBackoff, FleetClock, decode, millis};

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

#[cfg(test)]
mod tests;
