//! Answers: JSON, OAuth errors in each flavour's shape, redirects.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::Flavour;

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

    pub(crate) fn into_response(self) -> Response {
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

/// An OAuth error (RFC 6749 §5.2), in the shape the flavour uses.
pub(crate) fn oauth_error(flavour: &Flavour, code: &str, description: &str) -> Reply {
    let status = if code == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    if *flavour == Flavour::BasicVendor {
        return basic_vendor_error(code, description);
    }
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

/// The non-standard shapes of Basic-client vendors.
fn basic_vendor_error(code: &str, description: &str) -> Reply {
    let body = match code {
        "invalid_client" => {
            json!({"error_description": "Invalid client_id", "error": "Invalid_request"})
        }
        "invalid_grant" if description.contains("refresh") => json!({
            "errors": [{"message": "Invalid refresh token.", "attribute-name": "refresh_token"}]
        }),
        _ => {
            let mut chars = code.chars();
            let capitalised: String = chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
                .collect();
            json!({"error_description": description, "error": capitalised})
        }
    };
    Reply::json(StatusCode::BAD_REQUEST, &body)
}

/// An AirVantage API error.
pub(crate) fn airvantage_error(status: StatusCode, code: &str, parameters: &[&str]) -> Reply {
    Reply::json(
        status,
        &json!({"error": code, "errorParameters": parameters}),
    )
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
