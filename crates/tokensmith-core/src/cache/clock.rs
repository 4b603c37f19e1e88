//! The clocks a cache hit reads, in nanoseconds.
//!
//! By default the system's coarse clocks: on Linux `CLOCK_MONOTONIC_COARSE` and
//! `CLOCK_REALTIME_COARSE`, a read of the vDSO page each (a few nanoseconds, where
//! `Instant::now()` costs some thirty on a virtual machine), ticking once per kernel tick. Their
//! lag is at most that tick, so deadlines are moved [`COARSE_MARGIN`] earlier to stay on the safe
//! side. Elsewhere, the standard clocks.
//!
//! A cache can follow Tokio's clock instead, for tests that pause and advance it.

use std::sync::OnceLock;
use std::time::Duration;

/// How much earlier a deadline is put on the coarse clocks: more than their resolution (one
/// kernel tick, 1 to 10 ms).
pub(crate) const COARSE_MARGIN: Duration = Duration::from_millis(20);

/// Which clocks a cache reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ClockSource {
    /// The system's coarse monotonic and wall clocks.
    #[default]
    System,
    /// Tokio's clock, which a test can pause and advance; no wall clock.
    Tokio,
}

/// One reading: nanoseconds on a monotonic clock, and since the Unix epoch on the wall clock
/// (0 when the cache follows Tokio's clock).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading {
    pub(crate) mono: u64,
    pub(crate) wall: u64,
}

impl ClockSource {
    #[inline]
    pub(crate) fn read(self) -> Reading {
        match self {
            Self::System => Reading {
                mono: coarse::monotonic(),
                wall: wall(),
            },
            Self::Tokio => Reading {
                mono: tokio_nanos(),
                wall: 0,
            },
        }
    }

    /// What a deadline gives away to the clock's resolution.
    pub(crate) fn margin(self) -> Duration {
        match self {
            Self::System => COARSE_MARGIN,
            Self::Tokio => Duration::ZERO,
        }
    }
}

/// Tokio's clock in nanoseconds since a base ten years back, so that an instant of any
/// runtime's paused clock, however early, is above it. Kept out of line: tests only, and the
/// system arm of `read` stays small enough to inline into the hit.
#[cold]
#[inline(never)]
fn tokio_nanos() -> u64 {
    static BASE: OnceLock<std::time::Instant> = OnceLock::new();
    let base = *BASE.get_or_init(|| {
        let now = std::time::Instant::now();
        now.checked_sub(Duration::from_secs(10 * 365 * 24 * 3600))
            .unwrap_or(now)
    });
    let now = tokio::time::Instant::now().into_std();
    u64::try_from(now.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(not(test))]
#[inline]
fn wall() -> u64 {
    coarse::wall()
}

// Tests stand in for a host suspend by moving this thread's wall clock forward.
#[cfg(test)]
thread_local! {
    pub(crate) static WALL_OFFSET: std::cell::Cell<Duration> = const { std::cell::Cell::new(Duration::ZERO) };
}

#[cfg(test)]
fn wall() -> u64 {
    let offset = WALL_OFFSET.with(std::cell::Cell::get);
    coarse::wall().saturating_add(u64::try_from(offset.as_nanos()).unwrap_or(u64::MAX))
}

/// `d` in nanoseconds, saturating.
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod coarse {
    use rustix::time::{ClockId, Timespec, clock_gettime};

    #[inline]
    pub(super) fn monotonic() -> u64 {
        nanos(clock_gettime(ClockId::MonotonicCoarse))
    }

    #[inline]
    pub(super) fn wall() -> u64 {
        nanos(clock_gettime(ClockId::RealtimeCoarse))
    }

    /// A clock set before 1970 reads as 0: every wall deadline has then not passed, and the
    /// monotonic one still decides.
    #[inline]
    fn nanos(t: Timespec) -> u64 {
        let secs = u64::try_from(t.tv_sec).unwrap_or(0);
        let nsec = u64::try_from(t.tv_nsec).unwrap_or(0);
        secs.saturating_mul(1_000_000_000).saturating_add(nsec)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod coarse {
    use std::sync::OnceLock;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    pub(super) fn monotonic() -> u64 {
        static BASE: OnceLock<Instant> = OnceLock::new();
        super::nanos(BASE.get_or_init(Instant::now).elapsed())
    }

    pub(super) fn wall() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, super::nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clocks_move_with_real_time() {
        let before = ClockSource::System.read();
        std::thread::sleep(Duration::from_millis(60));
        let after = ClockSource::System.read();
        let moved = after.mono - before.mono;
        assert!(
            moved >= nanos(Duration::from_millis(60) - COARSE_MARGIN),
            "{moved} ns"
        );
        assert!(after.wall > before.wall);
        let since_epoch = Duration::from_nanos(after.wall);
        assert!(
            since_epoch > Duration::from_secs(1_700_000_000),
            "{since_epoch:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_source_follows_a_paused_clock() {
        let before = ClockSource::Tokio.read();
        tokio::time::advance(Duration::from_secs(3600)).await;
        let after = ClockSource::Tokio.read();
        assert_eq!(after.mono - before.mono, nanos(Duration::from_secs(3600)));
        assert_eq!((before.wall, after.wall), (0, 0));
    }
}
