//! What can go wrong calling AirVantage.

use reqwest::StatusCode;

use crate::Region;

/// An error from an AirVantage call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AirVantageError {
    /// No token could be had (the token endpoint refused, or could not be reached).
    #[error("{0}")]
    Auth(#[source] tokensmith_core::Error),
    /// AirVantage answered with an error of its own (`{"error": "…", "errorParameters": […]}`).
    #[error("{0}")]
    Api(Box<ApiError>),
    /// An answer that is not AirVantage's error shape (a gateway page, say).
    #[error("AirVantage answered HTTP {status}: {excerpt:?}")]
    Unexpected {
        /// The HTTP status.
        status: StatusCode,
        /// The start of the body, with anything secret-looking masked.
        excerpt: String,
    },
    /// The request did not get an answer.
    #[error("could not reach AirVantage: {0}")]
    Transport(#[source] reqwest_middleware::Error),
    /// The answer could not be read as the expected type.
    #[error("could not read AirVantage's answer: {0}")]
    Decode(String),
}

impl AirVantageError {
    /// A sentence naming the likely cause, when one is known.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::Auth(e) => e.hint(),
            Self::Api(e) => e.hint.as_deref(),
            _ => None,
        }
    }

    /// The API error, if AirVantage answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }
}

/// An AirVantage API error: HTTP status, dotted code and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status (400, 403, 404, …).
    pub status: StatusCode,
    /// The code, such as `context.unknown` or `missing.rights`.
    pub code: String,
    /// `errorParameters`.
    pub parameters: Vec<String>,
    /// The likely cause, in our words.
    pub hint: Option<String>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AirVantage answered HTTP {} `{}`",
            self.status.as_u16(),
            self.code
        )?;
        if !self.parameters.is_empty() {
            write!(f, " {:?}", self.parameters)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
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
