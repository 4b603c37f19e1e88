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
    /// Counted on the hot path from many threads: striped, so they do not share a cache line.
    pub(crate) hits: Striped,
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
            hits: self.hits.sum(),
            misses: get(&self.misses),
            fetches: get(&self.fetches),
            failures: get(&self.failures),
            invalidations: get(&self.invalidations),
            refreshes_ahead: get(&self.refreshes_ahead),
            ..CacheStats::default()
        }
    }
}

/// Stripes of a counter, one cache line each; a thread always adds to the same stripe.
const STRIPES: usize = 8;

#[derive(Default)]
#[repr(align(64))]
struct Stripe(AtomicU64);

#[derive(Default)]
pub(crate) struct Striped([Stripe; STRIPES]);

impl Striped {
    #[inline]
    pub(crate) fn bump(&self) {
        // The stripe comes from the address of a thread-local, distinct per live thread; a
        // `const` initialiser leaves no lazy-init check on the hot path. Threads' blocks sit at
        // the same offset in their pages, so the address is hashed (Fibonacci) and the top bits
        // taken.
        thread_local! {
            static MARK: u8 = const { 0 };
        }
        let address = MARK.with(|mark| std::ptr::from_ref(mark) as u64);
        let stripe = (address.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 61) as usize % STRIPES;
        self.0[stripe].0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sum(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_spread_over_the_stripes() {
        let counter = std::sync::Arc::new(Striped::default());
        // All alive at once, so that no thread's block is reused by another.
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let counter = std::sync::Arc::clone(&counter);
                let barrier = std::sync::Arc::clone(&barrier);
                std::thread::spawn(move || {
                    counter.bump();
                    barrier.wait();
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(counter.sum(), 16);
        let used = counter
            .0
            .iter()
            .filter(|s| s.0.load(Ordering::Relaxed) > 0)
            .count();
        assert!(used >= 2, "16 threads all landed on one stripe");
    }
}
