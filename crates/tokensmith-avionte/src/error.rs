//! What can go wrong calling Avionté. Its error bodies are not documented, so they stay
//! opaque: status and a scrubbed excerpt, with a hint per documented status.

use reqwest::StatusCode;
use tokensmith_oauth2::{HintContext, TokenVendor};
use tokensmith_reqwest::api::{ApiError, ApiVendor, NoPayload};

/// An error from an Avionté call: [`kind`](ApiError::kind), [`status`](ApiError::status), a
/// scrubbed [`excerpt`](ApiError::excerpt) and a [`hint`](ApiError::hint).
pub type AvionteError = ApiError<NoPayload>;

/// The vendor's name in messages.
pub(crate) const VENDOR: &str = "Avionté";

/// Avionté's API errors: opaque bodies, hints by status.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AvionteApi;

impl ApiVendor for AvionteApi {
    type Payload = NoPayload;

    fn name(&self) -> &'static str {
        VENDOR
    }

    fn hint(&self, status: StatusCode, _: Option<&NoPayload>) -> Option<String> {
        api_hint(status).map(str::to_owned)
    }
}

/// The likely cause of an API error status, per Avionté's documented statuses.
fn api_hint(status: StatusCode) -> Option<&'static str> {
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

/// Avionté's token endpoint: its gateway answers 403 for a missing or wrong API key.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AvionteToken;

impl TokenVendor for AvionteToken {
    fn hint(&self, error: &tokensmith_core::Error, _: &HintContext<'_>) -> Option<String> {
        (error.status() == Some(StatusCode::FORBIDDEN)).then(|| {
            "Avionté's gateway refused the token request: the x-api-key is missing or wrong"
                .to_owned()
        })
    }
}
