//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`), for
//! whichever exporter the application installs (Prometheus, OpenTelemetry, StatsD).
//!
//! Names follow what operators of token clients already chart (Duende's
//! AccessTokenManagement counts tokens retrieved, retrieval failures, 401 retries and DPoP
//! nonce retries):
//!
//! | name | kind | labels |
//! | --- | --- | --- |
//! | [`TOKEN_RETRIEVED`] | counter | `provider`, `endpoint` |
//! | [`TOKEN_RETRIEVAL_FAILED`] | counter | `provider`, `endpoint`, `kind` |
//! | [`TOKEN_REFRESH_AHEAD`] | counter | `provider`, `endpoint` |
//! | [`TOKEN_INVALIDATED`] | counter | `provider`, `endpoint` |
//! | [`TOKEN_FETCH_DURATION`] | histogram, seconds | `provider`, `endpoint` |
//! | [`CACHE_HITS`], [`CACHE_MISSES`] | counter | `provider`, `endpoint`, `level` (`memory`, `shared`) |
//! | [`SHARED_LOCK_WAIT`] | histogram, seconds | `provider` |
//! | [`UNAUTHORIZED_RETRIES`] | counter | `layer` (`reqwest`, `tower`) |
//! | [`DPOP_NONCE_RETRIES`] | counter | `layer` (`reqwest`, `tower`, `token_endpoint`) |
//!
//! Labels are bounded and hold no secret: `provider` is the name given with
//! [`CachedBuilder::metrics_name`](crate::CachedBuilder::metrics_name) (else the source's
//! name, such as `client_credentials`), `endpoint` the token endpoint's host only, `kind` an
//! [`ErrorKind`] name. Install the recorder before building providers: a
//! provider takes its handles when it is built.

use std::time::Duration;

use metrics::{Counter, Histogram, Label};

use crate::{Error, ErrorKind};

/// Tokens fetched from a token source.
pub const TOKEN_RETRIEVED: &str = "tokensmith.token.retrieved";
/// Fetches that failed.
pub const TOKEN_RETRIEVAL_FAILED: &str = "tokensmith.token.retrieval_failed";
/// Fetches started ahead of expiry while the old token kept serving.
pub const TOKEN_REFRESH_AHEAD: &str = "tokensmith.token.refresh_ahead";
/// Tokens dropped because a resource server refused them.
pub const TOKEN_INVALIDATED: &str = "tokensmith.token.invalidated";
/// How long fetches took.
pub const TOKEN_FETCH_DURATION: &str = "tokensmith.token.fetch_duration";
/// Calls answered from a cache level.
pub const CACHE_HITS: &str = "tokensmith.cache.hits";
/// Calls that found no valid token at a cache level.
pub const CACHE_MISSES: &str = "tokensmith.cache.misses";
/// How long a replica waited for the fleet's lock or for the replica that held it.
pub const SHARED_LOCK_WAIT: &str = "tokensmith.shared.lock_wait";
/// Requests sent again with a fresh token after a 401.
pub const UNAUTHORIZED_RETRIES: &str = "tokensmith.http.unauthorized_retries";
/// Requests sent again with a DPoP nonce the server asked for.
pub const DPOP_NONCE_RETRIES: &str = "tokensmith.http.dpop_nonce_retries";

/// A cache's handles, taken once when it is built.
pub(crate) struct CacheMetrics {
    labels: Vec<Label>,
    pub(crate) hits: Counter,
    pub(crate) misses: Counter,
    retrieved: Counter,
    refresh_ahead: Counter,
    invalidated: Counter,
    duration: Histogram,
}

impl CacheMetrics {
    pub(crate) fn new(provider: &str, endpoint: Option<&str>) -> Self {
        let labels = vec![
            Label::new("provider", provider.to_owned()),
            Label::new("endpoint", endpoint.unwrap_or("").to_owned()),
        ];
        let level = |level: &'static str| {
            let mut with = labels.clone();
            with.push(Label::new("level", level));
            with
        };
        Self {
            hits: metrics::counter!(CACHE_HITS, level("memory")),
            misses: metrics::counter!(CACHE_MISSES, level("memory")),
            retrieved: metrics::counter!(TOKEN_RETRIEVED, labels.clone()),
            refresh_ahead: metrics::counter!(TOKEN_REFRESH_AHEAD, labels.clone()),
            invalidated: metrics::counter!(TOKEN_INVALIDATED, labels.clone()),
            duration: metrics::histogram!(TOKEN_FETCH_DURATION, labels.clone()),
            labels,
        }
    }

    pub(crate) fn fetched(&self, elapsed: Duration, refresh_ahead: bool) {
        self.retrieved.increment(1);
        self.duration.record(elapsed.as_secs_f64());
        if refresh_ahead {
            self.refresh_ahead.increment(1);
        }
    }

    pub(crate) fn failed(&self, error: &Error) {
        let mut labels = self.labels.clone();
        labels.push(Label::new("kind", kind_name(error.kind())));
        metrics::counter!(TOKEN_RETRIEVAL_FAILED, labels).increment(1);
    }

    pub(crate) fn invalidated(&self) {
        self.invalidated.increment(1);
    }
}

/// The label value for an error kind.
pub(crate) fn kind_name(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::OAuth(_) => "oauth",
        ErrorKind::Transport { .. } => "transport",
        ErrorKind::Timeout { .. } => "timeout",
        ErrorKind::UnexpectedResponse(_) => "unexpected_response",
        ErrorKind::Config { .. } => "config",
        ErrorKind::InvalidToken { .. } => "invalid_token",
        ErrorKind::Refused { .. } => "refused",
        _ => "other",
    }
}

/// The host of an endpoint URL shown by `display_url` (no user info, query or path kept).
pub(crate) fn host_of(endpoint: &str) -> Option<String> {
    url::Url::parse(endpoint)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
}
