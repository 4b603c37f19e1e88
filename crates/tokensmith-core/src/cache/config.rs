//! How long a cached token counts as valid, and when it is refreshed ahead of expiry.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::clock::ClockSource;
use super::entry::Entry;
use super::stats::{CacheEvent, Listener};
use super::{CacheState, Cached};
use crate::backoff::random_unit;
use crate::token::add_saturating;
use crate::{AccessToken, Backoff, Error, TokenSource};

/// The settings of a [`Cached`] provider.
#[derive(Clone)]
pub(crate) struct CacheConfig {
    pub(crate) skew: Duration,
    pub(crate) refresh: Option<RefreshAhead>,
    pub(crate) backoff: Backoff,
    pub(crate) default_lifetime: Option<Duration>,
    pub(crate) listener: Option<Listener>,
    pub(crate) load_timeout: Duration,
    pub(crate) clock: ClockSource,
    /// The `provider` label of this cache's metrics.
    pub(crate) metrics_name: Option<String>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            skew: Duration::from_secs(30),
            refresh: Some(RefreshAhead::default()),
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(30)),
            default_lifetime: None,
            listener: None,
            load_timeout: Duration::from_secs(30),
            clock: ClockSource::System,
            metrics_name: None,
        }
    }
}

/// When a token is refreshed in the background before it expires.
///
/// The window before expiry is `fraction` of the token's lifetime, clamped to `[min, max]`,
/// shortened by a random share of up to `jitter`, and never more than half of the token's
/// usable lifetime (so a token that lives less than `min` is not refreshed on every call).
///
/// ```
/// use std::time::Duration;
/// use tokensmith_core::RefreshAhead;
///
/// let late = RefreshAhead::new(0.1, Duration::from_secs(10), Duration::from_secs(60)).with_jitter(0.0);
/// assert_eq!(late.max, Duration::from_secs(60));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RefreshAhead {
    /// Share of the lifetime (default 0.2).
    pub fraction: f64,
    /// Shortest window (default 30 s).
    pub min: Duration,
    /// Longest window (default 5 min).
    pub max: Duration,
    /// Largest random share taken off the window (default 0.2), so that processes sharing a
    /// client do not all refresh in the same second.
    pub jitter: f64,
}

impl RefreshAhead {
    /// A window of `fraction` of the lifetime, clamped to `[min, max]`, with the default
    /// jitter (0.2).
    pub fn new(fraction: f64, min: Duration, max: Duration) -> Self {
        Self {
            fraction,
            min,
            max,
            ..Self::default()
        }
    }

    /// The largest random share taken off the window (0 for none).
    #[must_use]
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }
}

impl Default for RefreshAhead {
    fn default() -> Self {
        Self {
            fraction: 0.2,
            min: Duration::from_secs(30),
            max: Duration::from_secs(300),
            jitter: 0.2,
        }
    }
}

impl CacheConfig {
    /// The default settings, one copy for every cache that keeps them.
    pub(crate) fn shared_default() -> Arc<Self> {
        static DEFAULT: std::sync::OnceLock<Arc<CacheConfig>> = std::sync::OnceLock::new();
        Arc::clone(DEFAULT.get_or_init(|| Arc::new(CacheConfig::default())))
    }

    pub(crate) fn entry_for(&self, token: AccessToken) -> Entry {
        let issued = token.issued_at();
        let expires_at = token
            .expires_at()
            .or_else(|| self.default_lifetime.map(|d| add_saturating(issued, d)));
        let Some(expires_at) = expires_at else {
            return Entry::new(token, None, None, self.clock);
        };
        let lifetime = expires_at.saturating_duration_since(issued);
        let skew = self.skew.min(lifetime / 10);
        let valid_until = expires_at.checked_sub(skew).unwrap_or(issued);
        let refresh_at = self.refresh.map(|refresh| {
            let usable = lifetime.saturating_sub(skew);
            let clamped = lifetime
                .mul_f64(refresh.fraction)
                .clamp(refresh.min, refresh.max);
            // Through f64 so that a window near `Duration::MAX` cannot overflow.
            let jittered = clamped.as_secs_f64() * (1.0 - refresh.jitter * random_unit());
            let window = Duration::try_from_secs_f64(jittered)
                .unwrap_or(clamped)
                .min(usable / 2);
            valid_until.checked_sub(window).unwrap_or(issued)
        });
        Entry::new(token, Some(valid_until), refresh_at, self.clock)
    }
}

/// Builds a [`Cached`] provider; see [`Cached::builder`].
pub struct CachedBuilder<S> {
    source: S,
    /// Only once a setting changes: a cache with the defaults shares their one copy.
    config: Option<CacheConfig>,
}

impl<S: TokenSource> CachedBuilder<S> {
    pub(crate) fn new(source: S) -> Self {
        Self {
            source,
            config: None,
        }
    }

