//! The error type shared by every tokensmith crate.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

/// A cause kept behind an error; shared so that [`Error`] stays `Clone`.
pub type ErrorSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while getting or using a token: a [`kind`](Error::kind) (what
/// failed), a [`hint`](Error::hint) (a sentence naming the likely cause, which `Display`
/// appends), and the underlying error as its `source()`.
///
/// An OAuth error answer from the server ([`ErrorKind::OAuth`]) is kept apart from failures to
/// get any answer ([`ErrorKind::Transport`], [`ErrorKind::Timeout`]) and from answers that are
/// not OAuth at all ([`ErrorKind::UnexpectedResponse`]). When the cache is backing off after
/// failures, the error is the last failure's, with [`retry_in`](Error::retry_in) and
/// [`failures`](Error::failures) set. Errors are `Clone` because a failed fetch is handed to
/// every caller that waited for it; they are one pointer wide. No error ever holds a secret.
///
/// ```
/// use tokensmith_core::{Error, ErrorKind};
///
/// let err = Error::config("no client id").with_hint("set one with `.client_id(..)`");
/// assert!(matches!(err.kind(), ErrorKind::Config { .. }));
/// assert_eq!(err.to_string(), "invalid configuration: no client id (hint: set one with `.client_id(..)`)");
/// ```
#[derive(Clone)]
pub struct Error {
    repr: Box<Repr>,
}

#[derive(Clone)]
struct Repr {
    kind: ErrorKind,
    hint: Option<String>,
    source: Option<ErrorSource>,
    /// Set while the cache backs off: how long until it tries again, and failures so far.
    backoff: Option<(Duration, u32)>,
    /// How long the server asked to wait (`Retry-After`).
    retry_after: Option<Duration>,
}

/// What kind of failure an [`Error`] is. New kinds may be added, and kinds may gain fields
/// (the answers' structs are non-exhaustive too).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The authorization server answered with an OAuth error (RFC 6749 §5.2).
    OAuth(OAuthError),

    /// No HTTP answer: the connection was refused, reset or closed, DNS or TLS failed.
    #[non_exhaustive]
    Transport {
        /// Where the request went (scheme, host, port and path; never a query string).
        endpoint: String,
        /// What failed.
        message: String,
    },

    /// No complete answer within the time allowed.
    #[non_exhaustive]
    Timeout {
        /// Where the request went.
        endpoint: String,
        /// The time allowed.
        after: Duration,
    },

    /// An answer that is neither a token nor an OAuth error: an HTML error page, a truncated or
    /// oversized body, a success without `access_token`.
    UnexpectedResponse(UnexpectedResponse),

    /// The configuration cannot work (a bad URL, a missing credential, an `http://` endpoint).
    #[non_exhaustive]
    Config {
        /// What is wrong.
        message: String,
    },

    /// A token that cannot be used (empty, with characters a header cannot carry, expired on
    /// arrival).
    #[non_exhaustive]
    InvalidToken {
        /// What is wrong with it.
        reason: &'static str,
    },

    /// Refused here for safety, before anything was sent: an authorization callback whose
    /// `state` is not the one sent (RFC 6749 §10.12), say.
    #[non_exhaustive]
    Refused {
        /// Why.
        reason: String,
    },

    /// Any other failure, for providers outside tokensmith.
    #[non_exhaustive]
    Other {
        /// What failed.
        message: String,
    },
}

