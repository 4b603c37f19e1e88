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
pub(crate) struct RawAnswer<'a> {
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
pub(crate) fn parse(answer: &RawAnswer<'_>) -> Result<TokenResponse, Error> {
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

pub(crate) fn unexpected(answer: &RawAnswer<'_>, reason: impl Into<String>) -> Error {
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
fn read_fields(answer: &RawAnswer<'_>) -> Result<Map<String, Value>, String> {
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

/// An error answer, if the body holds one: RFC 6749 §5.2 with the code in any casing, and
/// the shapes many servers and gateways use instead (listed on `TokenVendor`).
fn oauth_error(status: StatusCode, fields: &Map<String, Value>) -> Option<OAuthError> {
    let text = |name: &str| member(fields, name);
    let description = || {
        [
            "error_description",
            "message",
            "reason",
            "error_message",
            "detail",
        ]
        .iter()
        .find_map(|name| text(name))
    };
    // `{"error": "invalid_client", "error_description": "…"}`, and `message`/`reason` for the
    // description (Spring, Zoom).
    if let Some(code) = text("error") {
        let mut error = described(OAuthError::new(status, code), description());
        error.uri = text("error_uri").map(str::to_owned);
        return Some(error);
    }
    // The other shapes never turn an answer that carries a token into an error.
    if fields.contains_key("access_token") {
        return None;
    }
    // `{"error": {"code": "…", "message": "…"}}` (Microsoft Graph, Google, Facebook).
    if let Some(Value::Object(inner)) = fields.get("error") {
        return Some(error_object(status, inner));
    }
    // `{"errors": [{"message": "…", "attribute-name": "…"}]}` (Deyel), `{"errors": [{"code":
    // 99, "message": "…"}]}` (Twitter).
    if let Some(Value::Array(errors)) = fields.get("errors") {
        return errors_array(status, errors);
    }
    // Apigee's `{"ErrorCode": "invalid_client", "Error": "…"}`; Okta's management errors.
    for (code, message) in [("ErrorCode", "Error"), ("errorCode", "errorSummary")] {
        if let Some(code) = text(code) {
            return Some(described(OAuthError::new(status, code), text(message)));
        }
    }
    // Only a description (`error_description`, a gateway's `message`, RFC 9457 problem
    // details): an error for the statuses a token endpoint refuses with, its code the one the
    // status implies. Other statuses (404, 5xx) stay unexpected answers, whose hints speak
    // of the URL or the server.
    if !matches!(status.as_u16(), 400 | 401 | 403 | 429) {
        return None;
    }
    let description = description().or_else(|| text("title"))?;
    Some(described(
        OAuthError::new(status, code_for_status(status)),
        Some(description),
    ))
}

/// A string value with something in it.
fn non_empty(value: &Value) -> Option<&str> {
    value.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// The string member `name` of `item`, if it has something in it.
fn member<'a>(item: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    item.get(name).and_then(non_empty)
}

/// The attribute an `errors` item names.
fn attribute_of(item: &Map<String, Value>) -> Option<&str> {
    ["attribute-name", "attribute", "field", "parameter"]
        .iter()
        .find_map(|name| member(item, name))
}

fn described(mut error: OAuthError, description: Option<&str>) -> OAuthError {
    error.description = description.map(str::to_owned);
    error
}

/// The RFC 6749 code a status stands for, for answers that name none.
fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::UNAUTHORIZED => "invalid_client",
        StatusCode::FORBIDDEN => "access_denied",
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            "temporarily_unavailable"
        }
        s if s.is_server_error() => "server_error",
        _ => "invalid_request",
    }
}

/// `{"code" | "error" | "type" | "status": …, "message" | "description": …}`; a numeric
/// code is kept as text.
fn error_object(status: StatusCode, inner: &Map<String, Value>) -> OAuthError {
    let text = |name: &str| member(inner, name);
    let code = ["code", "error", "type", "status"]
        .iter()
        .find_map(|name| text(name))
        .map(str::to_owned)
        .or_else(|| {
            inner
                .get("code")
                .and_then(Value::as_i64)
                .map(|n| n.to_string())
        })
        .unwrap_or_else(|| code_for_status(status).to_owned());
    let description = ["message", "description", "error_description"]
        .iter()
        .find_map(|name| text(name));
    described(OAuthError::new(status, code), description)
}

