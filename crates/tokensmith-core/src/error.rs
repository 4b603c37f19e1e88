//! The error type shared by every tokensmith crate.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

/// A cause kept behind an error; shared so that [`Error`] stays `Clone`.
pub type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while getting or using a token.
///
/// An OAuth error answer from the server ([`Error::OAuth`]) is kept apart from failures to get
/// any answer ([`Error::Transport`], [`Error::Timeout`]) and from answers that are not OAuth at
/// all ([`Error::UnexpectedResponse`]). Every variant can carry a [`hint`](Error::hint): a
/// sentence naming the likely cause, which `Display` appends. Errors are `Clone` because a failed
/// fetch is handed to every caller that waited for it. No error ever holds a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authorization server answered with an OAuth error (RFC 6749 §5.2).
    #[error("{0}")]
    OAuth(Box<OAuthError>),

    /// No HTTP answer: the connection was refused, reset or closed, DNS or TLS failed.
    #[error("could not reach {endpoint}: {message}{}", Hint(hint))]
    Transport {
        /// Where the request went (scheme, host, port and path; never a query string).
        endpoint: String,
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<SharedError>,
        /// The likely cause, when known.
        hint: Option<String>,
    },

    /// No complete answer within the time allowed.
    #[error("no answer from {endpoint} within {after:?}{}", Hint(hint))]
    Timeout {
        /// Where the request went.
        endpoint: String,
        /// The time allowed.
        after: Duration,
        /// The likely cause, when known.
        hint: Option<String>,
    },

    /// An answer that is neither a token nor an OAuth error: an HTML error page, a truncated or
    /// oversized body, a success without `access_token`.
    #[error("{0}")]
    UnexpectedResponse(Box<UnexpectedResponse>),

    /// The configuration cannot work (a bad URL, a missing credential, an `http://` endpoint).
    #[error("invalid configuration: {message}{}", Hint(hint))]
    Config {
        /// What is wrong.
        message: String,
        /// How to fix it, when known.
        hint: Option<String>,
    },

    /// A token that cannot be used (empty, or with characters a header cannot carry).
    #[error("unusable access token: {reason}{}", Hint(hint))]
    InvalidToken {
        /// What is wrong with it.
        reason: &'static str,
        /// The likely cause, when known.
        hint: Option<String>,
    },

    /// The `state` in an authorization callback is not the one sent (RFC 6749 §10.12): the code
    /// was refused without any request, since the callback may be forged or from another
    /// attempt.
    #[error(
        "the callback's `state` does not match the one sent; its code was not used{}",
        Hint(hint)
    )]
    StateMismatch {
        /// The likely cause, when known.
        hint: Option<String>,
    },

    /// Recent fetches failed (or their tokens were rejected), so the cache waits before it
    /// asks the token source again.
    #[error("{failures} token failure(s) in a row; next fetch in {retry_in:?}; last error: {last}")]
    Backoff {
        /// How long until the cache tries again.
        retry_in: Duration,
        /// Consecutive failures so far.
        failures: u32,
        /// The error of the last attempt.
        #[source]
        last: Box<Error>,
    },

    /// Any other failure, for providers outside tokensmith.
    #[error("{message}{}", Hint(hint))]
    Other {
        /// What failed.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<SharedError>,
        /// The likely cause, when known.
        hint: Option<String>,
    },
}

impl Error {
    /// A configuration error.
    pub fn config(message: impl Into<String>) -> Self {
        Self::Config {
            message: message.into(),
            hint: None,
        }
    }

    /// A transport failure talking to `endpoint`.
    pub fn transport(
        endpoint: impl Into<String>,
        message: impl Into<String>,
        source: Option<SharedError>,
    ) -> Self {
        Self::Transport {
            endpoint: endpoint.into(),
            message: message.into(),
            source,
            hint: None,
        }
    }

    /// A timeout talking to `endpoint`.
    pub fn timeout(endpoint: impl Into<String>, after: Duration) -> Self {
        Self::Timeout {
            endpoint: endpoint.into(),
            after,
            hint: None,
        }
    }

    /// A token that cannot be used.
    pub fn invalid_token(reason: &'static str) -> Self {
        Self::InvalidToken { reason, hint: None }
    }

    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other {
            message: message.into(),
            source: None,
            hint: None,
        }
    }

    /// A sentence naming the likely cause, when one is known.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::OAuth(e) => e.hint.as_deref(),
            Self::UnexpectedResponse(e) => e.hint.as_deref(),
            Self::Transport { hint, .. }
            | Self::Timeout { hint, .. }
            | Self::Config { hint, .. }
            | Self::InvalidToken { hint, .. }
            | Self::StateMismatch { hint }
            | Self::Other { hint, .. } => hint.as_deref(),
            Self::Backoff { last, .. } => last.hint(),
        }
    }

    /// Replaces the hint.
    #[must_use]
    pub fn with_hint(mut self, text: impl Into<String>) -> Self {
        *self.hint_slot() = Some(text.into());
        self
    }

    fn hint_slot(&mut self) -> &mut Option<String> {
        match self {
            Self::OAuth(e) => &mut e.hint,
            Self::UnexpectedResponse(e) => &mut e.hint,
            Self::Transport { hint, .. }
            | Self::Timeout { hint, .. }
            | Self::Config { hint, .. }
            | Self::InvalidToken { hint, .. }
            | Self::StateMismatch { hint }
            | Self::Other { hint, .. } => hint,
            Self::Backoff { last, .. } => last.hint_slot(),
        }
    }

    /// Whether trying again later may succeed: transport failures, timeouts, 5xx and 429
    /// answers, `temporarily_unavailable`. OAuth 4xx errors and configuration errors are final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::OAuth(e) => {
                matches!(
                    e.code,
                    ErrorCode::TemporarilyUnavailable | ErrorCode::ServerError
                ) || retryable_status(e.status)
            }
            Self::UnexpectedResponse(e) => retryable_status(e.status),
            Self::Transport { .. } | Self::Timeout { .. } | Self::Backoff { .. } => true,
            Self::Config { .. }
            | Self::InvalidToken { .. }
            | Self::StateMismatch { .. }
            | Self::Other { .. } => false,
        }
    }

    /// The HTTP status of the answer this error came from, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::OAuth(e) => Some(e.status),
            Self::UnexpectedResponse(e) => Some(e.status),
            Self::Backoff { last, .. } => last.status(),
            _ => None,
        }
    }

    /// The OAuth error answer, if this is one (also behind [`Error::Backoff`]).
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            Self::OAuth(e) => Some(e),
            Self::Backoff { last, .. } => last.oauth(),
            _ => None,
        }
    }
}

impl From<OAuthError> for Error {
    fn from(e: OAuthError) -> Self {
        Self::OAuth(Box::new(e))
    }
}

impl From<UnexpectedResponse> for Error {
    fn from(e: UnexpectedResponse) -> Self {
        Self::UnexpectedResponse(Box::new(e))
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
    /// The likely cause, in our words.
    pub hint: Option<String>,
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
            hint: None,
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
        Hint(&self.hint).fmt(f)
    }
}

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
    /// The likely cause, when known.
    pub hint: Option<String>,
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
            hint: None,
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
        Hint(&self.hint).fmt(f)
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
        let err = Error::Backoff {
            retry_in: Duration::from_secs(2),
            failures: 2,
            last: Box::new(last),
        };
        assert_eq!(err.hint(), Some("check the secret"));
        assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidClient);
        assert!(std::error::Error::source(&err).is_some());
        let err = err.with_hint("other");
        assert_eq!(err.hint(), Some("other"));
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
