//! A cached token with the deadlines that govern it, checked against the clocks on every read.
//!
//! Validity is never a flag that some task must remember to flip: a runtime that is idle, shut
//! down or built without a time driver cannot keep an expired token alive. Each deadline is
//! held twice, on the monotonic clock (immune to wall-clock steps) and on the wall clock (which
//! keeps counting while the host is suspended, when the monotonic clock stops); a deadline has
//! passed as soon as either clock says so.

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::time::Instant;

use super::clock::{ClockSource, Reading, nanos};
use crate::AccessToken;

/// One reading of a cache's clocks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    reading: Reading,
    source: ClockSource,
}

impl Now {
    #[inline]
    pub(crate) fn read(source: ClockSource) -> Self {
        Self {
            reading: source.read(),
            source,
        }
    }

    /// The instant `after` from now, on both clocks, moved earlier by the clocks' margin.
    fn deadline_after(&self, after: Duration) -> Deadline {
        let left = nanos(after.saturating_sub(self.source.margin()));
        Deadline {
            mono: self.reading.mono.saturating_add(left),
            wall: self.reading.wall.saturating_add(left),
        }
    }

    /// `at`, an instant of Tokio's clock (as tokens keep their expiry), on both clocks.
    fn deadline_at(&self, at: Instant) -> Deadline {
        self.deadline_after(at.saturating_duration_since(Instant::now()))
    }
}

/// An instant on both clocks, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    mono: u64,
    wall: u64,
}

impl Deadline {
    /// No deadline: never passed (held so rather than as an `Option`, 16 bytes a key less).
    const NEVER: Deadline = Deadline {
        mono: u64::MAX,
        wall: u64::MAX,
    };

    fn is_never(&self) -> bool {
        self.mono == u64::MAX && self.wall == u64::MAX
    }

    #[inline]
    fn passed(&self, now: &Now) -> bool {
        now.reading.mono >= self.mono || now.reading.wall >= self.wall
    }

    /// Time left, by whichever clock has less.
    pub(crate) fn left(&self, now: &Now) -> Duration {
        let mono = self.mono.saturating_sub(now.reading.mono);
        let wall = self.wall.saturating_sub(now.reading.wall);
        Duration::from_nanos(mono.min(wall))
    }
}

pub(crate) struct Entry {
    pub(crate) token: AccessToken,
    /// From this deadline on the token no longer counts as valid (expiry minus skew).
    valid_until: Deadline,
    /// From this deadline on, the first caller starts one refresh in the background.
    refresh_at: Deadline,
    /// Set by the caller that starts the refresh, so only one does.
    pub(crate) refresh_claimed: AtomicBool,
}

impl Entry {
    pub(crate) fn new(
        token: AccessToken,
        valid_until: Option<Instant>,
        refresh_at: Option<Instant>,
        clock: ClockSource,
    ) -> Self {
        let now = Now::read(clock);
        Self {
            token,
            valid_until: valid_until.map_or(Deadline::NEVER, |at| now.deadline_at(at)),
            refresh_at: refresh_at.map_or(Deadline::NEVER, |at| now.deadline_at(at)),
            refresh_claimed: AtomicBool::new(false),
        }
    }

    /// The deadline of validity, if the token has one.
    pub(crate) fn valid_until(&self) -> Option<Deadline> {
        (!self.valid_until.is_never()).then_some(self.valid_until)
    }

    #[inline]
    pub(crate) fn is_valid(&self, now: &Now) -> bool {
        !self.valid_until.passed(now)
    }

    #[inline]
    pub(crate) fn refresh_due(&self, now: &Now) -> bool {
        self.refresh_at.passed(now)
    }

    /// The same token, with its next refresh attempt moved `after` from now (never past its
    /// validity).
    pub(crate) fn retry_refresh_after(&self, now: &Now, after: Duration) -> Entry {
        let mut at = now.deadline_after(after);
        if self.valid_until.mono < at.mono {
            at = self.valid_until;
        }
        Entry {
            token: self.token.clone(),
            valid_until: self.valid_until,
            refresh_at: at,
            refresh_claimed: AtomicBool::new(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::clock::WALL_OFFSET;
    use crate::token::add_saturating;

    fn entry(valid_for: Duration, refresh_after: Duration, clock: ClockSource) -> Entry {
        let now = Instant::now();
        let token = AccessToken::bearer("t").unwrap();
        Entry::new(
            token,
            Some(now + valid_for),
            Some(now + refresh_after),
            clock,
        )
    }

    #[test]
    fn without_a_runtime_the_clock_decides() {
        let live = entry(
            Duration::from_secs(60),
            Duration::from_secs(30),
            ClockSource::System,
        );
        let now = Now::read(ClockSource::System);
        assert!(live.is_valid(&now) && !live.refresh_due(&now));
        let dead = entry(Duration::ZERO, Duration::ZERO, ClockSource::System);
        let now = Now::read(ClockSource::System);
        assert!(!dead.is_valid(&now) && dead.refresh_due(&now));
    }

    #[test]
    fn a_deadline_on_the_coarse_clocks_passes_with_real_time() {
        let short = entry(
            Duration::from_secs(1),
            Duration::from_millis(500),
            ClockSource::System,
        );
        assert!(short.is_valid(&Now::read(ClockSource::System)));
        std::thread::sleep(Duration::from_millis(1_100));
        let now = Now::read(ClockSource::System);
        assert!(!short.is_valid(&now) && short.refresh_due(&now));
    }

    #[test]
    fn a_suspended_host_expires_the_token_by_the_wall_clock() {
        let live = entry(HOUR, Duration::from_secs(3000), ClockSource::System);
        assert!(live.is_valid(&Now::read(ClockSource::System)));
        // The monotonic clock stood still while the wall clock moved on two hours.
        WALL_OFFSET.with(|offset| offset.set(2 * HOUR));
        let now = Now::read(ClockSource::System);
        WALL_OFFSET.with(|offset| offset.set(Duration::ZERO));
        assert!(!live.is_valid(&now) && live.refresh_due(&now));
        assert_eq!(live.valid_until().unwrap().left(&now), Duration::ZERO);
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test(start_paused = true)]
    async fn on_tokio_s_clock_the_deadlines_pass_with_the_paused_clock() {
        let watched = entry(
            Duration::from_secs(10),
            Duration::from_secs(5),
            ClockSource::Tokio,
        );
        let now = || Now::read(ClockSource::Tokio);
        assert!(watched.is_valid(&now()) && !watched.refresh_due(&now()));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(watched.is_valid(&now()) && watched.refresh_due(&now()));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert!(!watched.is_valid(&now()));
    }

    #[test]
    fn far_deadlines_do_not_overflow() {
        for clock in [ClockSource::System, ClockSource::Tokio] {
            let token = AccessToken::bearer("t").unwrap();
            let far = add_saturating(Instant::now(), Duration::MAX);
            let forever = Entry::new(token, Some(far), Some(far), clock);
            let now = Now::read(clock);
            assert!(forever.is_valid(&now));
            let retry = forever.retry_refresh_after(&now, Duration::MAX);
            assert!(retry.is_valid(&now) && !retry.refresh_due(&now));
        }
    }
}
