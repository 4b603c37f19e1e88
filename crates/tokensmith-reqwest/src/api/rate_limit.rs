//! A client-side rate limit on `governor`'s GCRA limiter.

use std::time::Duration;

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use tokensmith_core::Error;

/// The widest spacing a rate limit may ask for.
const MAX_SPACING: Duration = Duration::from_secs(24 * 3600);

/// Spaces request starts evenly, one at a time (no bursts).
pub(crate) struct RateLimit {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl RateLimit {
    pub(crate) fn new(requests_per_second: f64) -> Result<Self, Error> {
        if !(requests_per_second.is_finite() && requests_per_second > 0.0) {
            return Err(Error::config(format!(
                "rate limit must be a number above zero, got {requests_per_second}"
            )));
        }
        // A rate so low that its spacing does not fit a `Duration` (1e-20 per second) is
        // refused, not a panic; so is one faster than a nanosecond apart.
        let quota = Duration::try_from_secs_f64(1.0 / requests_per_second)
            .ok()
            .filter(|spacing| *spacing <= MAX_SPACING)
            .and_then(Quota::with_period)
            .ok_or_else(|| {
                Error::config(format!(
                    "rate limit {requests_per_second} per second spaces calls more than a day \
                     apart, or less than a nanosecond"
                ))
            })?;
        Ok(Self {
            limiter: RateLimiter::direct(quota),
            clock: DefaultClock::default(),
        })
    }

    async fn wait(&self) {
        while let Err(not_until) = self.limiter.check() {
            tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
        }
    }
}

#[async_trait]
impl Middleware for RateLimit {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.wait().await;
        next.run(request, extensions).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_out_of_range_are_refused() {
        for rate in [
            0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            1e-20,
            f64::MIN_POSITIVE,
            1e12,
        ] {
            assert!(RateLimit::new(rate).is_err(), "{rate}");
        }
        RateLimit::new(5.0).unwrap();
    }
}
