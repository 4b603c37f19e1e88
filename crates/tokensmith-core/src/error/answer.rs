//! What a server answered when it refused: an RFC 6749 §5.2 error (`OAuthError`, its
//! normalised `ErrorCode`), or an answer that is not one (`UnexpectedResponse`).

use std::fmt;

use http::StatusCode;

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
