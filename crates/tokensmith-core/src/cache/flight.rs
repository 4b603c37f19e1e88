//! One fetch at a time: the flight state, the waiters, the background refresh, failures and
//! their backoff, invalidation.

use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use super::entry::Now;
use super::stats::{CacheEvent, Counters};
use super::{CacheState, FetchResult};
use crate::token::add_saturating;
use crate::{AccessToken, Error, TokenSource};

/// The state of fetching, behind a mutex that no await point ever holds.
#[derive(Default)]
pub(super) struct Flight {
    /// The fetch under way, if any; callers subscribe to its result.
    pub(super) running: Option<watch::Receiver<FetchResult>>,
    /// Failures in a row.
    pub(super) failures: u32,
    /// No new fetch starts before this instant.
    pub(super) retry_at: Option<Instant>,
    /// The error of the last failed fetch.
    pub(super) last_error: Option<Error>,
    /// Fresh tokens rejected in a row by resource servers.
    pub(super) rejections: u32,
}

impl Flight {
    const IDLE: Flight = Flight {
        running: None,
        failures: 0,
        retry_at: None,
        last_error: None,
        rejections: 0,
    };

    pub(super) fn is_idle(&self) -> bool {
        self.running.is_none()
            && self.failures == 0
            && self.retry_at.is_none()
            && self.last_error.is_none()
            && self.rejections == 0
    }
}

/// The flight state, locked: made on first change, dropped on unlock once idle again.
pub(super) struct FlightGuard<'a>(pub(super) MutexGuard<'a, Option<Box<Flight>>>);

impl std::ops::Deref for FlightGuard<'_> {
    type Target = Flight;

    fn deref(&self) -> &Flight {
        self.0.as_deref().unwrap_or(&Flight::IDLE)
    }
}

impl std::ops::DerefMut for FlightGuard<'_> {
    fn deref_mut(&mut self) -> &mut Flight {
        self.0.get_or_insert_with(Box::default)
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        if self.0.as_deref().is_some_and(Flight::is_idle) {
            *self.0 = None;
        }
    }
}

/// What a caller that found no valid token does next.
enum Next<S: TokenSource> {
    Wait(watch::Receiver<FetchResult>),
    Start(watch::Receiver<FetchResult>, FetchGuard<S>),
}

impl<S: TokenSource> CacheState<S> {
    pub(super) fn valid_token(&self, now: &Now) -> Option<AccessToken> {
        let guard = self.entry.load();
        let entry = guard.as_deref().filter(|e| e.is_valid(now))?;
        Some(entry.token.clone())
    }

    pub(super) async fn wait_for_fetch(self: &Arc<Self>) -> Result<AccessToken, Error> {
        let next = {
            let mut flight = self.lock();
            let now = Now::read(self.clock);
            // A fetch may have finished between the caller's look and taking the lock.
            if let Some(token) = self.valid_token(&now) {
                Counters::bump(&self.counters.hits);
                #[cfg(feature = "metrics")]
                self.metrics.hits.increment(1);
                return Ok(token);
            }
            Counters::bump(&self.counters.misses);
            #[cfg(feature = "metrics")]
            self.metrics.misses.increment(1);
            tracing::debug!(target: "tokensmith::cache", source = self.source.name(), "token cache miss");
            match &flight.running {
                Some(running) => Next::Wait(running.clone()),
                None => {
                    if let (Some(retry_at), Some(last)) = (flight.retry_at, &flight.last_error)
                        && Instant::now() < retry_at
                    {
                        return Err(Error::backing_off(
                            last.clone(),
                            retry_at - Instant::now(),
                            flight.failures,
                        ));
                    }
                    let (receiver, guard) = self.prepare_fetch(&mut flight, false)?;
                    Next::Start(receiver, guard)
                }
            }
        };
        // Spawned after the lock is released: spawning on a runtime that is shutting down
        // drops the future at once, and its guard takes the lock to record the failure.
        let mut result = match next {
            Next::Wait(receiver) => receiver,
            Next::Start(receiver, guard) => {
                guard.spawn();
                receiver
            }
        };
        let outcome = result.wait_for(Option::is_some).await;
        match outcome.as_deref() {
            Ok(Some(result)) => result.clone(),
            _ => Err(Error::other(
                "the token fetch ended without a result: its runtime shut down",
            )),
        }
    }

    /// Starts the background refresh claimed by a caller of `current`; false when none could
    /// be started (no Tokio runtime on this thread), so that the claim is given back.
    pub(super) fn refresh_ahead(self: &Arc<Self>) -> bool {
        let prepared = {
            let mut flight = self.lock();
            if flight.running.is_some() {
                // A fetch is already under way; its token replaces this entry.
                return true;
            }
            self.prepare_fetch(&mut flight, true)
        };
        match prepared {
            Ok((_running, guard)) => {
                Counters::bump(&self.counters.refreshes_ahead);
                tracing::debug!(target: "tokensmith::cache", source = self.source.name(), "refreshing token ahead of expiry");
                guard.spawn();
                true
            }
            Err(_) => false,
        }
    }

