//! The error shapes and hints of Basic-client vendors.

use reqwest::StatusCode;
use serde_json::{Map, Value};
use tokensmith_core::{Error, ErrorCode, OAuthError, TokenType};
use tokensmith_oauth2::{HintContext, TokenVendor};

/// The quirks of Basic-client vendors at the token endpoint: the `{"errors":[…]}` and
/// `{"error":{"code":…}}` error shapes, `token_type` spellings that mean bearer
/// (`BearerToken`, `Application Access Token`, `User Access Token`), and the hint for a wrong
/// client answered as `invalid_request`. [`BasicClient`](crate::BasicClient) sets it; set it
/// on a hand-built endpoint with `TokenEndpointBuilder::vendor(Quirks)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quirks;

/// `token_type` spellings that mean bearer.
const BEARER_ALIASES: &[&str] = &[
    "bearertoken",
    "application access token",
    "user access token",
];

impl TokenVendor for Quirks {
    fn error(&self, status: StatusCode, fields: &Map<String, Value>) -> Option<OAuthError> {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        // `{"error": {"code": "...", "message": "..."}}`
        if let Some(Value::Object(inner)) = fields.get("error") {
            let code = text(inner.get("code")).or_else(|| text(inner.get("error")))?;
            let mut error = OAuthError::new(status, code);
            error.description =
                text(inner.get("message")).or_else(|| text(inner.get("description")));
            return Some(error);
        }
        // `{"errors": [{"message": "...", "attribute-name": "..."}]}`
        let errors = fields.get("errors")?.as_array()?;
        let first = errors.iter().find_map(Value::as_object)?;
        let message = text(first.get("message")).unwrap_or_default();
        let attribute = text(first.get("attribute-name"))
            .or_else(|| text(first.get("attribute")))
            .or_else(|| text(first.get("field")));
        let code = match attribute.as_deref() {
            _ if status == StatusCode::UNAUTHORIZED => "invalid_client",
            Some("client_id" | "client_secret") => "invalid_client",
            Some("refresh_token" | "code" | "password" | "username") => "invalid_grant",
            Some("scope") => "invalid_scope",
            Some("grant_type") if message.to_ascii_lowercase().contains("unsupported") => {
                "unsupported_grant_type"
            }
            _ => "invalid_request",
        };
        let mut error = OAuthError::new(status, code);
        let messages: Vec<String> = errors
            .iter()
            .filter_map(Value::as_object)
            .take(8)
            .map(|e| {
                let message = text(e.get("message")).unwrap_or_default();
                match text(e.get("attribute-name")) {
                    Some(attribute) => format!("{message} ({attribute})"),
                    None => message,
                }
            })
            .collect();
        error.description = Some(messages.join("; "));
        Some(error)
    }

    fn token_type(&self, token_type: &str) -> Option<TokenType> {
        let lower = token_type.trim().to_ascii_lowercase();
        BEARER_ALIASES
            .contains(&lower.as_str())
            .then_some(TokenType::Bearer)
    }

    fn hint(&self, error: &Error, request: &HintContext<'_>) -> Option<String> {
        let oauth = error.oauth()?;
        // A wrong client answered as `invalid_request` "Invalid client_id".
        let description = oauth
            .description
            .as_deref()
            .unwrap_or("")
            .to_ascii_lowercase();
        (oauth.code == ErrorCode::InvalidRequest
            && (description.contains("client_id") || description.contains("client_secret")))
        .then(|| request.invalid_client_hint())
    }
}