    fn config(&mut self) -> &mut CacheConfig {
        self.config.get_or_insert_with(CacheConfig::default)
    }

    /// A token counts as expired this long before its stated expiry (default 30 s), but never
    /// more than a tenth of its lifetime, so that short-lived tokens stay usable.
    #[must_use]
    pub fn skew(mut self, skew: Duration) -> Self {
        self.config().skew = skew;
        self
    }

    /// How to refresh ahead of expiry (see [`RefreshAhead`]; on by default).
    #[must_use]
    pub fn refresh_ahead(mut self, refresh: RefreshAhead) -> Self {
        self.config().refresh = Some(refresh);
        self
    }

    /// Never refresh ahead: fetch only once the token has expired or was invalidated.
    #[must_use]
    pub fn no_refresh_ahead(mut self) -> Self {
        self.config().refresh = None;
        self
    }

    /// The spacing of fetch attempts after consecutive failures (default 1 s doubling to 30 s).
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config().backoff = backoff;
        self
    }

    /// The lifetime assumed for tokens that state none (default: valid until invalidated).
    #[must_use]
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.config().default_lifetime = Some(lifetime);
        self
    }

    /// The longest a fetch may take (default 30 s), saving to a token store included. A fetch
    /// that takes longer fails with [`ErrorKind::Timeout`](crate::ErrorKind::Timeout), and its waiters get that error.
    #[must_use]
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.config().load_timeout = timeout;
        self
    }

    /// Reads Tokio's clock instead of the system's, so that a test that pauses and advances
    /// it (`tokio::time::pause`, `#[tokio::test(start_paused = true)]`) moves the cache with
    /// it: tokens expire and refresh as the paused clock says. For tests of pure logic; a hit
    /// then costs a full clock read, and a host suspend goes unnoticed.
    #[must_use]
    pub fn follow_tokio_clock(mut self) -> Self {
        self.config().clock = ClockSource::Tokio;
        self
    }

    /// The `provider` label of this cache's metrics (feature `metrics`; default: the source's
    /// name, such as `client_credentials`). Keep it a fixed name such as `billing-api`: labels
    /// with many values cost the metrics backend.
    #[must_use]
    pub fn metrics_name(mut self, name: impl Into<String>) -> Self {
        self.config().metrics_name = Some(name.into());
        self
    }

    /// Calls `listener` when a token is fetched, a fetch fails, or a token is invalidated.
    /// It runs inline on the fetching task: keep it short and non-blocking. A listener that
    /// panics loses that event and nothing else.
    #[must_use]
    pub fn on_event(mut self, listener: impl Fn(&CacheEvent<'_>) + Send + Sync + 'static) -> Self {
        self.config().listener = Some(Arc::new(listener));
        self
    }

    /// Checks the settings and builds the provider.
    pub fn build(self) -> Result<Cached<S>, Error> {
        let Some(config) = self.config else {
            return Ok(Cached::new(self.source));
        };
        if let Some(refresh) = &config.refresh {
            if !(refresh.fraction > 0.0 && refresh.fraction <= 1.0) {
                return Err(Error::config(format!(
                    "refresh-ahead fraction must be in (0, 1], got {}",
                    refresh.fraction
                )));
            }
            if !(0.0..1.0).contains(&refresh.jitter) {
                return Err(Error::config(format!(
                    "refresh-ahead jitter must be in [0, 1), got {}",
                    refresh.jitter
                )));
            }
            if !(refresh.fraction.is_finite() && refresh.jitter.is_finite()) {
                return Err(Error::config(
                    "refresh-ahead settings must be finite numbers",
                ));
            }
            if refresh.min > refresh.max {
                return Err(Error::config(format!(
                    "refresh-ahead window minimum {:?} is above its maximum {:?}",
                    refresh.min, refresh.max
                )));
            }
        }
        if config.backoff.initial().is_zero() {
            return Err(Error::config(
                "the failure backoff must start above zero, or a broken endpoint gets one request per caller",
            ));
        }
        if config.load_timeout.is_zero() {
            return Err(Error::config(
                "the load timeout must be above zero, or every fetch fails at once",
            ));
        }
        if config.default_lifetime.is_some_and(|d| d.is_zero()) {
            return Err(Error::config(
                "the default token lifetime must be above zero",
            ));
        }
        Ok(Cached {
            shared: Arc::new(CacheState::new(self.source, Arc::new(config))),
        })
    }
}

impl<S> fmt::Debug for CachedBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = CacheConfig::default();
        let config = self.config.as_ref().unwrap_or(&default);
        f.debug_struct("CachedBuilder")
            .field("skew", &config.skew)
            .field("refresh", &config.refresh)
            .field("backoff", &config.backoff)
            .field("default_lifetime", &config.default_lifetime)
            .field("load_timeout", &config.load_timeout)
            .field("clock", &config.clock)
            .finish_non_exhaustive()
    }
}
