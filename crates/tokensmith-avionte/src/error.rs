//! What can go wrong calling Avionté. Its error bodies are not documented, so they stay
//! opaque: status and a scrubbed excerpt.

use reqwest::StatusCode;

/// An error from an Avionté call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AvionteError {
    /// No token could be had.
    #[error("{0}")]
    Auth(#[source] tokensmith_core::Error),
    /// Avionté answered with an error status.
    #[error("Avionté answered HTTP {}: {excerpt:?}{}", status.as_u16(), hint.as_deref().map(|h| format!(" (hint: {h})")).unwrap_or_default())]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The start of the body, with anything secret-looking masked.
        excerpt: String,
        /// The likely cause, when known.
        hint: Option<String>,
    },
    /// The request did not get an answer.
    #[error("could not reach Avionté: {0}")]
    Transport(#[source] reqwest_middleware::Error),
    /// The answer could not be read as the expected type.
    #[error("could not read Avionté's answer: {0}")]
    Decode(String),
    /// The call was refused before sending (a page size above 100, say).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl AvionteError {
    /// A sentence naming the likely cause, when one is known.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::Auth(e) => e.hint(),
            Self::Api { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status of an error answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } => Some(*status),
            Self::Auth(e) => e.status(),
            _ => None,
        }
    }
}

/// The likely cause of an API error status, per Avionté's documented statuses.
pub(crate) fn api_hint(status: StatusCode) -> Option<&'static str> {
    Some(match status.as_u16() {
        400 => {
            "Avionté refused the request: check the tenant header (FrontOfficeTenantId or Tenant) and the parameters"
        }
        401 => {
            "the bearer token was refused even after a fresh one: check that the API client may use this tenant"
        }
        403 => {
            "the token was issued, so the x-api-key reaches the gateway: check the tenant header \
             (FrontOfficeTenantId or Tenant, wrong or missing for this partner), then that the key \
             is enabled for this API"
        }
        406 => "Avionté cannot answer in the format asked for: send Accept: application/json",
        415 => "Avionté does not take this request body's Content-Type",
        429 => {
            "Avionté is rate limiting this client and the retries ran out: lower the client's rate limit"
        }
        500 | 502 => "Avionté or its gateway failed; this is usually temporary",
        _ => return None,
    })
}

/// The hint for a failed token request: Avionté's gateway answers 403 for a bad API key.
pub(crate) fn token_hint(error: &tokensmith_core::Error) -> Option<&'static str> {
    match error.status().map(|s| s.as_u16()) {
        Some(403) => {
            Some("Avionté's gateway refused the token request: the x-api-key is missing or wrong")
        }
        _ => None,
    }
}