impl Error {
    fn new(kind: ErrorKind) -> Self {
        Self {
            repr: Box::new(Repr {
                kind,
                hint: None,
                source: None,
                backoff: None,
                retry_after: None,
            }),
        }
    }

    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config {
            message: message.into(),
        })
    }

    /// A transport failure talking to `endpoint`.
    pub fn transport(
        endpoint: impl Into<String>,
        message: impl Into<String>,
        source: Option<ErrorSource>,
    ) -> Self {
        let mut error = Self::new(ErrorKind::Transport {
            endpoint: endpoint.into(),
            message: message.into(),
        });
        error.repr.source = source;
        error
    }

    /// A timeout talking to `endpoint`.
    pub fn timeout(endpoint: impl Into<String>, after: Duration) -> Self {
        Self::new(ErrorKind::Timeout {
            endpoint: endpoint.into(),
            after,
        })
    }

    /// A token that cannot be used.
    pub fn invalid_token(reason: &'static str) -> Self {
        Self::new(ErrorKind::InvalidToken { reason })
    }

    /// Something refused for safety before anything was sent.
    pub fn refused(reason: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused {
            reason: reason.into(),
        })
    }

    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Other {
            message: message.into(),
        })
    }

    /// `last`, while the cache backs off: `failures` in a row, the next fetch in `retry_in`.
    pub(crate) fn backing_off(mut last: Self, retry_in: Duration, failures: u32) -> Self {
        last.repr.backoff = Some((retry_in, failures));
        last
    }

    /// The same error with `source` as its underlying cause.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.repr.source = Some(Arc::new(source));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> &ErrorKind {
        &self.repr.kind
    }

    /// A sentence naming the likely cause, when one is known.
    pub fn hint(&self) -> Option<&str> {
        self.repr.hint.as_deref()
    }

    /// Replaces the hint.
    #[must_use]
    pub fn with_hint(mut self, text: impl Into<String>) -> Self {
        self.repr.hint = Some(text.into());
        self
    }

    /// How long the server asked to wait before the next request (`Retry-After` on a 429 or
    /// 503 answer, RFC 9110 §10.2.3), measured when the answer arrived.
    pub fn retry_after(&self) -> Option<Duration> {
        self.repr.retry_after
    }

    /// The same error with the server's `Retry-After`.
    #[must_use]
    pub fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        self.repr.retry_after = wait;
        self
    }

    /// While the cache backs off after failures: how long until it asks the token source
    /// again.
    pub fn retry_in(&self) -> Option<Duration> {
        self.repr.backoff.map(|(retry_in, _)| retry_in)
    }

    /// While the cache backs off: how many fetches (or fresh tokens) failed in a row.
    pub fn failures(&self) -> Option<u32> {
        self.repr.backoff.map(|(_, failures)| failures)
    }

    /// Whether trying again later may succeed: transport failures, timeouts, 5xx and 429
    /// answers, `temporarily_unavailable`, and anything the cache is backing off from. OAuth
    /// 4xx errors and configuration errors are final.
    pub fn is_retryable(&self) -> bool {
        if self.repr.backoff.is_some() {
            return true;
        }
        match &self.repr.kind {
            ErrorKind::OAuth(e) => {
                matches!(
                    e.code,
                    ErrorCode::TemporarilyUnavailable | ErrorCode::ServerError
                ) || retryable_status(e.status)
            }
            ErrorKind::UnexpectedResponse(e) => retryable_status(e.status),
            ErrorKind::Transport { .. } | ErrorKind::Timeout { .. } => true,
            _ => false,
        }
    }

    /// The HTTP status of the answer this error came from, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match &self.repr.kind {
            ErrorKind::OAuth(e) => Some(e.status),
            ErrorKind::UnexpectedResponse(e) => Some(e.status),
            _ => None,
        }
    }

    /// The OAuth error answer, if this is one.
    pub fn oauth(&self) -> Option<&OAuthError> {
        match &self.repr.kind {
            ErrorKind::OAuth(e) => Some(e),
            _ => None,
        }
    }

    /// The answer that was neither a token nor an OAuth error, if this is one.
    pub fn unexpected(&self) -> Option<&UnexpectedResponse> {
        match &self.repr.kind {
            ErrorKind::UnexpectedResponse(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OAuth(e) => e.fmt(f),
            Self::Transport { endpoint, message } => {
                write!(f, "could not reach {endpoint}: {message}")
            }
            Self::Timeout { endpoint, after } => {
                write!(f, "no answer from {endpoint} within {after:?}")
            }
            Self::UnexpectedResponse(e) => e.fmt(f),
            Self::Config { message } => write!(f, "invalid configuration: {message}"),
            Self::InvalidToken { reason } => write!(f, "unusable access token: {reason}"),
            Self::Refused { reason } => f.write_str(reason),
            Self::Other { message } => f.write_str(message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((retry_in, failures)) = self.repr.backoff {
            write!(
                f,
                "{failures} token failure(s) in a row; next fetch in {retry_in:?}; last error: "
            )?;
        }
        self.repr.kind.fmt(f)?;
        Hint(&self.repr.hint).fmt(f)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug.field("kind", &self.repr.kind);
        if let Some(hint) = &self.repr.hint {
            debug.field("hint", hint);
        }
        if let Some((retry_in, failures)) = self.repr.backoff {
            debug
                .field("retry_in", &retry_in)
                .field("failures", &failures);
        }
        if let Some(retry_after) = self.repr.retry_after {
            debug.field("retry_after", &retry_after);
        }
        if let Some(source) = &self.repr.source {
            debug.field("source", source);
        }
        debug.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.repr
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<OAuthError> for Error {
    fn from(e: OAuthError) -> Self {
        Self::new(ErrorKind::OAuth(e))
    }
}

impl From<UnexpectedResponse> for Error {
    fn from(e: UnexpectedResponse) -> Self {
        Self::new(ErrorKind::UnexpectedResponse(e))
    }
}

fn retryable_status(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

/// Formats an optional hint as a suffix of an error message.
struct Hint<'a>(&'a Option<String>);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(hint) => write!(f, " (hint: {hint})"),
            None => Ok(()),
        }
    }
}

mod answer;

pub use self::answer::{ErrorCode, MAX_CODE_CHARS, OAuthError, UnexpectedResponse};

#[cfg(test)]
mod tests;
