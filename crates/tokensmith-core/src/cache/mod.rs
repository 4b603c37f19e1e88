//! The caching provider: one fetch at a time, refresh ahead of expiry, backoff after failures.

pub(crate) mod clock;
mod config;
#[cfg(test)]
mod edge_tests;
mod entry;
mod flight;
mod stats;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwapOption;
use async_trait::async_trait;

use self::clock::ClockSource;
use self::config::CacheConfig;
pub use self::config::{CachedBuilder, RefreshAhead};
use self::entry::{Entry, Now};
use self::flight::{Flight, FlightGuard};
use self::stats::Counters;
pub use self::stats::{CacheEvent, CacheStats};
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
    shared: Arc<CacheState<S>>,
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

struct CacheState<S> {
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

impl<S: TokenSource> Cached<S> {
    /// Caches what `source` fetches, with the default settings.
    pub fn new(source: S) -> Self {
        Self {
            shared: Arc::new(CacheState::new(source, CacheConfig::shared_default())),
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
            shared: Arc::new(CacheState::new(source, Arc::clone(&self.shared.config))),
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

    /// Drops `token` if it is still the cached one, without counting it as a rejection: for a
    /// token that is valid but no longer enough (the resource asked for more scope, and the
    /// source will now ask for it). The next call fetches.
    pub fn replace(&self, token: &AccessToken) {
        self.shared.drop_current(token, false);
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

impl<S: TokenSource> CacheState<S> {
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

impl<S> CacheState<S> {
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
