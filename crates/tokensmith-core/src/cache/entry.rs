//! A cached token with the deadlines that govern it, checked against the clocks on every read.
//!
//! Validity is never a flag that some task must remember to flip: a runtime that is idle, shut
//! down or built without a time driver cannot keep an expired token alive. Each deadline is
//! held twice, on the monotonic clock (immune to wall-clock steps) and on the wall clock (which
//! keeps counting while the host is suspended, when the monotonic clock stops); a deadline has
//! passed as soon as either clock says so.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::AccessToken;
use crate::token::add_saturating;

/// One reading of both clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    pub(crate) mono: Instant,
    wall: SystemTime,
}

impl Now {
    /// Reads the clocks. The monotonic one is Tokio's, so a test that pauses Tokio's clock
    /// moves the cache with it.
    pub(crate) fn read() -> Self {
        Self {
            mono: Instant::now(),
            wall: wall_clock(),
        }
    }

    /// The deadline `at` (an instant of the monotonic clock), on both clocks.
    fn deadline(&self, at: Instant) -> Deadline {
        let left = at.saturating_duration_since(self.mono);
        Deadline {
            mono: at,
            wall: self
                .wall
                .checked_add(left)
                .unwrap_or_else(|| self.wall + Duration::from_secs(100 * 365 * 24 * 3600)),
        }
    }
}

#[cfg(not(test))]
fn wall_clock() -> SystemTime {
    SystemTime::now()
}

// Tests stand in for a host suspend by moving this thread's wall clock forward.
#[cfg(test)]
thread_local! {
    pub(crate) static WALL_OFFSET: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::ZERO) };
}

#[cfg(test)]
fn wall_clock() -> SystemTime {
    SystemTime::now() + WALL_OFFSET.with(std::cell::Cell::get)
}

/// An instant on both clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    mono: Instant,
    wall: SystemTime,
}

impl Deadline {
    fn passed(&self, now: &Now) -> bool {
        now.mono >= self.mono || now.wall >= self.wall
    }

    /// Time left on the monotonic clock.
    pub(crate) fn left(&self, now: &Now) -> Duration {
        if now.wall >= self.wall {
            return Duration::ZERO;
        }
        self.mono.saturating_duration_since(now.mono)
    }
}

pub(crate) struct Entry {
    pub(crate) token: AccessToken,
    /// From this deadline on the token no longer counts as valid (expiry minus skew).
    pub(crate) valid_until: Option<Deadline>,
    /// From this deadline on, the first caller starts one refresh in the background.
    refresh_at: Option<Deadline>,
    /// Set by the caller that starts the refresh, so only one does.
    pub(crate) refresh_claimed: AtomicBool,
}

impl Entry {
    pub(crate) fn new(
        token: AccessToken,
        valid_until: Option<Instant>,
        refresh_at: Option<Instant>,
    ) -> Self {
        let now = Now::read();
        Self {
            token,
            valid_until: valid_until.map(|at| now.deadline(at)),
            refresh_at: refresh_at.map(|at| now.deadline(at)),
            refresh_claimed: AtomicBool::new(false),
        }
    }

    pub(crate) fn is_valid(&self, now: &Now) -> bool {
        self.valid_until.is_none_or(|until| !until.passed(now))
    }

    pub(crate) fn refresh_due(&self, now: &Now) -> bool {
        self.refresh_at.is_some_and(|at| at.passed(now))
    }

    /// The same token, with its next refresh attempt moved `after` from now (never past its
    /// validity).
    pub(crate) fn retry_refresh_after(&self, now: &Now, after: Duration) -> Entry {
        let mut at = now.deadline(add_saturating(now.mono, after));
        if let Some(until) = self.valid_until
            && until.mono < at.mono
        {
            at = until;
        }
        Entry {
            token: self.token.clone(),
            valid_until: self.valid_until,
            refresh_at: Some(at),
            refresh_claimed: AtomicBool::new(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(valid_for: Duration, refresh_after: Duration) -> Entry {
        let now = Instant::now();
        let token = AccessToken::bearer("t").unwrap();
        Entry::new(token, Some(now + valid_for), Some(now + refresh_after))
    }

    #[test]
    fn without_a_runtime_the_clock_decides() {
        let live = entry(Duration::from_secs(60), Duration::from_secs(30));
        let now = Now::read();
        assert!(live.is_valid(&now) && !live.refresh_due(&now));
        let dead = entry(Duration::ZERO, Duration::ZERO);
        let now = Now::read();
        assert!(!dead.is_valid(&now) && dead.refresh_due(&now));
    }

    #[test]
    fn a_suspended_host_expires_the_token_by_the_wall_clock() {
        let live = entry(Duration::from_secs(3600), Duration::from_secs(3000));
        assert!(live.is_valid(&Now::read()));
        // The monotonic clock stood still while the wall clock moved on two hours.
        WALL_OFFSET.with(|offset| offset.set(Duration::from_secs(7200)));
        let now = Now::read();
        let verdict = (live.is_valid(&now), live.refresh_due(&now));
        WALL_OFFSET.with(|offset| offset.set(Duration::ZERO));
        assert_eq!(verdict, (false, true));
        assert_eq!(live.valid_until.unwrap().left(&now), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadlines_pass_with_the_clock() {
        let watched = entry(Duration::from_secs(10), Duration::from_secs(5));
        assert!(watched.is_valid(&Now::read()) && !watched.refresh_due(&Now::read()));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(watched.is_valid(&Now::read()) && watched.refresh_due(&Now::read()));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!watched.is_valid(&Now::read()));
    }

    #[test]
    fn far_deadlines_do_not_overflow() {
        let token = AccessToken::bearer("t").unwrap();
        let far = add_saturating(Instant::now(), Duration::MAX);
        let forever = Entry::new(token, Some(far), Some(far));
        let now = Now::read();
        assert!(forever.is_valid(&now));
        let retry = forever.retry_refresh_after(&now, Duration::MAX);
        assert!(retry.is_valid(&now) && !retry.refresh_due(&now));
    }
}
