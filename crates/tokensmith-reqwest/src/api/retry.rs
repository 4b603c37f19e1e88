//! Retries of rate-limited answers, honouring `Retry-After`.
//!
//! reqwest-retry's middleware (0.9) does not read `Retry-After`, which is what rate-limited
//! vendors send; this one does, with core's [`RetryPolicy`] for the schedule when they do not.

use std::time::Duration;

use async_trait::async_trait;
use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};
use tokensmith_core::RetryPolicy;
use tokensmith_http::retry_after;

/// The wait before try `failed + 1` under `policy`, or `None` when `response` is not one to
/// retry: `429 Too Many Requests`, or `503 Service Unavailable` with `Retry-After`.
fn delay(policy: &RetryPolicy, failed: u32, response: &Response) -> Option<Duration> {
    let asked = retry_after(response.headers());
    match response.status() {
        StatusCode::TOO_MANY_REQUESTS => {}
        StatusCode::SERVICE_UNAVAILABLE if asked.is_some() => {}
        _ => return None,
    }
    Some(policy.delay(failed, asked))
}

/// Retries answers that ask the caller to come back later, waiting what `Retry-After` says
/// (capped) or else the backoff's next delay, for a bounded number of tries. A request whose
/// body cannot be replayed (a stream) is not retried.
pub(crate) struct RetryMiddleware {
    pub(crate) policy: RetryPolicy,
    pub(crate) vendor: &'static str,
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
            let replay = if failed + 1 < self.policy.max_attempts() {
                request.try_clone()
            } else {
                None
            };
            let response = next.clone().run(request, extensions).await?;
            let (Some(replay), Some(delay)) = (replay, delay(&self.policy, failed + 1, &response))
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
