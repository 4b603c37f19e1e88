//! Access tokens: the secret, its type, its expiry and its scopes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use crate::Error;

/// The `token_type` of an access token (RFC 6749 §7.1), compared without regard to case.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum TokenType {
    /// `Bearer` (RFC 6750), the type nearly every API uses.
    #[default]
    Bearer,
    /// Any other type, kept as the server spelled it and sent that way in the header.
    Other(Box<str>),
}

impl TokenType {
    /// Reads a `token_type` value; `bearer` in any case is [`TokenType::Bearer`].
    pub fn parse(value: &str) -> Self {
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("bearer") {
            Self::Bearer
        } else {
            Self::Other(value.into())
        }
    }

    /// The scheme as it goes in the `Authorization` header: `Bearer` is normalised to that spelling.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Bearer => "Bearer",
            Self::Other(other) => other,
        }
    }

    /// Whether this is a bearer token.
    pub fn is_bearer(&self) -> bool {
        matches!(self, Self::Bearer)
    }
}

impl PartialEq for TokenType {
    fn eq(&self, other: &Self) -> bool {
        self.as_str().eq_ignore_ascii_case(other.as_str())
    }
}

impl Eq for TokenType {}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An access token as a token endpoint issued it.
///
/// Cloning is a reference-count increment: the token is cloned on every request. The secret is
/// held once, inside the prepared `Authorization` header value (marked sensitive), and is
/// printed by neither `Debug` nor any error.
///
/// # Example
/// ```
/// use std::time::Duration;
/// use tokensmith_core::AccessToken;
///
/// let token = AccessToken::builder("s3cr3t")
///     .expires_in(Duration::from_secs(3600))
///     .scopes(["read", "write"])
///     .build()?;
/// assert_eq!(token.token_type().as_str(), "Bearer");
/// assert!(token.authorization_header().is_sensitive());
/// assert!(!format!("{token:?}").contains("s3cr3t"));
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone)]
pub struct AccessToken {
    inner: Arc<Inner>,
}

struct Inner {
    token_type: TokenType,
    issued_at: Instant,
    expires_at: Option<Instant>,
    scopes: Box<[String]>,
    /// `<type> <secret>`: the only copy of the secret (a token of a kilobyte or more, as JWTs
    /// are, would otherwise be held twice by every cached key).
    header: HeaderValue,
}

/// An access token's secret, borrowed from its [`AccessToken`]; `Debug` prints `[redacted]`.
///
/// `expose_secret()` gives the text, for where it must leave the process.
#[derive(Clone, Copy)]
pub struct TokenSecret<'a>(&'a str);

impl<'a> TokenSecret<'a> {
    /// The token itself, borrowed for as long as the token is.
    pub fn expose_secret(self) -> &'a str {
        self.0
    }
}

impl ExposeSecret<str> for TokenSecret<'_> {
    fn expose_secret(&self) -> &str {
        self.0
    }
}

impl fmt::Debug for TokenSecret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Redacted.fmt(f)
    }
}

impl AccessToken {
    /// A bearer token with no stated expiry.
    pub fn bearer(secret: impl Into<String>) -> Result<Self, Error> {
        Self::builder(secret).build()
    }

    /// Starts a token with the given secret; `Bearer`, issued now, no expiry until set.
    pub fn builder(secret: impl Into<String>) -> AccessTokenBuilder {
        AccessTokenBuilder {
            secret: SecretString::from(secret.into()),
            token_type: TokenType::Bearer,
            issued_at: None,
            expires_at: None,
            expires_in: None,
            scopes: Vec::new(),
        }
    }

