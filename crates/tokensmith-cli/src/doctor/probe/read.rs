//! Reading what a probe got back: the form or JSON fields, the error in every shape, a token's times, a transport failure.

use super::*;

/// The answer's fields, from JSON or a form-encoded body.
pub(super) fn fields(text: &str, content_type: &str) -> Option<Map<String, Value>> {
    let form = content_type.starts_with("application/x-www-form-urlencoded")
        || (!text.trim_start().starts_with('{')
            && (text.contains("access_token=") || text.contains("error=")));
    if form {
        return Some(
            url::form_urlencoded::parse(text.trim().as_bytes())
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        );
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// An error's code and description in the shapes servers use: RFC 6749 §5.2 (`error`,
/// `error_description`), an `error` object (`code`, `message`), Slack's `ok: false`, Spring's
/// `error` + `message`, an `errors` array, `reason`.
pub(super) fn error_of(fields: &Map<String, Value>) -> Option<(String, String)> {
    let text = |value: Option<&Value>| -> Option<String> {
        match value? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let first_error = fields
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|errors| errors.first());
    let code = match fields.get("error") {
        Some(Value::Object(inner)) => text(inner.get("code")).or_else(|| text(inner.get("error"))),
        other => text(other),
    }
    .or_else(|| text(fields.get("error_code")))
    .or_else(|| text(fields.get("errorCode")))
    .or_else(|| first_error.and_then(|e| text(e.get("code")).or_else(|| text(e.get("error")))))?;
    let description = text(fields.get("error_description"))
        .or_else(|| match fields.get("error") {
            Some(Value::Object(inner)) => {
                text(inner.get("message")).or_else(|| text(inner.get("description")))
            }
            _ => None,
        })
        .or_else(|| text(fields.get("message")))
        .or_else(|| text(fields.get("error_message")))
        .or_else(|| text(fields.get("errorSummary")))
        .or_else(|| text(fields.get("errorMessage")))
        .or_else(|| text(fields.get("reason")))
        .or_else(|| text(fields.get("detail")))
        .or_else(|| {
            first_error.and_then(|e| {
                text(e.get("message"))
                    .or_else(|| text(e.get("detail")))
                    .or_else(|| text(e.get("description")))
            })
        })
        .unwrap_or_default();
    Some((code, description))
}

/// A JWT's `iat` and `exp`, read without verifying it (by `tokensmith decode`'s reader).
pub(super) fn jwt_times(token: &str) -> (Option<f64>, Option<f64>) {
    let crate::decode::Decoded::Jwt { claims, .. } = crate::decode::decode(token) else {
        return (None, None);
    };
    let time = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite())
    };
    (time("iat"), time("exp"))
}

/// A failure before any answer: TLS, no connection, or no answer in time.
pub(super) fn transport(error: &reqwest::Error) -> Seen {
    if error.is_timeout() {
        return Seen::Timeout;
    }
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(current) = source {
        chain.push(current.to_string());
        source = current.source();
    }
    let text = chain.join(": ");
    let lower = text.to_ascii_lowercase();
    let why = one_line(chain.last().map_or("", String::as_str).trim(), EXCERPT);
    if [
        "tls",
        "certificate",
        "handshake",
        "corrupt message",
        "invalidcontenttype",
        "ssl",
    ]
    .iter()
    .any(|k| lower.contains(k))
    {
        Seen::Tls(why)
    } else if lower.contains("timed out") {
        Seen::Timeout
    } else {
        Seen::Unreachable(why)
    }
}
