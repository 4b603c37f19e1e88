//! The caching provider: one fetch at a time, refresh ahead of expiry, backoff after failures.

pub(crate) mod clock;
mod config;
#[cfg(test)]
mod edge_tests;
mod entry;
mod stats;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use async_trait::async_trait;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument;

use self::clock::ClockSource;
use self::config::CacheConfig;
pub use self::config::{CachedBuilder, RefreshAhead};
use self::entry::{Entry, Now};
use self::stats::Counters;
pub use self::stats::{CacheEvent, CacheStats};
use crate::token::add_saturating;
use crate::{AccessToken, Error, TokenProvider, TokenSource};

type FetchResult = Option<Result<AccessToken, Error>>;

/// A [`TokenProvider`] that caches the token its [`TokenSource`] fetches.
///
/// - A valid cached token is returned without a lock, an await point or an allocation.
/// - However many callers find no valid token, one fetch runs and all of them get its result,
///   success or error. The fetch runs on its own Tokio task, so a caller that gives up (is
///   dropped) does not cancel it for the others or for the cache.
/// - A token counts as expired `skew` before its expiry (30 s, at most a tenth of its lifetime).
/// - Ahead of expiry (see [`RefreshAhead`]) the first caller starts one refresh in the
///   background and every caller keeps getting the current token at once. If that refresh
///   fails, the current token keeps serving while it is valid.
/// - After consecutive failures, fetch attempts are spaced by exponential backoff (1 s
///   doubling to 30 s); callers in between get the last error, with [`Error::retry_in`] set.
///
/// - A fetch that does not finish within the load timeout (30 s by default) fails, so no
///   caller waits forever on a source or store that hangs.
/// - A resource server that rejects every fresh token (see [`TokenProvider::invalidate`]) and
///   a source that hands out tokens already expired go through the same backoff, so neither
///   costs a fetch per call.
///
/// Every hit reads the clocks: no background task has to run for an expired token to stop
/// being served, so the cache is right on any runtime (idle, shut down, without a time
/// driver). Deadlines are kept on the monotonic clock and on the wall clock, so a token also
/// expires across a host suspend, when the monotonic clock stands still.
///
/// Cloning is cheap; clones share the cache. Fetches need a Tokio runtime.
///
/// # Example
/// ```
/// use async_trait::async_trait;
/// use std::time::Duration;
/// use tokensmith_core::{AccessToken, Cached, Error, TokenProvider, TokenSource};
///
/// struct Issuer;
///
/// #[async_trait]
/// impl TokenSource for Issuer {
///     async fn fetch(&self) -> Result<AccessToken, Error> {
///         AccessToken::builder("fresh").expires_in(Duration::from_secs(3600)).build()
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let provider = Cached::new(Issuer);
/// let first = provider.token().await?;
/// let second = provider.token().await?;
/// assert!(first.same_as(&second));
/// assert_eq!(provider.stats().fetches, 1);
/// # Ok(())
/// # }
/// ```
pub struct Cached<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for Cached<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> fmt::Debug for Cached<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cached")
            .field("stats", &self.shared.stats())
            .finish_non_exhaustive()
    }
}

struct Shared<S> {
    source: S,
    /// The clocks every hit reads, kept beside the source rather than behind `config`.
    clock: ClockSource,
    /// Settings, one copy for all caches made alike (see [`Cached::with_source`]).
    config: Arc<CacheConfig>,
    entry: ArcSwapOption<Entry>,
    /// Held only while there is something to remember (a fetch, failures, a backoff): an idle
    /// cache, as most of a keyed manager's are, keeps no flight state.
    flight: Mutex<Option<Box<Flight>>>,
    counters: Counters,
    #[cfg(feature = "metrics")]
    metrics: crate::metrics::CacheMetrics,
}

/// The state of fetching, behind a mutex that no await point ever holds.
#[derive(Default)]
struct Flight {
    /// The fetch under way, if any; callers subscribe to its result.
    running: Option<watch::Receiver<FetchResult>>,
    /// Failures in a row.
    failures: u32,
    /// No new fetch starts before this instant.
    retry_at: Option<Instant>,
    /// The error of the last failed fetch.
    last_error: Option<Error>,
    /// Fresh tokens rejected in a row by resource servers.
    rejections: u32,
}

