//! Reading token endpoint answers (RFC 6749 §5.1, §5.2) and the variants real servers send.

use std::fmt;
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use http::StatusCode;
use serde_json::{Map, Value};
use tokensmith_core::{AccessToken, Error, OAuthError, TokenType, UnexpectedResponse};
use tokensmith_http::scrub_excerpt;
use tokio::time::Instant;

use crate::TokenVendor;

tokensmith_core::secret_string! {
    /// A refresh token (RFC 6749 §1.5).
    pub struct RefreshToken;
}

/// Longest lifetime believed from `expires_in`; larger values are clamped to it.
pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(365 * 24 * 3600);

/// A successful token answer.
#[derive(Clone)]
pub struct TokenResponse {
    access_token: AccessToken,
    refresh_token: Option<RefreshToken>,
    extra: Map<String, Value>,
}

impl TokenResponse {
    /// The access token, with its type, expiry and scopes.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The refresh token, if the server issued one (RFC 6749 §5.1 `refresh_token`).
    pub fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }

    /// Fields beyond RFC 6749 §5.1 (`id_token`, vendor fields). Some may be secret: print
    /// them with care.
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// `issued_token_type` of a token exchange answer (RFC 8693 §2.2.1).
    pub fn issued_token_type(&self) -> Option<&str> {
        self.extra.get("issued_token_type").and_then(Value::as_str)
    }

    /// Splits the answer into its parts.
    pub fn into_parts(self) -> (AccessToken, Option<RefreshToken>, Map<String, Value>) {
        (self.access_token, self.refresh_token, self.extra)
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("refresh_token", &self.refresh_token)
            .field("extra_fields", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// An HTTP answer as the parser sees it.
pub(crate) struct RawResponse<'a> {
    pub(crate) status: StatusCode,
    pub(crate) content_type: Option<&'a str>,
    /// The answer's `Date` header, used to read a JWT's `exp` against the server's clock.
    pub(crate) date: Option<SystemTime>,
    /// When the request was sent: `expires_in` counts from the moment the server answered,
    /// which is no earlier, so a token's life measured from here never outlasts the server's.
    pub(crate) sent_at: Instant,
    /// The longest the token may live: the expiry of the client assertion it was issued for.
    pub(crate) lifetime_cap: Option<Duration>,
    pub(crate) body: &'a [u8],
    /// Values to mask in any excerpt of the body (the client secret, a password).
    pub(crate) secrets: &'a [&'a str],
    /// The vendor's hooks, when the endpoint has them.
    pub(crate) vendor: Option<&'a dyn TokenVendor>,
}

/// Reads an answer into a token or a typed error. Never panics, whatever the bytes.
pub(crate) fn parse(answer: &RawResponse<'_>) -> Result<TokenResponse, Error> {
    let fields = match read_fields(answer) {
        Ok(fields) => fields,
        Err(reason) => return Err(unexpected(answer, reason)),
    };
    let error = oauth_error(answer.status, &fields)
        .or_else(|| answer.vendor.and_then(|v| v.error(answer.status, &fields)));
    if let Some(error) = error {
        return Err(tokensmith_http::scrub::mask_oauth_error(error, answer.secrets).into());
    }
    let success = matches!(answer.status, StatusCode::OK | StatusCode::CREATED);
    if !success {
        return Err(unexpected(
            answer,
            format!(
                "HTTP {} without an OAuth error in the body",
                answer.status.as_u16()
            ),
        ));
    }
    token_from(answer, fields)
}

pub(crate) fn unexpected(answer: &RawResponse<'_>, reason: impl Into<String>) -> Error {
    UnexpectedResponse::new(
        answer.status,
        answer
            .content_type
            .map(|text| scrub_excerpt(text.as_bytes(), answer.secrets)),
        reason,
        scrub_excerpt(answer.body, answer.secrets),
    )
    .into()
}

/// The body as a JSON object, or a form-encoded one as an object of strings.
fn read_fields(answer: &RawResponse<'_>) -> Result<Map<String, Value>, String> {
    let body = answer.body;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("the body is empty".into());
    }
    let content_type = answer.content_type.unwrap_or("").to_ascii_lowercase();
    if content_type.contains("x-www-form-urlencoded") {
        return Ok(form_fields(body));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("the body is JSON but not an object".into()),
        Err(_) if looks_form_encoded(body) => Ok(form_fields(body)),
        Err(e) if e.is_eof() => Err("the body is truncated JSON".into()),
        Err(_) if content_type.contains("html") || body.trim_ascii_start().starts_with(b"<") => {
            Err("the body is an HTML page, not JSON".into())
        }
        Err(_) => Err("the body is not JSON".into()),
    }
}

