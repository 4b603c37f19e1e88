//! Exponential backoff with optional jitter, shared by the cache and by request retries.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Delays that double from `initial` up to `max`, each shortened by a random share of up to
/// `jitter` so that many processes do not retry in the same instant.
///
/// ```
/// use std::time::Duration;
/// use tokensmith_core::Backoff;
///
/// let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
/// assert_eq!(backoff.delay(1), Duration::from_secs(1));
/// assert_eq!(backoff.delay(3), Duration::from_secs(4));
/// assert_eq!(backoff.delay(10), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    jitter: f64,
}

impl Backoff {
    /// Doubling from `initial` to `max`, without jitter. `max` below `initial` is raised to it.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            jitter: 0.0,
        }
    }

    /// Shortens each delay by a random share in `[0, jitter]`; `jitter` is clamped to `[0, 1]`.
    #[must_use]
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        self
    }

    /// The first delay.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The longest delay.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The delay after the `attempt`-th consecutive failure (1 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(32);
        let full = self
            .initial
            .checked_mul(1u32 << doublings.min(31))
            .unwrap_or(self.max)
            .min(self.max);
        if self.jitter == 0.0 {
            full
        } else {
            // Through f64 so that a delay near `Duration::MAX` cannot overflow.
            Duration::try_from_secs_f64(full.as_secs_f64() * (1.0 - self.jitter * random_unit()))
                .map_or(full, |shorter| shorter.min(full))
        }
    }
}

/// How failed requests are retried: how many attempts, the delays between them, and the
/// longest `Retry-After` honoured. The token endpoint retries transport failures, timeouts, 5xx
/// and 429 answers (never OAuth 4xx errors); API clients retry 429, and 503 with
/// `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    attempts: u32,
    backoff: Backoff,
    max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, 500 ms doubling to 5 s with up to 50% jitter, `Retry-After` up to 10 s.
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(5))
                .with_jitter(0.5),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        Self {
            attempts: 1,
            ..Self::default()
        }
    }

    /// Attempts in all, the first included (at least 1, at most 10).
    #[must_use]
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.clamp(1, 10);
        self
    }

    /// The delays between attempts when the server gives no `Retry-After`.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The longest `Retry-After` honoured; a longer one is cut to this.
    #[must_use]
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// Attempts in all, the first included.
    pub fn max_attempts(&self) -> u32 {
        self.attempts
    }

    /// The wait before attempt `failed + 1`: what the server asked for (capped), or else the
    /// backoff's delay.
    pub fn delay(&self, failed: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(asked) => asked.min(self.max_retry_after),
            None => self.backoff.delay(failed),
        }
    }
}

/// A uniformly distributed number in `[0, 1)`: a splitmix64 sequence seeded from the standard
/// library's random hasher keys. Good enough to spread retries; not for cryptography.
pub(crate) fn random_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut seed = STATE.load(Ordering::Relaxed);
    if seed == 0 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(0x5eed);
        seed = hasher.finish() | 1;
    }
    let next = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    STATE.store(next, Ordering::Relaxed);
    let mut z = next;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_and_caps() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let delays: Vec<u64> = (1..=7).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
        assert_eq!(b.delay(0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_only_shortens_within_its_share() {
        let b = Backoff::new(Duration::from_secs(10), Duration::from_secs(10)).with_jitter(0.2);
        let mut seen_shorter = false;
        for _ in 0..1000 {
            let d = b.delay(1);
            assert!(
                d <= Duration::from_secs(10) && d >= Duration::from_secs(8),
                "{d:?}"
            );
            seen_shorter |= d < Duration::from_millis(9_900);
        }
        assert!(seen_shorter);
    }

    #[test]
    fn random_unit_is_in_range_and_varies() {
        let values: Vec<f64> = (0..1000).map(|_| random_unit()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
    }
}