impl Flight {
    const IDLE: Flight = Flight {
        running: None,
        failures: 0,
        retry_at: None,
        last_error: None,
        rejections: 0,
    };

    fn is_idle(&self) -> bool {
        self.running.is_none()
            && self.failures == 0
            && self.retry_at.is_none()
            && self.last_error.is_none()
            && self.rejections == 0
    }
}

/// The flight state, locked: made on first change, dropped on unlock once idle again.
struct FlightGuard<'a>(MutexGuard<'a, Option<Box<Flight>>>);

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

impl<S: TokenSource> Cached<S> {
    /// Caches what `source` fetches, with the default settings.
    pub fn new(source: S) -> Self {
        Self {
            shared: Arc::new(Shared::new(source, CacheConfig::shared_default())),
        }
    }

    /// A cache for another source, with this cache's settings (listener and metrics name
    /// included). The two share one copy of the settings: a [`TokenManager`](crate::TokenManager)
    /// whose factory makes each key's cache this way pays for the settings once, not per key.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tokensmith_core::{AccessToken, Cached, Error, TokenManager, TokenSource};
    /// # struct PerTenant(String);
    /// # #[async_trait::async_trait]
    /// # impl TokenSource for PerTenant {
    /// #     async fn fetch(&self) -> Result<AccessToken, Error> { AccessToken::bearer("t") }
    /// # }
    /// let template = Cached::builder(PerTenant(String::new()))
    ///     .skew(Duration::from_secs(60))
    ///     .build()?;
    /// let manager = TokenManager::new(move |tenant: &String| {
    ///     Ok(template.with_source(PerTenant(tenant.clone())))
    /// });
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_source<T: TokenSource>(&self, source: T) -> Cached<T> {
        Cached {
            shared: Arc::new(Shared::new(source, Arc::clone(&self.shared.config))),
        }
    }

    /// Starts a cache with other settings (skew, refresh ahead, backoff, listener).
    pub fn builder(source: S) -> CachedBuilder<S> {
        CachedBuilder::new(source)
    }

    /// Whether two handles are of one cache (clones share their cache).
    pub fn ptr_eq(this: &Self, other: &Self) -> bool {
        Arc::ptr_eq(&this.shared, &other.shared)
    }

    /// Whether anything besides this handle holds the cache: another handle, or a fetch
    /// under way.
    pub(crate) fn in_use(&self) -> bool {
        Arc::strong_count(&self.shared) > 1
    }

    /// The token source behind the cache.
    pub fn source(&self) -> &S {
        &self.shared.source
    }

    /// A valid token: from the cache, or from the one fetch that all callers share.
    ///
    /// This inherent method is what `TokenProvider::token` calls; calling it on a `Cached`
    /// directly also avoids the boxed future of the trait method.
    pub async fn token(&self) -> Result<AccessToken, Error> {
        if let Some(token) = self.current() {
            return Ok(token);
        }
        self.shared.wait_for_fetch().await
    }

    /// The cached token if it is valid now; starts a background refresh when one is due.
    ///
    /// Validity is decided here, from a reading of the clocks, on every call.
    pub fn current(&self) -> Option<AccessToken> {
        let shared = &self.shared;
        let guard = shared.entry.load();
        let entry = guard.as_deref()?;
        let now = Now::read(shared.clock);
        if !entry.is_valid(&now) {
            return None;
        }
        if entry.refresh_due(&now)
            && !entry.refresh_claimed.load(Ordering::Relaxed)
            && !entry.refresh_claimed.swap(true, Ordering::AcqRel)
            && !shared.refresh_ahead()
        {
            // Nothing was started (no runtime here): a later caller may claim it.
            entry.refresh_claimed.store(false, Ordering::Release);
        }
        Counters::bump(&shared.counters.hits);
        #[cfg(feature = "metrics")]
        shared.metrics.hits.increment(1);
        tracing::debug!(target: "tokensmith::cache", source = shared.source.name(), "token cache hit");
        Some(entry.token.clone())
    }