fn looks_form_encoded(body: &[u8]) -> bool {
    let body = body.trim_ascii();
    (body.starts_with(b"access_token=") || body.starts_with(b"error="))
        || (body.windows(14).any(|w| w == b"&access_token=") && !body.contains(&b'{'))
}

fn form_fields(body: &[u8]) -> Map<String, Value> {
    url::form_urlencoded::parse(body.trim_ascii())
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect()
}

fn token_from(
    answer: &RawResponse<'_>,
    mut fields: Map<String, Value>,
) -> Result<TokenResponse, Error> {
    let access = match fields.remove("access_token") {
        Some(Value::String(token)) if !token.trim().is_empty() => token.trim().to_owned(),
        Some(_) => {
            return Err(unexpected(
                answer,
                "`access_token` is empty or not a string",
            ));
        }
        None => {
            return Err(unexpected(
                answer,
                "a success answer without `access_token`",
            ));
        }
    };
    let token_type = match fields.remove("token_type") {
        Some(Value::String(kind)) => answer
            .vendor
            .and_then(|v| v.token_type(&kind))
            .unwrap_or_else(|| TokenType::parse(&kind)),
        _ => TokenType::Bearer,
    };
    let stated = match fields.remove("expires_in") {
        Some(value) => expires_in(&value),
        None => None,
    };
    // A JWT's `exp` read against the server's own `Date` is as trustworthy as `expires_in`,
    // and the earlier of the two is when the API starts refusing the token. Without a `Date`,
    // `exp` is read against the local clock, which may be off: then only when nothing else
    // says.
    let lifetime = match (stated, answer.date) {
        (Some(stated), Some(_)) => {
            Some(jwt_lifetime(&access, answer.date).map_or(stated, |exp| exp.min(stated)))
        }
        (Some(stated), None) => Some(stated),
        (None, date) => jwt_lifetime(&access, date),
    };
    let lifetime = match (lifetime, answer.lifetime_cap) {
        (Some(lifetime), Some(cap)) => Some(lifetime.min(cap)),
        (lifetime, cap) => lifetime.or(cap),
    };
    let scopes = match fields.remove("scope") {
        Some(Value::String(scope)) => scope.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let refresh_token = match fields.remove("refresh_token") {
        Some(Value::String(token)) if !token.trim().is_empty() => Some(RefreshToken::new(token)),
        _ => None,
    };
    let mut builder = AccessToken::builder(access)
        .token_type(token_type)
        .issued_at(answer.sent_at)
        .scopes(scopes);
    if let Some(lifetime) = lifetime {
        builder = builder.expires_in(lifetime);
    }
    let access_token = builder.build().map_err(|e| {
        unexpected(
            answer,
            format!("the server issued an unusable access token: {e}"),
        )
    })?;
    Ok(TokenResponse {
        access_token,
        refresh_token,
        extra: fields,
    })
}

/// `expires_in` as a number or numeric string; `null`, zero, negative or unreadable values
/// mean no stated expiry, and absurd ones are clamped to [`MAX_EXPIRES_IN`].
fn expires_in(value: &Value) -> Option<Duration> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        seconds.min(MAX_EXPIRES_IN.as_secs_f64()),
    ))
}

/// The lifetime a JWT's `exp` claim gives (read, not verified), measured against the server's
/// `Date` when it sent one, so that a skewed local clock does not matter.
fn jwt_lifetime(token: &str, server_date: Option<SystemTime>) -> Option<Duration> {
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || payload.len() > 16 * 1024 {
        return None;
    }
    let bytes = ENGINE
        .decode(payload)
        .or_else(|_| general_purpose::STANDARD_NO_PAD.decode(payload))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_f64()?;
    if !exp.is_finite() || exp <= 0.0 {
        return None;
    }
    let now = server_date
        .unwrap_or_else(SystemTime::now)
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    let remaining = (exp - now).max(0.0);
    Some(Duration::from_secs_f64(
        remaining.min(MAX_EXPIRES_IN.as_secs_f64()),
    ))
}

mod error;

use self::error::oauth_error;

#[cfg(test)]
mod tests;
