//! What the cache has done: counters and events, for observability without a log scraper.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::Error;

pub(crate) type Listener = Arc<dyn Fn(&CacheEvent<'_>) + Send + Sync>;

/// Something the cache did, handed to the listener set with
/// [`CachedBuilder::on_event`](crate::CachedBuilder::on_event). Holds no secret.
#[derive(Debug)]
#[non_exhaustive]
pub enum CacheEvent<'a> {
    /// A new token was fetched.
    Fetched {
        /// The token's lifetime, if it has one.
        expires_in: Option<Duration>,
        /// How long the fetch took.
        elapsed: Duration,
        /// Whether this was a refresh ahead of expiry (callers were served meanwhile).
        refresh_ahead: bool,
    },
    /// A fetch failed.
    Failed {
        /// What went wrong.
        error: &'a Error,
        /// Failures in a row, this one included.
        consecutive_failures: u32,
        /// How long the cache waits before the next attempt.
        retry_in: Duration,
        /// Whether a still-valid token keeps being served.
        serving_previous: bool,
    },
    /// The current token was dropped because a resource server rejected it.
    Invalidated,
}

/// Counters of a [`Cached`](crate::Cached) provider since it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Calls answered from the cache.
    pub hits: u64,
    /// Calls that found no valid token and waited for a fetch.
    pub misses: u64,
    /// Fetches started (each is one call to the token source).
    pub fetches: u64,
    /// Fetches that failed.
    pub failures: u64,
    /// Tokens dropped by [`invalidate`](crate::TokenProvider::invalidate).
    pub invalidations: u64,
    /// Fetches started ahead of expiry while the old token kept serving.
    pub refreshes_ahead: u64,
    /// Failures in a row at this moment (0 after a success).
    pub consecutive_failures: u32,
    /// Time until the current token no longer counts as valid (after skew); `None` when there
    /// is no token or it never expires.
    pub remaining: Option<Duration>,
    /// Whether a valid token is cached.
    pub has_token: bool,
}

#[derive(Default)]
pub(crate) struct Counters {
    /// One relaxed add per hit. A counter striped over cache lines (512 bytes a cache) was
    /// measured no faster here, and cost most of a keyed manager's memory per key.
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) fetches: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) invalidations: AtomicU64,
    pub(crate) refreshes_ahead: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> CacheStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CacheStats {
            hits: get(&self.hits),
            misses: get(&self.misses),
            fetches: get(&self.fetches),
            failures: get(&self.failures),
            invalidations: get(&self.invalidations),
            refreshes_ahead: get(&self.refreshes_ahead),
            ..CacheStats::default()
        }
    }
}
