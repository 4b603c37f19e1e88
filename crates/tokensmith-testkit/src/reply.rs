//! Answers: JSON, OAuth errors, redirects.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::config::Config;

/// An answer before it becomes a response, so faults can rewrite it.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) content_type: &'static str,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, value: &Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }

    pub(crate) fn text(status: StatusCode, text: impl Into<String>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            content_type: "text/plain",
            body: text.into().into_bytes(),
        }
    }

    pub(crate) fn redirect(location: &str) -> Self {
        Self {
            status: StatusCode::FOUND,
            headers: vec![("location", location.to_owned())],
            content_type: "text/plain",
            body: Vec::new(),
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        response
    }
}

/// An OAuth error (RFC 6749 §5.2), in RFC 6749's shape or the one the server was told to use.
pub(crate) fn oauth_error(config: &Config, code: &str, description: &str) -> Reply {
    if let Some((status, body)) = config
        .error_shape
        .and_then(|shape| shape(code, description))
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
        return Reply::json(status, &body);
    }
    let status = if code == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let reply = Reply::json(
        status,
        &json!({"error": code, "error_description": description}),
    );
    if status == StatusCode::UNAUTHORIZED {
        reply.header("www-authenticate", "Basic realm=\"tokensmith-testkit\"")
    } else {
        reply
    }
}

/// 401 from the protected resource (RFC 6750 §3).
pub(crate) fn invalid_token(description: &str) -> Reply {
    Reply::json(
        StatusCode::UNAUTHORIZED,
        &json!({"error": "invalid_token", "error_description": description}),
    )
    .header(
        "www-authenticate",
        format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
    )
}