    /// Marks a fetch as running and returns what its callers wait on, and the guard that runs
    /// it once spawned; the caller holds the flight lock and there is no fetch running.
    fn prepare_fetch(
        self: &Arc<Self>,
        flight: &mut Flight,
        refresh_ahead: bool,
    ) -> Result<(watch::Receiver<FetchResult>, FetchGuard<S>), Error> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(Error::config(
                "the token cache needs a Tokio runtime to fetch tokens; call it from within one",
            ));
        };
        let (sender, receiver) = watch::channel(None);
        flight.running = Some(receiver.clone());
        Counters::bump(&self.counters.fetches);
        let guard = FetchGuard {
            shared: Arc::clone(self),
            sender: Some(sender),
            runtime,
            refresh_ahead,
        };
        Ok((receiver, guard))
    }

    /// Records a fetch's outcome; returns it for the waiters.
    fn finish(
        &self,
        result: Result<AccessToken, Error>,
        elapsed: Duration,
        refresh_ahead: bool,
    ) -> Result<AccessToken, Error> {
        let span = tracing::Span::current();
        span.record("duration_ms", elapsed.as_millis() as u64);
        let fetched = result.and_then(|token| {
            let entry = self.config.entry_for(token);
            if entry.is_valid(&Now::read(self.clock)) {
                Ok(entry)
            } else {
                Err(expired_on_arrival(&entry.token))
            }
        });
        match fetched {
            Ok(entry) => {
                let token = entry.token.clone();
                // Store before clearing `running`: a caller that then takes the lock and finds
                // no fetch running must find the new token.
                self.entry.store(Some(Arc::new(entry)));
                let mut flight = self.lock();
                flight.running = None;
                flight.failures = 0;
                flight.retry_at = None;
                flight.last_error = None;
                drop(flight);
                let expires_in = token.lifetime();
                span.record("outcome", "ok");
                if let Some(lifetime) = expires_in {
                    span.record("expires_in_s", lifetime.as_secs());
                }
                tracing::info!(target: "tokensmith::cache", source = self.source.name(), ?expires_in, "fetched a token");
                self.emit(CacheEvent::Fetched {
                    expires_in,
                    elapsed,
                    refresh_ahead,
                });
                Ok(token)
            }
            Err(error) => {
                self.record_failure(&error);
                Err(error)
            }
        }
    }

    fn record_failure(&self, error: &Error) {
        Counters::bump(&self.counters.failures);
        let now = Now::read(self.clock);
        let mut flight = self.lock();
        flight.running = None;
        flight.failures = flight.failures.saturating_add(1);
        let failures = flight.failures;
        let retry_in = self.config.backoff.delay(failures);
        flight.retry_at = Some(add_saturating(Instant::now(), retry_in));
        flight.last_error = Some(error.clone());
        drop(flight);
        // A token that is still valid keeps serving; its next refresh waits for the backoff.
        let current = self.entry.load();
        let serving_previous = match current.as_deref().filter(|e| e.is_valid(&now)) {
            Some(entry) => {
                let retry = Arc::new(entry.retry_refresh_after(&now, retry_in));
                self.entry.compare_and_swap(&current, Some(retry));
                true
            }
            None => false,
        };
        tracing::Span::current().record("outcome", "error");
        tracing::warn!(
            target: "tokensmith::cache",
            source = self.source.name(),
            error = %error,
            consecutive_failures = failures,
            retry_in_ms = retry_in.as_millis() as u64,
            serving_previous,
            "token fetch failed"
        );
        self.emit(CacheEvent::Failed {
            error,
            consecutive_failures: failures,
            retry_in,
            serving_previous,
        });
    }

    pub(super) fn invalidate(&self, rejected: &AccessToken) {
        self.drop_current(rejected, true);
    }

    /// Drops `token` if it is still the cached one; a rejection counts toward the backoff, a
    /// token that is merely replaced (by one with more scope) does not.
    pub(super) fn drop_current(&self, rejected: &AccessToken, rejection: bool) {
        let current = self.entry.load();
        let is_current = current
            .as_deref()
            .is_some_and(|entry| entry.token.same_as(rejected));
        if !is_current {
            tracing::debug!(target: "tokensmith::cache", source = self.source.name(), "ignored invalidation of a token that was already replaced");
            return;
        }
        let previous = self.entry.compare_and_swap(&current, None);
        if previous
            .as_deref()
            .is_some_and(|entry| entry.token.same_as(rejected))
        {
            Counters::bump(&self.counters.invalidations);
            tracing::debug!(target: "tokensmith::cache", source = self.source.name(), "invalidated the cached token");
            if rejection {
                self.note_rejection(rejected);
            }
            self.emit(CacheEvent::Invalidated);
        }
    }

    /// Counts rejections of fresh tokens in a row. The first is free (a token revoked early is
    /// ordinary); from the second on the next fetch waits for the backoff, so a resource
    /// server that refuses every token costs a trickle of fetches, not one per request.
    fn note_rejection(&self, rejected: &AccessToken) {
        let now = Instant::now();
        let served = now.saturating_duration_since(rejected.issued_at());
        let mut flight = self.lock();
        flight.rejections = if served >= self.config.backoff.max() {
            1
        } else {
            flight.rejections.saturating_add(1)
        };
        if flight.rejections < 2 {
            return;
        }
        let rejections = flight.rejections;
        let retry_in = self.config.backoff.delay(rejections - 1);
        let retry_at = add_saturating(now, retry_in);
        flight.retry_at = Some(flight.retry_at.map_or(retry_at, |at| at.max(retry_at)));
        flight.failures = flight.failures.max(rejections - 1);
        flight.last_error = Some(
            Error::other(format!(
                "the resource server rejected {rejections} fresh tokens in a row; after an \
                 invalidation the next token is fetched when the rejection backoff ends, not \
                 at once"
            ))
            .with_hint(
                "the token is valid but not accepted: check the client's permissions, the \
                 token's audience and scopes, and that the API is the one this token is for",
            ),
        );
        drop(flight);
        tracing::warn!(
            target: "tokensmith::cache",
            source = self.source.name(),
            rejections,
            retry_in_ms = retry_in.as_millis() as u64,
            "fresh tokens keep being rejected; backing off before fetching another"
        );
    }
}