    /// Caches `token` unless a valid one is cached already: for a token obtained outside the
    /// source (the end of an authorization code flow, a stored token), so that the first call
    /// does not fetch again.
    pub fn prime(&self, token: AccessToken) {
        let entry = Arc::new(self.shared.config.entry_for(token));
        let now = Now::read(self.shared.clock);
        self.shared.entry.rcu(|current| match current.as_deref() {
            Some(existing) if existing.is_valid(&now) => current.clone(),
            _ => Some(Arc::clone(&entry)),
        });
    }

    /// Drops `rejected` if it is still the cached token; see [`TokenProvider::invalidate`].
    pub fn invalidate(&self, rejected: &AccessToken) {
        self.shared.invalidate(rejected);
    }

    /// Counters and the current token's remaining validity.
    pub fn stats(&self) -> CacheStats {
        self.shared.stats()
    }
}

#[async_trait]
impl<S: TokenSource> TokenProvider for Cached<S> {
    async fn token(&self) -> Result<AccessToken, Error> {
        Cached::token(self).await
    }

    fn invalidate(&self, rejected: &AccessToken) {
        Cached::invalidate(self, rejected);
    }

    fn current(&self) -> Option<AccessToken> {
        Cached::current(self)
    }
}

impl<S: TokenSource> Shared<S> {
    fn new(source: S, config: Arc<CacheConfig>) -> Self {
        #[cfg(feature = "metrics")]
        let metrics = {
            let endpoint = source.identity().and_then(|identity| {
                identity
                    .parts()
                    .find(|(name, _)| *name == "endpoint")
                    .and_then(|(_, url)| crate::metrics::host_of(url))
            });
            let name = config.metrics_name.as_deref().unwrap_or(source.name());
            crate::metrics::CacheMetrics::new(name, endpoint.as_deref())
        };
        Self {
            source,
            clock: config.clock,
            config,
            entry: ArcSwapOption::empty(),
            flight: Mutex::new(None),
            counters: Counters::default(),
            #[cfg(feature = "metrics")]
            metrics,
        }
    }
}

impl<S> Shared<S> {
    fn lock(&self) -> FlightGuard<'_> {
        // The flight state stays consistent even if a holder panicked: every update is a
        // plain assignment.
        FlightGuard(self.flight.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn stats(&self) -> CacheStats {
        let mut stats = self.counters.snapshot();
        stats.consecutive_failures = self.lock().failures;
        let now = Now::read(self.clock);
        if let Some(entry) = self.entry.load().as_deref().filter(|e| e.is_valid(&now)) {
            stats.has_token = true;
            stats.remaining = entry.valid_until().map(|until| until.left(&now));
        }
        stats
    }

    /// Hands `event` to the listener; a listener that panics is logged and otherwise ignored,
    /// so it can neither take the fetch down nor turn its success into a failure.
    fn emit(&self, event: CacheEvent<'_>) {
        #[cfg(feature = "metrics")]
        match &event {
            CacheEvent::Fetched {
                elapsed,
                refresh_ahead,
                ..
            } => self.metrics.fetched(*elapsed, *refresh_ahead),
            CacheEvent::Failed { error, .. } => self.metrics.failed(error),
            CacheEvent::Invalidated => self.metrics.invalidated(),
        }
        if let Some(listener) = &self.config.listener {
            let call = std::panic::AssertUnwindSafe(|| listener(&event));
            if std::panic::catch_unwind(call).is_err() {
                tracing::warn!(target: "tokensmith::cache", "the cache event listener panicked; event dropped");
            }
        }
    }
}

/// What a caller that found no valid token does next.
enum Next<S: TokenSource> {
    Wait(watch::Receiver<FetchResult>),
    Start(watch::Receiver<FetchResult>, FetchGuard<S>),
}

impl<S: TokenSource> Shared<S> {
    fn valid_token(&self, now: &Now) -> Option<AccessToken> {
        let guard = self.entry.load();
        let entry = guard.as_deref().filter(|e| e.is_valid(now))?;
        Some(entry.token.clone())
    }

    async fn wait_for_fetch(self: &Arc<Self>) -> Result<AccessToken, Error> {
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
    fn refresh_ahead(self: &Arc<Self>) -> bool {
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

    fn invalidate(&self, rejected: &AccessToken) {
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
            self.note_rejection(rejected);
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
    shared: Arc<Shared<S>>,
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
