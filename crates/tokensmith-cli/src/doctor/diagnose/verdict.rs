//! The verdict: a stable code, the cause, the fix and the configuration that works.

use super::Probe;

/// A verdict's stable code, for scripts (`--json`'s `verdict.code`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Code {
    Ok,
    ClientAuthStyle,
    InvalidClient,
    ApiKey,
    InvalidScope,
    Audience,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidGrant,
    RedirectUriMismatch,
    SpentAuthorization,
    WantsGet,
    WantsJson,
    BodyNotRead,
    WrongPath,
    HtmlPage,
    ServerError,
    RateLimited,
    Tls,
    Unreachable,
    Timeout,
    Redirect,
    WrongRegion,
    TokenExpired,
    ClockSkew,
    ApiRefusedToken,
    Unknown,
}

impl Code {
    /// Every code, in the order the README's schema lists them.
    #[cfg(test)]
    pub(crate) const ALL: [Code; 27] = [
        Code::Ok,
        Code::ClientAuthStyle,
        Code::InvalidClient,
        Code::ApiKey,
        Code::InvalidScope,
        Code::Audience,
        Code::UnauthorizedClient,
        Code::UnsupportedGrantType,
        Code::InvalidGrant,
        Code::RedirectUriMismatch,
        Code::SpentAuthorization,
        Code::WantsGet,
        Code::WantsJson,
        Code::BodyNotRead,
        Code::WrongPath,
        Code::HtmlPage,
        Code::ServerError,
        Code::RateLimited,
        Code::Tls,
        Code::Unreachable,
        Code::Timeout,
        Code::Redirect,
        Code::WrongRegion,
        Code::TokenExpired,
        Code::ClockSkew,
        Code::ApiRefusedToken,
        Code::Unknown,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ClientAuthStyle => "client_auth_style",
            Self::InvalidClient => "invalid_client",
            Self::ApiKey => "api_key",
            Self::InvalidScope => "invalid_scope",
            Self::Audience => "audience",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidGrant => "invalid_grant",
            Self::RedirectUriMismatch => "redirect_uri_mismatch",
            Self::SpentAuthorization => "code_reused_or_expired",
            Self::WantsGet => "wants_get",
            Self::WantsJson => "wants_json",
            Self::BodyNotRead => "body_not_read",
            Self::WrongPath => "wrong_path",
            Self::HtmlPage => "html_page",
            Self::ServerError => "server_error",
            Self::RateLimited => "rate_limited",
            Self::Tls => "tls",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::Redirect => "redirect",
            Self::WrongRegion => "wrong_region",
            Self::TokenExpired => "token_expired",
            Self::ClockSkew => "clock_skew",
            Self::ApiRefusedToken => "api_refused_token",
            Self::Unknown => "unknown",
        }
    }

    /// Whether tokensmith gets working tokens with the configuration the verdict names.
    pub(crate) fn works(self) -> bool {
        matches!(self, Self::Ok | Self::ClientAuthStyle)
    }
}

/// The cause in plain words, the fix, and the tokensmith configuration that works (when one
/// does).
#[derive(Clone, Debug)]
pub(crate) struct Verdict {
    pub(crate) code: Code,
    pub(crate) cause: String,
    pub(crate) fix: String,
    pub(crate) config: Option<String>,
}

impl Verdict {
    pub(super) fn new(code: Code, cause: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            code,
            cause: cause.into(),
            fix: fix.into(),
            config: None,
        }
    }

    pub(super) fn config(mut self, config: impl Into<String>) -> Self {
        self.config = Some(config.into());
        self
    }

    /// The verdict as one line.
    pub(crate) fn line(&self) -> String {
        let mut line = format!("[{}] {} {}", self.code.as_str(), self.cause, self.fix);
        if let Some(config) = &self.config {
            line.push_str(&format!(" Configure: {config}"));
        }
        line
    }
}

/// A finding beside the verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Note {
    pub(crate) code: &'static str,
    pub(crate) text: String,
}

/// The verdict over all attempts, the notes beside it, and the probe that got furthest.
#[derive(Clone, Debug)]
pub(crate) struct Diagnosis {
    pub(crate) verdict: Verdict,
    pub(crate) notes: Vec<Note>,
    pub(crate) best: Option<Probe>,
}

/// RFC 6749's error codes and the registered extensions, for noticing other spellings.
pub(super) const STANDARD_CODES: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
    "invalid_target",
    "use_dpop_nonce",
    "invalid_dpop_proof",
];
