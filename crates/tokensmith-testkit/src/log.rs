//! What the server received, with secrets masked, and counters.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::HeaderMap;

/// Headers whose values are never logged.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "cookie",
    "proxy-authorization",
    "dpop",
];

/// One request as the server saw it. Secrets are masked: the `Authorization` header keeps its
/// scheme (`Bearer [masked]`), and only the names of query and form parameters are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// What the server took the request for.
    pub endpoint: Endpoint,
    /// Names of the query parameters.
    pub query_keys: Vec<String>,
    /// Names of the form parameters in the body.
    pub form_keys: Vec<String>,
    /// Headers, lower-case names, secret values masked.
    pub headers: Vec<(String, String)>,
}

impl LoggedRequest {
    /// The value of a header (masked if it is a secret).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a form parameter of that name was in the body.
    pub fn has_form_key(&self, name: &str) -> bool {
        self.form_keys.iter().any(|k| k == name)
    }
}

/// The endpoints of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// The token endpoint.
    Token,
    /// The authorization endpoint.
    Authorize,
    /// The device authorization endpoint (RFC 8628).
    DeviceAuthorization,
    /// The protected API.
    Api,
    /// A logout or revocation endpoint a vendor simulator mounts.
    Logout,
    /// The metadata document (RFC 8414).
    Discovery,
    /// The revocation endpoint (RFC 7009).
    Revocation,
    /// The registration endpoint (RFC 7591).
    Registration,
    /// The protected resource at `/resource` and its metadata (RFC 9728).
    Resource,
    /// Anything else (answered 404).
    Unknown,
}

pub(crate) fn masked_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_ascii_lowercase();
            let text = value.to_str().unwrap_or("[not text]");
            let shown = if name == "authorization" {
                match text.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} [masked]"),
                    None => "[masked]".to_owned(),
                }
            } else if SECRET_HEADERS.contains(&name.as_str()) {
                "[masked]".to_owned()
            } else {
                text.to_owned()
            };
            (name, shown)
        })
        .collect()
}

pub(crate) fn keys(encoded: &[u8]) -> Vec<String> {
    url::form_urlencoded::parse(encoded)
        .map(|(k, _)| k.into_owned())
        .collect()
}

/// How many requests of each kind the server has answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Requests to the token endpoint.
    pub token_requests: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// Requests to the API.
    pub api_requests: u64,
    /// API requests refused for want of a valid token.
    pub api_rejections: u64,
    /// Requests to the authorization endpoint.
    pub authorize_requests: u64,
    /// Faults injected.
    pub faults: u64,
    /// Rotated refresh tokens presented again.
    pub refresh_reuses: u64,
}

#[derive(Default)]
pub(crate) struct AtomicCounters {
    pub(crate) token_requests: AtomicU64,
    pub(crate) tokens_issued: AtomicU64,
    pub(crate) api_requests: AtomicU64,
    pub(crate) api_rejections: AtomicU64,
    pub(crate) authorize_requests: AtomicU64,
    pub(crate) faults: AtomicU64,
    pub(crate) refresh_reuses: AtomicU64,
}

impl AtomicCounters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn snapshot(&self) -> Counters {
        let get = |c: &AtomicU64| c.load(Ordering::SeqCst);
        Counters {
            token_requests: get(&self.token_requests),
            tokens_issued: get(&self.tokens_issued),
            api_requests: get(&self.api_requests),
            api_rejections: get(&self.api_rejections),
            authorize_requests: get(&self.authorize_requests),
            faults: get(&self.faults),
            refresh_reuses: get(&self.refresh_reuses),
        }
    }
}
