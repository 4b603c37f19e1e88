//! Error responses in every shape servers send: RFC 6749 §5.2, an `error` object, an `errors` array, a bare status; read leniently into one `OAuthError`.

use super::*;

/// An error answer, if the body holds one: RFC 6749 §5.2 with the code in any casing, and
/// the shapes many servers and gateways use instead (listed on `TokenVendor`).
pub(super) fn oauth_error(status: StatusCode, fields: &Map<String, Value>) -> Option<OAuthError> {
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