    /// The token itself. Call `expose_secret()` on it only where it must leave the process.
    pub fn secret(&self) -> TokenSecret<'_> {
        let scheme = self.inner.token_type.as_str().len() + 1;
        let bytes = self.inner.header.as_bytes();
        // Checked to be printable ASCII when the token was built: never fails.
        TokenSecret(
            std::str::from_utf8(bytes.get(scheme..).unwrap_or_default()).unwrap_or_default(),
        )
    }

    /// The token type (`Bearer` unless the server said otherwise).
    pub fn token_type(&self) -> &TokenType {
        &self.inner.token_type
    }

    /// When the token was received.
    pub fn issued_at(&self) -> Instant {
        self.inner.issued_at
    }

    /// When the token expires, if the server said.
    pub fn expires_at(&self) -> Option<Instant> {
        self.inner.expires_at
    }

    /// The lifetime the server granted (`expires_in`), if any.
    pub fn lifetime(&self) -> Option<Duration> {
        self.inner
            .expires_at
            .map(|at| at.saturating_duration_since(self.inner.issued_at))
    }

    /// The time left before expiry, measured now; `None` when the token has no stated expiry.
    pub fn expires_in(&self) -> Option<Duration> {
        self.inner
            .expires_at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// Whether the stated expiry has passed (no allowance for clock skew).
    pub fn is_expired(&self) -> bool {
        self.inner.expires_at.is_some_and(|at| at <= Instant::now())
    }

    /// The scopes granted (RFC 6749 §5.1 `scope`), empty when the server did not say.
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// `Authorization` header value (`Bearer <token>`), marked sensitive so that HTTP
    /// libraries keep it out of their logs. Cheap: the value is prepared once.
    pub fn authorization_header(&self) -> HeaderValue {
        self.inner.header.clone()
    }

    /// Whether two handles refer to the very same issued token (not merely equal strings).
    pub fn same_as(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &Redacted)
            .field("token_type", &self.inner.token_type)
            .field("expires_in", &self.expires_in())
            .field("scopes", &self.inner.scopes)
            .finish()
    }
}

/// Prints `[redacted]` in place of a secret.
pub(crate) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Builds an [`AccessToken`]; see [`AccessToken::builder`].
pub struct AccessTokenBuilder {
    secret: SecretString,
    token_type: TokenType,
    issued_at: Option<Instant>,
    expires_at: Option<Instant>,
    expires_in: Option<Duration>,
    scopes: Vec<String>,
}

impl AccessTokenBuilder {
    /// Sets the token type.
    pub fn token_type(mut self, token_type: TokenType) -> Self {
        self.token_type = token_type;
        self
    }

    /// Sets when the token was received (default: when `build` runs).
    pub fn issued_at(mut self, at: Instant) -> Self {
        self.issued_at = Some(at);
        self
    }

    /// Sets the lifetime from the moment of issue (RFC 6749 §5.1 `expires_in`).
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.expires_in = Some(lifetime);
        self.expires_at = None;
        self
    }

    /// Sets the expiry as an instant.
    pub fn expires_at(mut self, at: Instant) -> Self {
        self.expires_at = Some(at);
        self.expires_in = None;
        self
    }

    /// Sets the granted scopes.
    pub fn scopes<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Builds the token; fails when the token is empty or has characters that an HTTP header
    /// cannot carry (a control character, say), which would otherwise fail on every request.
    pub fn build(self) -> Result<AccessToken, Error> {
        let secret = self.secret.expose_secret();
        if secret.is_empty() {
            return Err(Error::invalid_token("the access token is empty"));
        }
        if !secret.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(Error::invalid_token(
                "the access token contains spaces, control or non-ASCII characters, \
                         which an Authorization header cannot carry",
            ));
        }
        let mut text = format!("{} {}", self.token_type.as_str(), secret);
        let header = HeaderValue::from_str(&text);
        text.zeroize();
        let mut header = header.map_err(|_| {
            Error::invalid_token("the token type cannot be sent in an Authorization header")
        })?;
        header.set_sensitive(true);
        let issued_at = self.issued_at.unwrap_or_else(Instant::now);
        let expires_at = self
            .expires_at
            .or_else(|| self.expires_in.map(|d| add_saturating(issued_at, d)));
        Ok(AccessToken {
            inner: Arc::new(Inner {
                token_type: self.token_type,
                issued_at,
                expires_at,
                scopes: self.scopes.into_boxed_slice(),
                header,
            }),
        })
    }
}

impl fmt::Debug for AccessTokenBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessTokenBuilder")
            .field("secret", &Redacted)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

/// `at + d`, or a far-away instant when that would overflow (a server may say `expires_in` is
/// a hundred years).
pub(crate) fn add_saturating(at: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    at.checked_add(d)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests;
