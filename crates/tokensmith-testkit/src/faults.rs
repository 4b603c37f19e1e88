//! Fault injection: make the next requests, or a share of them, fail in a chosen way.

use std::time::Duration;

/// A way for the server to misbehave.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status and body instead of handling the request.
    Status {
        /// HTTP status.
        status: u16,
        /// `Content-Type` of the body.
        content_type: String,
        /// The body.
        body: String,
        /// A `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// A 200 answer whose JSON body is malformed.
    MalformedJson,
    /// A 200 answer whose JSON body stops halfway.
    TruncatedJson,
    /// A successful token answer sent as `application/x-www-form-urlencoded`.
    FormEncodedSuccess,
    /// A successful token answer with `expires_in` as a string (`"3600"`).
    ExpiresInAsString,
    /// Send the status line and headers, then close the connection mid-body.
    CloseConnection,
}

impl Fault {
    /// `status` with a plain-text body.
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Self::Status {
            status,
            content_type: "text/plain".into(),
            body: body.into(),
            retry_after: None,
        }
    }

    /// 503 Service Unavailable.
    pub fn service_unavailable() -> Self {
        Self::status(503, "service unavailable")
    }

    /// 429 Too Many Requests with `Retry-After: seconds`.
    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        Self::Status {
            status: 429,
            content_type: "text/plain".into(),
            body: "too many requests".into(),
            retry_after: Some(retry_after_seconds),
        }
    }

    /// A gateway's HTML error page with the given status (500, 502, …).
    pub fn html_error(status: u16) -> Self {
        Self::Status {
            status,
            content_type: "text/html".into(),
            body: format!(
                "<html><head><title>{status} Error</title></head><body><h1>{status} Error</h1>\
                 <p>The server encountered an error.</p></body></html>"
            ),
            retry_after: None,
        }
    }
}

/// Which endpoint a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// The token endpoint.
    Token,
    /// The protected API.
    Api,
}

#[derive(Debug)]
pub(crate) struct FaultPlan {
    pub(crate) target: Target,
    pub(crate) fault: Fault,
    pub(crate) how: Schedule,
}

#[derive(Debug)]
pub(crate) enum Schedule {
    /// The next `n` requests.
    Next(u32),
    /// Exactly `share` of the requests, spread evenly: request `k` fails when
    /// `floor(k * share)` grows.
    Share { share: f64, seen: u64 },
}

impl FaultPlan {
    /// Whether this request gets the fault; advances the schedule.
    pub(crate) fn fires(&mut self) -> bool {
        match &mut self.how {
            Schedule::Next(0) => false,
            Schedule::Next(n) => {
                *n -= 1;
                true
            }
            Schedule::Share { share, seen } => {
                let before = (*seen as f64 * *share).floor();
                *seen += 1;
                (*seen as f64 * *share).floor() > before
            }
        }
    }

    pub(crate) fn is_spent(&self) -> bool {
        matches!(self.how, Schedule::Next(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_n_then_nothing() {
        let mut plan = FaultPlan {
            target: Target::Token,
            fault: Fault::MalformedJson,
            how: Schedule::Next(2),
        };
        assert_eq!(
            [plan.fires(), plan.fires(), plan.fires()],
            [true, true, false]
        );
        assert!(plan.is_spent());
    }

    #[test]
    fn a_share_is_exact_and_even() {
        let mut plan = FaultPlan {
            target: Target::Api,
            fault: Fault::MalformedJson,
            how: Schedule::Share {
                share: 0.25,
                seen: 0,
            },
        };
        let fired: Vec<bool> = (0..8).map(|_| plan.fires()).collect();
        assert_eq!(
            fired,
            [false, false, false, true, false, false, false, true]
        );
    }
}
