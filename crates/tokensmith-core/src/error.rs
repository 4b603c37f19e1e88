//! The error type shared by every tokensmith crate.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

/// A cause kept behind an error; shared so that [`Error`] stays `Clone`.
pub type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

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
    source: Option<SharedError>,
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
        source: Option<SharedError>,
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

/// An OAuth error answer (RFC 6749 §5.2), also in the non-standard shapes some vendors use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthError {
    /// The HTTP status of the answer (400 or 401 per RFC 6749; some servers say 200).
    pub status: StatusCode,
    /// The error code, normalised (`Invalid_request` is [`ErrorCode::InvalidRequest`]).
    pub code: ErrorCode,
    /// The code exactly as the server sent it.
    pub original_code: String,
    /// RFC 6749 §5.2 `error_description`: human-readable text from the server.
    pub description: Option<String>,
    /// RFC 6749 §5.2 `error_uri`: a page about the error.
    pub uri: Option<String>,
}

impl OAuthError {
    /// An error answer with the given status and code, as the server spelled it.
    ///
    /// The code is cut to [`MAX_CODE_CHARS`] characters, without control characters: a code is
    /// a short word, and a server that sends a page of text there must not grow every copy of
    /// this error.
    pub fn new(status: StatusCode, code: impl Into<String>) -> Self {
        let original_code = bounded_code(&code.into());
        Self {
            status,
            code: ErrorCode::parse(&original_code),
            original_code,
            description: None,
            uri: None,
        }
    }

    /// Sets `error_description`.
    #[must_use]
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets `error_uri`.
    #[must_use]
    pub fn with_uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = Some(uri.into());
        self
    }

    /// The same answer with every text the server chose passed through `mask`: what a
    /// client calls with its secrets-masking excerpt function (`tokensmith_http::scrub`).
    /// Servers echo what they were sent, in any field, so every field is masked, the
    /// normalised code included: a code the RFCs define is a public word and stays as it is;
    /// any other code is derived again from the masked text.
    #[must_use]
    pub fn masked_with(mut self, mask: impl Fn(&str) -> String) -> Self {
        self.description = self.description.as_deref().map(&mask);
        self.uri = self.uri.as_deref().map(&mask);
        self.original_code = mask(&self.original_code);
        if let ErrorCode::Other(code) = &self.code
            && !REGISTERED_CODES.contains(&code.as_str())
        {
            self.code = ErrorCode::parse(&self.original_code);
        }
        self
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "token endpoint answered HTTP {} `{}`",
            self.status.as_u16(),
            self.original_code
        )?;
        if let Some(description) = &self.description {
            write!(f, ": {description}")?;
        }
        if let Some(uri) = &self.uri {
            write!(f, " (see {uri})")?;
        }
        Ok(())
    }
}

/// Error codes registered beyond [`ErrorCode`]'s (the IANA OAuth Extensions Error registry):
/// public words, kept as they are when an answer is masked, so that a secret that happens to
/// be part of one (`nonce`, say) cannot hide what the server asked for.
const REGISTERED_CODES: &[&str] = &[
    "use_dpop_nonce",
    "invalid_dpop_proof",
    "invalid_target",
    "invalid_client_metadata",
    "invalid_redirect_uri",
    "invalid_software_statement",
    "unapproved_software_statement",
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
    "invalid_authorization_details",
    "unsupported_token_type",
    "unsupported_response_type",
];

/// The longest error code kept, in characters (RFC 6749 §5.2 codes are at most 25).
pub const MAX_CODE_CHARS: usize = 64;

/// `code` without control characters, cut to [`MAX_CODE_CHARS`] characters.
fn bounded_code(code: &str) -> String {
    let mut out: String = code
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_CODE_CHARS)
        .collect();
    if code
        .chars()
        .filter(|c| !c.is_control())
        .nth(MAX_CODE_CHARS)
        .is_some()
    {
        out.push('…');
    }
    out
}

/// The OAuth error codes of RFC 6749 §5.2, RFC 6750 §3.1 and RFC 8628 §3.5, matched without
/// regard to case, `-` or spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request`: a parameter is missing, repeated or malformed.
    InvalidRequest,
    /// `invalid_client`: client authentication failed.
    InvalidClient,
    /// `invalid_grant`: the grant (code, refresh token, password) is invalid, expired or revoked,
    /// or the redirect URI does not match.
    InvalidGrant,
    /// `unauthorized_client`: this client may not use this grant.
    UnauthorizedClient,
    /// `unsupported_grant_type`: the server does not know the grant type.
    UnsupportedGrantType,
    /// `invalid_scope`: the scope is invalid, unknown or exceeds what was granted.
    InvalidScope,
    /// `access_denied`: the user or server refused.
    AccessDenied,
    /// `server_error`.
    ServerError,
    /// `temporarily_unavailable`.
    TemporarilyUnavailable,
    /// `authorization_pending` (RFC 8628): the user has not finished yet.
    AuthorizationPending,
    /// `slow_down` (RFC 8628): poll less often.
    SlowDown,
    /// `expired_token` (RFC 8628): the device code expired.
    ExpiredToken,
    /// `invalid_token` (RFC 6750): the access token was rejected.
    InvalidToken,
    /// `insufficient_scope` (RFC 6750).
    InsufficientScope,
    /// Any other code, normalised to lower case with `_`.
    Other(String),
}

