//! The fleet's own counts through the `metrics` facade (feature `metrics`).

use std::time::Duration;

/// Counts a lookup in a fleet's shared cache (`level` `shared`); feature `metrics`.
pub(crate) fn count_shared_lookup(provider: &str, hit: bool) {
    #[cfg(feature = "metrics")]
    {
        let name = if hit {
            tokensmith_core::metrics::CACHE_HITS
        } else {
            tokensmith_core::metrics::CACHE_MISSES
        };
        metrics::counter!(name, "provider" => provider.to_owned(), "level" => "shared")
            .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (provider, hit);
}

/// Records how long a replica waited on the fleet's lock; feature `metrics`.
pub(crate) fn record_lock_wait(provider: &str, waited: Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(tokensmith_core::metrics::SHARED_LOCK_WAIT, "provider" => provider.to_owned())
        .record(waited.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (provider, waited);
}
