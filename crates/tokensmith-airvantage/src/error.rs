//! What can go wrong calling AirVantage: its error shape
//! (`{"error": "<dotted.code>", "errorParameters": […]}`) and the hints for its codes.

use std::fmt;

use reqwest::StatusCode;
use serde_json::Value;
use tokensmith_http::scrub_excerpt;
use tokensmith_reqwest::api::{ApiError, ApiVendor};

use crate::Region;

/// The most `errorParameters` an error keeps.
const MAX_ERROR_PARAMETERS: usize = 8;

/// An error from an AirVantage call: [`kind`](ApiError::kind), [`status`](ApiError::status),
/// AirVantage's code and parameters as the [`payload`](ApiError::payload) when it answered in
/// its error shape (a scrubbed [`excerpt`](ApiError::excerpt) when not, a gateway page, say),
/// and a [`hint`](ApiError::hint).
pub type AirVantageError = ApiError<ErrorPayload>;

/// AirVantage's error answer: a dotted code and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorPayload {
    /// The code, such as `context.unknown` or `missing.rights` (scrubbed, bounded).
    pub code: String,
    /// `errorParameters`: the first few, each scrubbed and bounded (they echo request data).
    pub parameters: Vec<String>,
}

impl fmt::Display for ErrorPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.code)?;
        if !self.parameters.is_empty() {
            write!(f, " {:?}", self.parameters)?;
        }
        Ok(())
    }
}

/// The vendor's name in messages.
pub(crate) const VENDOR: &str = "AirVantage";

/// AirVantage's error reader, knowing where the client is pointed (for the hints).
#[derive(Debug, Clone)]
pub(crate) struct AirVantageApi {
    pub(crate) region: Region,
    pub(crate) company: Option<String>,
}

impl ApiVendor for AirVantageApi {
    type Payload = ErrorPayload;

    fn name(&self) -> &'static str {
        VENDOR
    }

    fn payload(&self, _: StatusCode, body: &[u8]) -> Option<ErrorPayload> {
        let parsed: Value = serde_json::from_slice(body).ok()?;
        let code = parsed.get("error")?.as_str()?;
        let parameters = parsed
            .get("errorParameters")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .take(MAX_ERROR_PARAMETERS)
                    .map(|p| {
                        let text = p.as_str().map_or_else(|| p.to_string(), str::to_owned);
                        scrub_excerpt(text.as_bytes(), &[])
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(ErrorPayload {
            code: scrub_excerpt(code.as_bytes(), &[]),
            parameters,
        })
    }

    fn hint(&self, _: StatusCode, payload: Option<&ErrorPayload>) -> Option<String> {
        let payload = payload?;
        hint_for(
            &payload.code,
            &payload.parameters,
            &self.region,
            self.company.as_deref(),
        )
    }
}

/// The hint for an API error, given where the client is pointed.
pub(crate) fn hint_for(
    code: &str,
    parameters: &[String],
    region: &Region,
    company: Option<&str>,
) -> Option<String> {
    match code {
        "context.unknown" => {
            let other = match region.other() {
                Some(other) => format!(
                    "; if the account lives in the `{other}` region, build the client with Region::{}",
                    if other == Region::Na { "Na" } else { "Eu" }
                ),
                None => String::new(),
            };
            let company = match company {
                Some(company) => format!(
                    "; or the `company` parameter (`{company}`) names a company this user cannot see"
                ),
                None => {
                    "; or a `company` parameter is needed to name the user's company".to_owned()
                }
            };
            Some(format!(
                "AirVantage does not know this context in region `{region}`: the token, the \
                 resource or the company belongs elsewhere{other}{company}"
            ))
        }
        "missing.rights" => Some(match parameters.first() {
            Some(right) => format!(
                "the user lacks the right `{right}`: grant it to the user's profile in AirVantage"
            ),
            None => "the user lacks a right this call needs".to_owned(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_unknown_names_the_other_region_and_the_company() {
        let hint = hint_for("context.unknown", &[], &Region::Eu, None).unwrap();
        assert!(
            hint.contains("region `eu`")
                && hint.contains("`na` region")
                && hint.contains("Region::Na"),
            "{hint}"
        );
        assert!(hint.contains("a `company` parameter is needed"));
        let hint = hint_for("context.unknown", &[], &Region::Na, Some("c-9")).unwrap();
        assert!(
            hint.contains("Region::Eu") && hint.contains("(`c-9`)"),
            "{hint}"
        );
        let rights = hint_for(
            "missing.rights",
            &["entities.systems.view".into()],
            &Region::Na,
            None,
        )
        .unwrap();
        assert!(rights.contains("`entities.systems.view`"));
        assert_eq!(hint_for("other.code", &[], &Region::Na, None), None);
    }
}
