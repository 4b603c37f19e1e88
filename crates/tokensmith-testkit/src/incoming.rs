//! A request as the handlers see it: method, path, headers, query and form parameters.

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};

/// Largest request body the server reads.
pub(crate) const MAX_REQUEST_BODY: usize = 64 * 1024;

/// A request with its body read: query and form parameters parsed (the form only when the
/// `Content-Type` says it is one, as RFC 6749 wants).
#[derive(Debug)]
pub struct Incoming {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// Query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The headers.
    pub headers: HeaderMap,
    /// Form parameters of an `application/x-www-form-urlencoded` body, in order.
    pub form: Vec<(String, String)>,
}

impl Incoming {
    pub(crate) fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        Self::find(&self.query, name)
    }

    /// A form parameter.
    pub fn form_param(&self, name: &str) -> Option<&str> {
        Self::find(&self.form, name)
    }

    /// A header's value, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub(crate) fn pairs(encoded: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(encoded)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

impl<S: Send + Sync> FromRequest<S> for Incoming {
    type Rejection = Response;

    async fn from_request(request: Request, _: &S) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, MAX_REQUEST_BODY)
            .await
            .map_err(|_| {
                (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response()
            })?;
        let form = if is_form(&parts.headers) {
            pairs(&body)
        } else {
            Vec::new()
        };
        Ok(Self {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: pairs(parts.uri.query().unwrap_or("").as_bytes()),
            headers: parts.headers,
            form,
        })
    }
}
