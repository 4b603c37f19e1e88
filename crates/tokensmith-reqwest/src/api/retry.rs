//! Retries of rate-limited answers, honouring `Retry-After`.
//!
//! reqwest-retry's middleware (0.9) does not read `Retry-After`, which is what rate-limited
//! vendors send; this one does, with core's [`Backoff`] for the schedule when they do not.

use std::time::Duration;

use async_trait::async_trait;
use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};
use tokensmith_core::Backoff;
use tokensmith_core::internal::retry_after;

/// How answers that ask the caller to come back later are retried: `429 Too Many Requests`
/// (and `503 Service Unavailable` when it carries `Retry-After`), waiting what `Retry-After`
/// says (capped) or else the backoff's next delay, for a bounded number of tries. A request
/// whose body cannot be replayed (a stream) is not retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    tries: u32,
    backoff: Backoff,
    max_retry_after: Duration,
}

impl Retry {
    /// The default: 3 tries, 1 s doubling to 30 s with up to 50% jitter, `Retry-After` up to
    /// 60 s (Entra ID asks for 60).
    pub fn on_rate_limit() -> Self {
        Self {
            tries: 3,
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(30)).with_jitter(0.5),
            max_retry_after: Duration::from_secs(60),
        }
    }

    /// No retries: the first answer is returned.
    pub fn none() -> Self {
        Self {
            tries: 1,
            ..Self::on_rate_limit()
        }
    }

    /// Tries in all, the first included (1 to 10).
    #[must_use]
    pub fn tries(mut self, tries: u32) -> Self {
        self.tries = tries.clamp(1, 10);
        self
    }

    /// The delays when the answer has no `Retry-After`.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The longest `Retry-After` honoured; a longer one is cut to this.
    #[must_use]
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.max_retry_after = cap;
        self
    }

    /// Tries in all.
    pub fn tries_allowed(&self) -> u32 {
        self.tries
    }

    pub(crate) fn into_middleware(self, vendor: &'static str) -> RetryMiddleware {
        RetryMiddleware {
            retry: self,
            vendor,
        }
    }

    /// The wait before try `failed + 1`, or `None` when `response` is not one to retry.
    fn delay(&self, failed: u32, response: &Response) -> Option<Duration> {
        let asked = retry_after(response.headers());
        match response.status() {
            StatusCode::TOO_MANY_REQUESTS => {}
            StatusCode::SERVICE_UNAVAILABLE if asked.is_some() => {}
            _ => return None,
        }
        Some(match asked {
            Some(asked) => asked.min(self.max_retry_after),
            None => self.backoff.delay(failed),
        })
    }
}

pub(crate) struct RetryMiddleware {
    retry: Retry,
    vendor: &'static str,
}

#[async_trait]
impl Middleware for RetryMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let mut request = request;
        let mut failed = 0;
        loop {
            let replay = if failed + 1 < self.retry.tries {
                request.try_clone()
            } else {
                None
            };
            let response = next.clone().run(request, extensions).await?;
            let (Some(replay), Some(delay)) = (replay, self.retry.delay(failed + 1, &response))
            else {
                return Ok(response);
            };
            failed += 1;
            tracing::warn!(
                target: "tokensmith::api",
                vendor = self.vendor,
                status = response.status().as_u16(),
                attempt = failed,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "rate limited; waiting before the next try"
            );
            drop(response);
            tokio::time::sleep(delay).await;
            request = replay;
        }
    }
}
