//! Sending a token request: client authentication, retries, the size cap, and parsing.

mod attempt;

use std::time::Duration;

use http::StatusCode;
use tokensmith_core::{Error, ErrorCode, ErrorKind};
use tokio::time::Instant;
use url::Url;

use crate::HintContext;
use crate::hints::explain;
use crate::response::{RawResponse, parse};
use crate::{ClientAuth, GrantRequest, TokenEndpoint, TokenResponse};

/// A failed attempt, with what decides whether to try again.
struct Failure {
    error: Error,
    retry_after: Option<Duration>,
    /// The request certainly did not reach the server (connect failure) or was refused
    /// unprocessed (429), so even a one-time credential is still unused.
    unprocessed: bool,
    /// The server asked for a DPoP nonce it has just given (RFC 9449 §8): worth one more try.
    wants_nonce: bool,
}

impl Failure {
    /// A failure before anything was sent.
    fn new(error: Error) -> Self {
        Self {
            error,
            retry_after: None,
            unprocessed: false,
            wants_nonce: false,
        }
    }
}

impl TokenEndpoint {
    /// Sends one grant request and reads the answer: a token, or an error with a hint.
    ///
    /// With [`ClientAuth::AutoDetect`] and a repeatable grant, an answer of `invalid_client`
    /// or 401 to Basic authentication is followed by one attempt with the credentials in the
    /// body; what works is kept for later requests.
    pub async fn exchange(&self, request: &GrantRequest<'_>) -> Result<TokenResponse, Error> {
        let call = Call {
            url: &self.inner.url,
            display: &self.inner.display,
            request,
            parse,
        };
        self.call(&call).await
    }

    /// Sends a client-authenticated form request to another endpoint of the same server
    /// (the device authorization endpoint), read by `parse`.
    ///
    /// The endpoint's `timeout` bounds the whole call: probes, retries and their delays.
    pub(crate) async fn call<T>(&self, call: &Call<'_, '_, T>) -> Result<T, Error> {
        let limit = self.inner.timeout;
        let deadline = far_or(Instant::now(), limit);
        match tokio::time::timeout_at(deadline, self.call_within(call, deadline)).await {
            Ok(answer) => answer,
            Err(_) => Err(explain(
                Error::timeout(call.display, limit),
                &self.hint_context(call, self.inner.auth),
                self.inner.vendor.as_deref(),
            )),
        }
    }

    async fn call_within<T>(&self, call: &Call<'_, '_, T>, deadline: Instant) -> Result<T, Error> {
        let style = match self.inner.auth {
            ClientAuth::AutoDetect => match self.inner.learned.get() {
                Some(learned) => learned,
                None if call.request.repeatable => return self.probe(call, deadline).await,
                None => ClientAuth::Basic,
            },
            style => style,
        };
        self.send(call, style, deadline).await.map_err(|e| {
            explain(
                e,
                &self.hint_context(call, style),
                self.inner.vendor.as_deref(),
            )
        })
    }

    async fn probe<T>(&self, call: &Call<'_, '_, T>, deadline: Instant) -> Result<T, Error> {
        let first = match self.send(call, ClientAuth::Basic, deadline).await {
            Ok(answer) => {
                self.inner.learned.set(ClientAuth::Basic);
                return Ok(answer);
            }
            Err(e) if rejects_client(&e) => e,
            Err(e) => {
                return Err(explain(
                    e,
                    &self.hint_context(call, ClientAuth::Basic),
                    self.inner.vendor.as_deref(),
                ));
            }
        };
        tracing::info!(
            target: "tokensmith::oauth2",
            endpoint = %call.display,
            "Basic client authentication refused; trying credentials in the body"
        );
        match self.send(call, ClientAuth::RequestBody, deadline).await {
            Ok(answer) => {
                self.inner.learned.set(ClientAuth::RequestBody);
                Ok(answer)
            }
            Err(second) if rejects_client(&second) => Err(second.with_hint(format!(
                "both client authentication styles were refused: client_secret_basic answered \
                 [{first}], client_secret_post answered as above; the client id or secret is \
                 most likely wrong"
            ))),
            Err(second) => Err(explain(
                second,
                &self.hint_context(call, ClientAuth::RequestBody),
                self.inner.vendor.as_deref(),
            )),
        }
    }

    fn hint_context<'a, T>(
        &'a self,
        call: &'a Call<'_, '_, T>,
        auth: ClientAuth,
    ) -> HintContext<'a> {
        HintContext {
            grant_type: call.request.grant_type,
            auth,
            scope: call.request.scope,
            endpoint: call.display,
            key_id: self.inner.signer.as_deref().and_then(|s| s.key_id()),
            key_alg: self.inner.signer.as_deref().map(|s| s.algorithm()),
            external_assertion: self.inner.assertion.is_some(),
        }
    }

    /// Sends with retries, none of which starts a delay that would end past `deadline`.
    async fn send<T>(
        &self,
        call: &Call<'_, '_, T>,
        style: ClientAuth,
        deadline: Instant,
    ) -> Result<T, Error> {
        let request = call.request;
        let retry = &self.inner.retry;
        let mut attempt = 1;
        let mut nonce_retried = false;
        loop {
            let failure = match self.attempt(call, style, attempt).await {
                Ok(answer) => return Ok(answer),
                Err(failure) => failure,
            };
            if failure.wants_nonce && !nonce_retried {
                // The request was refused before it was processed: once more, with the nonce.
                nonce_retried = true;
                tracing::debug!(target: "tokensmith::oauth2", endpoint = %call.display, "the server asked for a DPoP nonce; retrying once with it");
                tokensmith_http::attach::count_dpop_nonce_retry("token_endpoint");
                continue;
            }
            let may_retry = failure.error.is_retryable()
                && attempt < retry.max_attempts()
                && (request.repeatable || failure.unprocessed);
            if !may_retry {
                return Err(failure.error.with_retry_after(failure.retry_after));
            }
            let delay = retry.delay(attempt, failure.retry_after);
            if Instant::now()
                .checked_add(delay)
                .is_none_or(|at| at >= deadline)
            {
                return Err(failure.error.with_retry_after(failure.retry_after));
            }
            tracing::warn!(
                target: "tokensmith::oauth2",
                endpoint = %call.display,
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %failure.error,
                "token request failed; retrying"
            );
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }
}

/// One form request: where it goes, what it carries, and how its answer is read.
pub(crate) struct Call<'a, 'r, T> {
    pub(crate) url: &'a Url,
    /// The URL as logs and errors show it.
    pub(crate) display: &'a str,
    pub(crate) request: &'a GrantRequest<'r>,
    pub(crate) parse: fn(&RawResponse<'_>) -> Result<T, Error>,
}

/// `now + limit`, or thirty years on when that does not fit.
fn far_or(now: Instant, limit: Duration) -> Instant {
    now.checked_add(limit)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 24 * 3600))
}

/// The answers that make auto-detection try the other style: `invalid_client`, any 401, and
/// a 400 or 403 that is not an OAuth error at all (an empty body, a page), which is how some
/// servers refuse a client authentication style they do not take.
fn rejects_client(error: &Error) -> bool {
    error.status() == Some(StatusCode::UNAUTHORIZED)
        || error
            .oauth()
            .is_some_and(|e| e.code == ErrorCode::InvalidClient)
        || matches!(error.kind(), ErrorKind::UnexpectedResponse(answer)
            if matches!(answer.status, StatusCode::BAD_REQUEST | StatusCode::FORBIDDEN))
}