impl ErrorCode {
    /// Reads a code in any case, with `-` or spaces for `_`; an unknown code is kept to
    /// [`MAX_CODE_CHARS`] characters.
    pub fn parse(code: &str) -> Self {
        let normal: String = code
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_CODE_CHARS)
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        match normal.as_str() {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "authorization_pending" => Self::AuthorizationPending,
            "slow_down" => Self::SlowDown,
            "expired_token" => Self::ExpiredToken,
            "invalid_token" => Self::InvalidToken,
            "insufficient_scope" => Self::InsufficientScope,
            _ => Self::Other(normal),
        }
    }

    /// The standard spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::Other(other) => other,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An answer that is neither a token nor an OAuth error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnexpectedResponse {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// What was wrong with it.
    pub reason: String,
    /// The start of the body (at most 200 characters), with anything that looks like a
    /// secret masked.
    pub excerpt: String,
}

impl UnexpectedResponse {
    /// An unexpected answer; `excerpt` must already be scrubbed.
    pub fn new(
        status: StatusCode,
        content_type: Option<String>,
        reason: impl Into<String>,
        excerpt: impl Into<String>,
    ) -> Self {
        Self {
            status,
            content_type,
            reason: reason.into(),
            excerpt: excerpt.into(),
        }
    }
}

impl fmt::Display for UnexpectedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unexpected answer (HTTP {}", self.status.as_u16())?;
        if let Some(content_type) = &self.content_type {
            write!(f, ", {content_type}")?;
        }
        write!(f, "): {}", self.reason)?;
        if !self.excerpt.is_empty() {
            write!(f, "; body starts {:?}", self.excerpt)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalised_and_original_kept() {
        let e = OAuthError::new(StatusCode::BAD_REQUEST, "Invalid_request");
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert_eq!(e.original_code, "Invalid_request");
        assert_eq!(ErrorCode::parse("invalid-grant"), ErrorCode::InvalidGrant);
        assert_eq!(
            ErrorCode::parse("Context.Unknown"),
            ErrorCode::Other("context.unknown".into())
        );
    }

    #[test]
    fn a_huge_code_is_cut_and_freed_of_control_characters() {
        let huge = format!("bad\u{7}code{}", "x".repeat(100_000));
        let e = OAuthError::new(StatusCode::BAD_REQUEST, huge.as_str());
        assert_eq!(e.original_code.chars().count(), MAX_CODE_CHARS + 1);
        assert!(e.original_code.starts_with("badcode"));
        assert!(e.code.as_str().len() <= MAX_CODE_CHARS);
        let err = Error::from(e);
        assert!(err.to_string().len() < 1024);
        assert!(format!("{err:?}").len() < 1024);
    }

    #[test]
    fn display_includes_status_code_description_and_hint() {
        let err: Error = OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request")
            .with_description("Missing parameter grant_type")
            .into();
        let err = err.with_hint("put grant_type in the form body");
        let text = err.to_string();
        assert!(text.contains("HTTP 400"), "{text}");
        assert!(text.contains("`invalid_request`: Missing parameter grant_type"));
        assert!(text.ends_with("(hint: put grant_type in the form body)"));
        assert_eq!(err.hint(), Some("put grant_type in the form body"));
        assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn retryability() {
        let oauth = |status, code| Error::from(OAuthError::new(status, code));
        assert!(!oauth(StatusCode::BAD_REQUEST, "invalid_grant").is_retryable());
        assert!(!oauth(StatusCode::UNAUTHORIZED, "invalid_client").is_retryable());
        assert!(oauth(StatusCode::BAD_REQUEST, "temporarily_unavailable").is_retryable());
        assert!(oauth(StatusCode::SERVICE_UNAVAILABLE, "x").is_retryable());
        let unexpected =
            |status| Error::from(UnexpectedResponse::new(status, None, "html", "<html>"));
        assert!(unexpected(StatusCode::BAD_GATEWAY).is_retryable());
        assert!(unexpected(StatusCode::TOO_MANY_REQUESTS).is_retryable());
        assert!(!unexpected(StatusCode::NOT_FOUND).is_retryable());
        assert!(Error::timeout("https://h/token", Duration::from_secs(1)).is_retryable());
        assert!(!Error::config("bad").is_retryable());
    }

    #[test]
    fn backoff_delegates_to_the_last_error() {
        let last = Error::from(OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client"))
            .with_hint("check the secret");
        assert!(!last.is_retryable());
        let err = Error::backing_off(last, Duration::from_secs(2), 2);
        assert_eq!(err.hint(), Some("check the secret"));
        assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidClient);
        assert_eq!(
            (err.retry_in(), err.failures()),
            (Some(Duration::from_secs(2)), Some(2))
        );
        assert!(err.is_retryable(), "the cache will try again");
        assert!(err.to_string().starts_with("2 token failure(s) in a row; next fetch in 2s; last error: token endpoint answered HTTP 401"), "{err}");
        let err = err.with_hint("other");
        assert_eq!(err.hint(), Some("other"));
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn unexpected_response_display() {
        let err = Error::from(UnexpectedResponse::new(
            StatusCode::BAD_GATEWAY,
            Some("text/html".into()),
            "the body is not JSON",
            "<html>Bad Gateway",
        ));
        assert_eq!(
            err.to_string(),
            "unexpected answer (HTTP 502, text/html): the body is not JSON; body starts \"<html>Bad Gateway\""
        );
    }
}