/// The first object of an `errors` array gives the code: from the attribute it names, its
/// own code, or the status; every message (up to eight) makes the description.
fn errors_array(status: StatusCode, errors: &[Value]) -> Option<OAuthError> {
    let first = errors.iter().find_map(Value::as_object)?;
    let attribute = attribute_of(first);
    let message = member(first, "message")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let code = match attribute {
        _ if status == StatusCode::UNAUTHORIZED => "invalid_client".to_owned(),
        Some("client_id" | "client_secret") => "invalid_client".to_owned(),
        Some("refresh_token" | "code" | "password" | "username") => "invalid_grant".to_owned(),
        Some("scope") => "invalid_scope".to_owned(),
        Some("grant_type") if message.contains("unsupported") => {
            "unsupported_grant_type".to_owned()
        }
        Some(_) => "invalid_request".to_owned(),
        None => ["error", "code", "label"]
            .iter()
            .find_map(|name| member(first, name))
            .map_or_else(|| code_for_status(status).to_owned(), str::to_owned),
    };
    let messages: Vec<String> = errors
        .iter()
        .filter_map(Value::as_object)
        .take(8)
        .map(|item| {
            let message = member(item, "message").unwrap_or_default();
            match attribute_of(item) {
                Some(attribute) => format!("{message} ({attribute})"),
                None => message.to_owned(),
            }
        })
        .collect();
    Some(described(
        OAuthError::new(status, code),
        Some(&messages.join("; "))
            .filter(|m| !m.is_empty())
            .map(String::as_str),
    ))
}

