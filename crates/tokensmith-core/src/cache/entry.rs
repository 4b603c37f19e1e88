//! A cached token with the instants that govern it, watched by a timer so that the hot path
//! reads two flags instead of the clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::AccessToken;

pub(crate) struct Entry {
    pub(crate) token: AccessToken,
    /// From this instant on the token no longer counts as valid (expiry minus skew).
    pub(crate) valid_until: Option<Instant>,
    /// From this instant on, the first caller starts one refresh in the background.
    pub(crate) refresh_at: Option<Instant>,
    /// Set by the caller that starts the refresh, so only one does.
    pub(crate) refresh_claimed: AtomicBool,
    /// Set once `refresh_at` has passed (by the timer, or at arming if already past).
    refresh_passed: AtomicBool,
    /// Set once `valid_until` has passed.
    expiry_passed: AtomicBool,
    /// Whether a timer keeps the two flags above; without one (no runtime), the clock is read.
    timed: AtomicBool,
    timer: OnceLock<AbortHandle>,
}

impl Entry {
    pub(crate) fn new(
        token: AccessToken,
        valid_until: Option<Instant>,
        refresh_at: Option<Instant>,
    ) -> Self {
        Self {
            token,
            valid_until,
            refresh_at,
            refresh_claimed: AtomicBool::new(false),
            refresh_passed: AtomicBool::new(false),
            expiry_passed: AtomicBool::new(false),
            timed: AtomicBool::new(false),
            timer: OnceLock::new(),
        }
    }

    /// Starts the timer that sets the flags, when there is a runtime to run it. The timer
    /// holds only a weak reference and is aborted when the entry is dropped.
    pub(crate) fn arm(self: &Arc<Self>) {
        if self.valid_until.is_none() && self.refresh_at.is_none() {
            // Nothing will ever pass: the flags stay false, which is the answer.
            self.timed.store(true, Ordering::Release);
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let now = Instant::now();
        if self.refresh_at.is_some_and(|at| now >= at) {
            self.refresh_passed.store(true, Ordering::Release);
        }
        if self.valid_until.is_some_and(|until| now >= until) {
            self.expiry_passed.store(true, Ordering::Release);
        }
        let watched: Weak<Self> = Arc::downgrade(self);
        let (refresh_at, valid_until) = (self.refresh_at, self.valid_until);
        let task = runtime.spawn(async move {
            if let Some(at) = refresh_at {
                tokio::time::sleep_until(at).await;
                match watched.upgrade() {
                    Some(entry) => entry.refresh_passed.store(true, Ordering::Release),
                    None => return,
                }
            }
            if let Some(until) = valid_until {
                tokio::time::sleep_until(until).await;
                if let Some(entry) = watched.upgrade() {
                    entry.expiry_passed.store(true, Ordering::Release);
                }
            }
        });
        let _ = self.timer.set(task.abort_handle());
        self.timed.store(true, Ordering::Release);
    }

    /// Whether the token counts as valid, without reading the clock when a timer watches.
    pub(crate) fn valid_now(&self) -> bool {
        if self.timed.load(Ordering::Acquire) {
            !self.expiry_passed.load(Ordering::Acquire)
        } else {
            self.is_valid(Instant::now())
        }
    }

    /// Whether a refresh ahead is due, without reading the clock when a timer watches.
    pub(crate) fn refresh_due_now(&self) -> bool {
        if self.timed.load(Ordering::Acquire) {
            self.refresh_passed.load(Ordering::Acquire)
        } else {
            self.refresh_due(Instant::now())
        }
    }

    pub(crate) fn is_valid(&self, now: Instant) -> bool {
        self.valid_until.is_none_or(|until| now < until)
    }

    pub(crate) fn refresh_due(&self, now: Instant) -> bool {
        self.refresh_at.is_some_and(|at| now >= at)
    }

    /// The same token, with its next refresh attempt moved to `at` (not yet armed).
    pub(crate) fn retry_refresh_at(&self, at: Instant) -> Entry {
        let at = match self.valid_until {
            Some(until) => at.min(until),
            None => at,
        };
        Entry::new(self.token.clone(), self.valid_until, Some(at))
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.get() {
            timer.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn entry(valid_for: Duration, refresh_after: Duration) -> Arc<Entry> {
        let now = Instant::now();
        let token = AccessToken::bearer("t").unwrap();
        Arc::new(Entry::new(
            token,
            Some(now + valid_for),
            Some(now + refresh_after),
        ))
    }

    #[test]
    fn without_a_runtime_the_clock_decides() {
        let live = entry(Duration::from_secs(60), Duration::from_secs(30));
        live.arm();
        assert!(live.valid_now() && !live.refresh_due_now());
        let dead = entry(Duration::ZERO, Duration::ZERO);
        dead.arm();
        assert!(!dead.valid_now() && dead.refresh_due_now());
    }

    #[tokio::test(start_paused = true)]
    async fn the_timer_flips_the_flags_at_their_instants() {
        let watched = entry(Duration::from_secs(10), Duration::from_secs(5));
        watched.arm();
        assert!(watched.valid_now() && !watched.refresh_due_now());
        tokio::time::sleep(Duration::from_secs(5)).await;
        tokio::task::yield_now().await;
        assert!(watched.valid_now() && watched.refresh_due_now());
        tokio::time::sleep(Duration::from_secs(5)).await;
        tokio::task::yield_now().await;
        assert!(!watched.valid_now());
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_entry_stops_its_timer() {
        let watched = entry(Duration::from_secs(3600), Duration::from_secs(1800));
        watched.arm();
        let timer = watched.timer.get().unwrap().clone();
        drop(watched);
        tokio::task::yield_now().await;
        assert!(timer.is_finished());
    }
}