/// The error for a token that is no longer valid when it arrives.
fn expired_on_arrival(token: &AccessToken) -> Error {
    Error::invalid_token("the token source issued a token that is already expired").with_hint(
        format!(
            "the token's lifetime ({:?}) had run out, after the cache's skew, on arrival: the \
             server's expires_in is tiny, or its clock (a JWT's `exp` against the answer's \
             `Date`) disagrees with ours",
            token.lifetime().unwrap_or_default()
        ),
    )
}

/// Owns a running fetch. If the fetch task panics or its runtime shuts down, dropping the
/// guard still clears the running state and hands the waiters an error, so later callers
/// start a new fetch instead of waiting on one that will never finish.
struct FetchGuard<S: TokenSource> {
    shared: Arc<CacheState<S>>,
    sender: Option<watch::Sender<FetchResult>>,
    runtime: tokio::runtime::Handle,
    refresh_ahead: bool,
}

impl<S: TokenSource> FetchGuard<S> {
    /// Runs the fetch on its own task; called with the flight lock released.
    fn spawn(self) {
        let span = tracing::info_span!(
            target: "tokensmith::cache",
            "tokensmith.fetch",
            source = self.shared.source.name(),
            refresh_ahead = self.refresh_ahead,
            outcome = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
            expires_in_s = tracing::field::Empty,
        );
        let runtime = self.runtime.clone();
        runtime.spawn(self.run().instrument(span));
    }

    async fn run(mut self) {
        let started = Instant::now();
        let result = self.fetch_with_deadline().await;
        let result = self
            .shared
            .finish(result, started.elapsed(), self.refresh_ahead);
        if let Some(sender) = self.sender.take() {
            sender.send_replace(Some(result));
        }
    }

    async fn fetch_with_deadline(&self) -> Result<AccessToken, Error> {
        let source = &self.shared.source;
        let limit = self.shared.config.load_timeout;
        // A runtime without a time driver panics when a timer is made; the fetch then runs
        // without a deadline rather than not at all.
        let timed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            tokio::time::timeout(limit, source.fetch())
        }));
        match timed {
            Ok(timed) => timed.await.unwrap_or_else(|_| {
                Err(
                    Error::timeout(format!("token source `{}`", source.name()), limit).with_hint(
                        "the fetch (or the token store it saves to) did not finish within the \
                         cache's load timeout; raise it with `CachedBuilder::load_timeout` if the \
                         server is slow",
                    ),
                )
            }),
            Err(_) => {
                tracing::warn!(target: "tokensmith::cache", source = source.name(), "the runtime has no time driver; fetching without a deadline");
                source.fetch().await
            }
        }
    }
}

impl<S: TokenSource> Drop for FetchGuard<S> {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            let error = Error::other(
                "the token fetch was abandoned: the token source panicked or the runtime shut down",
            );
            self.shared.record_failure(&error);
            sender.send_replace(Some(Err(error)));
        }
    }
}