fn token_from(
    answer: &RawAnswer<'_>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tokensmith_core::ErrorCode;
    use tokensmith_core::ErrorKind;

    fn answer<'a>(status: u16, content_type: Option<&'a str>, body: &'a [u8]) -> RawAnswer<'a> {
        RawAnswer {
            status: StatusCode::from_u16(status).unwrap(),
            content_type,
            date: None,
            sent_at: Instant::now(),
            lifetime_cap: None,
            body,
            secrets: &[],
            vendor: None,
        }
    }

    fn ok(status: u16, content_type: Option<&str>, body: &str) -> TokenResponse {
        parse(&answer(status, content_type, body.as_bytes())).unwrap()
    }

    fn err(status: u16, content_type: Option<&str>, body: &str) -> Error {
        parse(&answer(status, content_type, body.as_bytes())).unwrap_err()
    }

    const JSON: Option<&str> = Some("application/json");

    #[tokio::test(start_paused = true)]
    async fn standard_answer() {
        let r = ok(
            200,
            JSON,
            r#"{"access_token":"abc","token_type":"bearer","expires_in":3600,"refresh_token":"r1","scope":"a b","id_token":"x.y.z"}"#,
        );
        let t = r.access_token();
        assert_eq!(t.secret().expose_secret(), "abc");
        assert_eq!(t.authorization_header().to_str().unwrap(), "Bearer abc");
        assert_eq!(t.lifetime(), Some(Duration::from_secs(3600)));
        assert_eq!(t.scopes(), ["a", "b"]);
        assert_eq!(r.refresh_token().unwrap().expose_secret(), "r1");
        assert_eq!(r.extra().get("id_token").unwrap(), "x.y.z");
    }

    #[tokio::test(start_paused = true)]
    async fn tolerant_variants() {
        let r = ok(
            201,
            Some("application/json; charset=utf-8"),
            r#"{"access_token":"a","expires_in":"120","token_type":"bearer","scope":["x","y"]}"#,
        );
        assert_eq!(r.access_token().lifetime(), Some(Duration::from_secs(120)));
        assert!(r.access_token().token_type().is_bearer());
        assert_eq!(r.access_token().scopes(), ["x", "y"]);
        for kind in ["BEARER", "Bearer", ""] {
            let body = format!(r#"{{"access_token":"a","token_type":"{kind}"}}"#);
            assert!(
                ok(200, JSON, &body).access_token().token_type().is_bearer(),
                "{kind}"
            );
        }
        assert!(
            ok(200, JSON, r#"{"access_token":"a"}"#)
                .access_token()
                .token_type()
                .is_bearer()
        );
        for expiry in ["null", "0", "\"0\"", "-5", "\"soon\""] {
            let body = format!(r#"{{"access_token":"a","expires_in":{expiry}}}"#);
            assert_eq!(
                ok(200, JSON, &body).access_token().lifetime(),
                None,
                "{expiry}"
            );
        }
        let huge = ok(200, JSON, r#"{"access_token":"a","expires_in":1e300}"#);
        assert_eq!(huge.access_token().lifetime(), Some(MAX_EXPIRES_IN));
        // JSON sent as text/plain is still JSON.
        ok(200, Some("text/plain"), r#"{"access_token":"a"}"#);
    }

    #[tokio::test(start_paused = true)]
    async fn form_encoded_answers() {
        let r = ok(
            200,
            Some("application/x-www-form-urlencoded"),
            "access_token=a%2Bb&token_type=bearer&expires_in=60&scope=r+w",
        );
        assert_eq!(r.access_token().secret().expose_secret(), "a+b");
        assert_eq!(r.access_token().lifetime(), Some(Duration::from_secs(60)));
        assert_eq!(r.access_token().scopes(), ["r", "w"]);
        let r = ok(200, Some("text/plain"), "access_token=zz&scope=s");
        assert_eq!(r.access_token().secret().expose_secret(), "zz");
        let e = err(
            200,
            Some("text/plain"),
            "error=invalid_client&error_description=nope",
        );
        assert_eq!(e.oauth().unwrap().code, ErrorCode::InvalidClient);
    }

    #[tokio::test(start_paused = true)]
    async fn jwt_exp_gives_the_expiry_against_the_server_date() {
        let server_now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let payload = general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"x","exp":1700000900}"#);
        let jwt = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
        let body = format!(r#"{{"access_token":"{jwt}"}}"#);
        let mut raw = answer(200, JSON, body.as_bytes());
        raw.date = Some(server_now);
        let r = parse(&raw).unwrap();
        assert_eq!(r.access_token().lifetime(), Some(Duration::from_secs(900)));
        // With the server's date, the earlier of `exp` and `expires_in` counts.
        let body = format!(r#"{{"access_token":"{jwt}","expires_in":60}}"#);
        let mut raw = answer(200, JSON, body.as_bytes());
        raw.date = Some(server_now);
        let r = parse(&raw).unwrap();
        assert_eq!(r.access_token().lifetime(), Some(Duration::from_secs(60)));
        let body = format!(r#"{{"access_token":"{jwt}","expires_in":3600}}"#);
        let mut raw = answer(200, JSON, body.as_bytes());
        raw.date = Some(server_now);
        let r = parse(&raw).unwrap();
        assert_eq!(
            r.access_token().lifetime(),
            Some(Duration::from_secs(900)),
            "`exp` says 900 s on the server's clock"
        );
        // Without a date, `exp` (on a clock that may be off) never shortens `expires_in`:
        // here the local clock is years past `exp`.
        assert_eq!(
            ok(200, JSON, &body).access_token().lifetime(),
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn oauth_errors_in_every_shape() {
        let e = err(
            400,
            JSON,
            r#"{"error":"invalid_request","error_description":"Missing parameter grant_type","error_uri":"https://d/e"}"#,
        );
        let o = e.oauth().unwrap();
        assert_eq!(
            (o.code.clone(), o.status),
            (ErrorCode::InvalidRequest, StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            o.description.as_deref(),
            Some("Missing parameter grant_type")
        );
        assert_eq!(o.uri.as_deref(), Some("https://d/e"));

        let e = err(
            400,
            JSON,
            r#"{"error_description":"Invalid client_id","error":"Invalid_request"}"#,
        );
        let o = e.oauth().unwrap();
        assert_eq!(o.code, ErrorCode::InvalidRequest);
        assert_eq!(o.original_code, "Invalid_request");

        let e = err(200, JSON, r#"{"error":"invalid_grant"}"#);
        assert_eq!(e.oauth().unwrap().status, StatusCode::OK);
        assert_eq!(e.oauth().unwrap().code, ErrorCode::InvalidGrant);

        // The shapes outside RFC 6749 that many servers use are read without a vendor hook.
        for (body, code, description) in [
            (
                r#"{"errors":[{"message":"Invalid refresh token.","attribute-name":"refresh_token"}]}"#,
                ErrorCode::InvalidGrant,
                "Invalid refresh token. (refresh_token)",
            ),
            (
                r#"{"error":{"code":"Unauthorized","message":"bad key"}}"#,
                ErrorCode::Other("unauthorized".into()),
                "bad key",
            ),
        ] {
            let e = err(400, JSON, body);
            let o = e.oauth().unwrap_or_else(|| panic!("{body}: {e:?}"));
            assert_eq!(o.code, code, "{body}");
            assert_eq!(o.description.as_deref(), Some(description), "{body}");
        }
        let e = err(
            401,
            JSON,
            r#"{"error":"Unauthorized","error_description":"bad key"}"#,
        );
        assert_eq!(e.oauth().unwrap().original_code, "Unauthorized");

        let e = err(
            400,
            JSON,
            r#"{"error":"context.unknown","errorParameters":[]}"#,
        );
        assert_eq!(
            e.oauth().unwrap().code,
            ErrorCode::Other("context.unknown".into())
        );
    }

    struct Fault;

    impl TokenVendor for Fault {
        fn error(&self, status: StatusCode, fields: &Map<String, Value>) -> Option<OAuthError> {
            let mut error = OAuthError::new(status, fields.get("fault")?.as_str()?);
            error.description = Some("fault canary-desc-1".into());
            Some(error)
        }

        fn token_type(&self, kind: &str) -> Option<TokenType> {
            (kind == "AccessPass").then_some(TokenType::Bearer)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn vendor_hooks_read_their_shapes_after_the_rfc_ones() {
        let with_hook = |status, body: &'static str| {
            let mut raw = answer(status, JSON, body.as_bytes());
            raw.vendor = Some(&Fault);
            raw.secrets = &["canary-desc-1"];
            parse(&raw)
        };
        let e = with_hook(400, r#"{"fault":"invalid_client"}"#).unwrap_err();
        let o = e.oauth().unwrap();
        assert_eq!(o.code, ErrorCode::InvalidClient);
        assert_eq!(
            o.description.as_deref(),
            Some("fault [redacted]"),
            "scrubbed like any other"
        );
        // The RFC shape wins over the hook.
        let e =
            with_hook(400, r#"{"error":"invalid_grant","fault":"invalid_client"}"#).unwrap_err();
        assert_eq!(e.oauth().unwrap().code, ErrorCode::InvalidGrant);
        let r = with_hook(200, r#"{"access_token":"a","token_type":"AccessPass"}"#).unwrap();
        assert!(r.access_token().token_type().is_bearer());
        let r = with_hook(200, r#"{"access_token":"a","token_type":"mac"}"#).unwrap();
        assert!(!r.access_token().token_type().is_bearer());
        // Without the hook, the same bodies are what the RFC makes of them.
        assert!(matches!(
            err(400, JSON, r#"{"fault":"invalid_client"}"#).kind(),
            ErrorKind::UnexpectedResponse(_)
        ));
        let r = ok(
            200,
            JSON,
            r#"{"access_token":"a","token_type":"AccessPass"}"#,
        );
        assert!(!r.access_token().token_type().is_bearer());
    }

    #[test]
    fn unexpected_answers_keep_status_type_and_excerpt() {
        let cases = [
            (
                502,
                Some("text/html"),
                "<html><body>Bad Gateway</body></html>",
                "HTML page",
            ),
            (200, JSON, r#"{"access_tok"#, "truncated"),
            (200, JSON, "", "empty"),
            (
                200,
                JSON,
                r#"{"token_type":"bearer"}"#,
                "without `access_token`",
            ),
            (200, JSON, r#"["access_token"]"#, "not an object"),
            (
                404,
                JSON,
                r#"{"message":"not found"}"#,
                "HTTP 404 without an OAuth error",
            ),
            (
                200,
                JSON,
                r#"{"access_token":"has space"}"#,
                "unusable access token",
            ),
            (200, JSON, r#"{"access_token":42}"#, "not a string"),
        ];
        for (status, content_type, body, reason) in cases {
            match err(status, content_type, body).kind() {
                ErrorKind::UnexpectedResponse(u) => {
                    assert_eq!(u.status.as_u16(), status);
                    assert_eq!(u.content_type.as_deref(), content_type);
                    assert!(u.reason.contains(reason), "{body}: {}", u.reason);
                }
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn excerpts_mask_secrets() {
        let mut raw = answer(
            500,
            Some("text/html"),
            b"<p>client_secret=CANARY-9 rejected; echo CANARY-9</p>",
        );
        raw.secrets = &["CANARY-9"];
        let e = parse(&raw).unwrap_err();
        assert!(!format!("{e} {e:?}").contains("CANARY-9"));
    }

    #[test]
    fn error_descriptions_are_scrubbed_and_bounded() {
        let long = "x ".repeat(1000);
        let body = format!(
            r#"{{"error":"invalid_client","error_description":"bad secret CANARY-3 {long}"}}"#
        );
        let mut raw = answer(401, JSON, body.as_bytes());
        raw.secrets = &["CANARY-3"];
        let e = parse(&raw).unwrap_err();
        let description = e.oauth().unwrap().description.clone().unwrap();
        assert!(
            description.starts_with("bad secret [redacted] x x"),
            "{description}"
        );
        assert!(description.chars().count() <= tokensmith_http::scrub::EXCERPT_CHARS + 1);
    }

    #[test]
    fn debug_of_a_response_shows_no_secret() {
        let r = ok(
            200,
            JSON,
            r#"{"access_token":"canary-at-1","refresh_token":"canary-rt-1","id_token":"canary-id-1"}"#,
        );
        let text = format!("{r:?} {r:#?}");
        assert!(!text.contains("canary-"), "{text}");
        assert!(text.contains("id_token"));
    }

    /// Arbitrary JSON, a few levels deep.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            ".{0,16}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_-]{1,12}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics(
            status in 100u16..600,
            content_type in proptest::option::of(prop_oneof![
                Just("application/json".to_owned()),
                Just("application/x-www-form-urlencoded".to_owned()),
                Just("text/html".to_owned()),
                ".{0,40}",
            ]),
            body in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            let raw = RawAnswer {
                status: StatusCode::from_u16(status).unwrap(),
                content_type: content_type.as_deref(),
                date: None,
                sent_at: Instant::now(),
                lifetime_cap: None,
                body: &body,
                secrets: &[],
                vendor: None,
            };
            let _ = parse(&raw);
        }

        #[test]
        fn never_panics_on_arbitrary_error_objects(
            status in prop_oneof![Just(200u16), Just(400), Just(401), Just(500)],
            error in json_value(),
            errors in json_value(),
            description in json_value(),
        ) {
            let body = serde_json::json!({"error": error, "errors": errors, "error_description": description}).to_string();
            let raw = RawAnswer {
                status: StatusCode::from_u16(status).unwrap(),
                content_type: Some("application/json"),
                date: None,
                sent_at: Instant::now(),
                lifetime_cap: None,
                body: body.as_bytes(),
                secrets: &[],
                vendor: None,
            };
            if let Err(e) = parse(&raw) {
                let _ = (e.to_string(), e.hint().map(str::to_owned));
            }
        }

        #[test]
        fn never_panics_on_json_like_input(
            status in prop_oneof![Just(200u16), Just(201), Just(400), Just(401)],
            access in proptest::option::of(".{0,20}"),
            expires in proptest::option::of(prop_oneof![
                any::<i64>().prop_map(|n| n.to_string()),
                any::<f64>().prop_map(|n| format!("{n:?}")),
                ".{0,10}".prop_map(|s| format!("{s:?}")),
            ]),
            kind in ".{0,12}",
            error in proptest::option::of(".{0,12}"),
        ) {
            let mut fields = Vec::new();
            if let Some(access) = access { fields.push(format!("\"access_token\":{access:?}")); }
            if let Some(expires) = expires { fields.push(format!("\"expires_in\":{expires}")); }
            fields.push(format!("\"token_type\":{kind:?}"));
            if let Some(error) = error { fields.push(format!("\"error\":{error:?}")); }
            let body = format!("{{{}}}", fields.join(","));
            let raw = RawAnswer {
                status: StatusCode::from_u16(status).unwrap(),
                content_type: Some("application/json"),
                date: None,
                sent_at: Instant::now(),
                lifetime_cap: None,
                body: body.as_bytes(),
                secrets: &[],
                vendor: None,
            };
            let _ = parse(&raw);
        }
    }
}
