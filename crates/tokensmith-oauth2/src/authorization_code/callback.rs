//! The redirect back from the authorization endpoint, read from its URL (RFC 6749 §4.1.2, RFC 9207 `iss`).

use super::*;

/// What the authorization server sent back to the redirect URI (RFC 6749 §4.1.2).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Callback {
    pub(super) code: Option<String>,
    pub(super) state: Option<String>,
    pub(super) iss: Option<String>,
    pub(super) error: Option<String>,
    pub(super) error_description: Option<String>,
    pub(super) error_uri: Option<String>,
}

impl Callback {
    /// From the full callback URL (`http://127.0.0.1:8080/callback?code=…&state=…`).
    pub fn from_url(url: &str) -> Result<Self, Error> {
        let url = Url::parse(url.trim())
            .map_err(|e| Error::config(format!("the callback is not a URL: {e}")))?;
        Ok(Self::from_query(url.query().unwrap_or("")))
    }

    /// From the callback's query string (with or without the leading `?`).
    pub fn from_query(query: &str) -> Self {
        let mut callback = Self::default();
        for (key, value) in url::form_urlencoded::parse(query.trim_start_matches('?').as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "iss" => &mut callback.iss,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                "error_uri" => &mut callback.error_uri,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
        callback
    }

    /// The `iss` the response carried (RFC 9207), for a callback built with
    /// [`Callback::new`].
    #[must_use]
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.iss = Some(iss.into());
        self
    }

    /// From a code and state received some other way.
    pub fn new(code: impl Into<String>, state: impl Into<String>) -> Self {
        Self {
            code: Some(code.into()),
            state: Some(state.into()),
            ..Self::default()
        }
    }
}

impl fmt::Debug for Callback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Callback")
            .field("code", &self.code.as_ref().map(|_| "[redacted]"))
            .field("state", &self.state)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
