//! The middleware in front of every route: it logs each request, counts it, and injects the
//! faults a test asked for.

use super::*;

/// Largest answer a fault rewrites.
const MAX_REWRITTEN: usize = 1024 * 1024;

/// Logs and counts a request to `endpoint`, checks the gateway key, and applies a fault.
pub(super) async fn observe(
    State((shared, endpoint)): State<(Arc<ServerState>, Endpoint)>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST_BODY).await else {
        return Reply::text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
            .into_response();
    };
    let form = is_form(&parts.headers);
    shared.record(LoggedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        endpoint,
        query_keys: keys(parts.uri.query().unwrap_or("").as_bytes()),
        form_keys: if form { keys(&body) } else { Vec::new() },
        headers: masked_headers(&parts.headers),
    });
    let counters = &shared.counters;
    let target = match endpoint {
        Endpoint::Token => {
            AtomicCounters::bump(&counters.token_requests);
            Some(Target::Token)
        }
        Endpoint::Api => {
            AtomicCounters::bump(&counters.api_requests);
            Some(Target::Api)
        }
        Endpoint::Authorize => {
            AtomicCounters::bump(&counters.authorize_requests);
            None
        }
        _ => None,
    };
    if let (Some(_), Some((name, value))) = (target, &shared.config.gateway_key)
        && parts
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            != Some(value.as_str())
    {
        return Reply::json(StatusCode::FORBIDDEN, &json!({"message": "Forbidden"}))
            .into_response();
    }
    let fault = target.and_then(|t| shared.take_fault(t));
    match &fault {
        Some(Fault::Delay(delay)) => tokio::time::sleep(*delay).await,
        Some(Fault::Status {
            status,
            content_type,
            body,
            retry_after,
        }) => {
            let mut reply = Reply::text(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body.clone(),
            );
            reply.content_type = if content_type.contains("html") {
                "text/html"
            } else if content_type.contains("json") {
                "application/json"
            } else {
                "text/plain"
            };
            if let Some(seconds) = retry_after {
                reply = reply.header("retry-after", seconds.to_string());
            }
            return reply.into_response();
        }
        Some(Fault::CloseConnection) => return broken_response(),
        _ => {}
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    match fault {
        Some(fault) if response.status() == StatusCode::OK => rewrite(response, &fault).await,
        _ => response,
    }
}

/// Status and headers, then the connection drops in the middle of the body.
fn broken_response() -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"{\"access_token\":")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault",
        )),
    ];
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    let mut response = Response::new(body);
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// Applies a fault that changes a successful answer.
async fn rewrite(response: Response, fault: &Fault) -> Response {
    if !matches!(
        fault,
        Fault::MalformedJson
            | Fault::TruncatedJson
            | Fault::FormEncodedSuccess
            | Fault::ExpiresInAsString
    ) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_REWRITTEN).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut body = body.to_vec();
    match fault {
        Fault::MalformedJson => {
            body = b"{\"access_token\": \"abc\", \"expires_in\": 3600,,}".to_vec();
        }
        Fault::TruncatedJson => {
            let half = body.len() / 2;
            body.truncate(half);
        }
        Fault::FormEncodedSuccess => {
            if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(&body) {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in fields {
                    let text = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    form.append_pair(&k, &text);
                }
                body = form.finish().into_bytes();
                parts.headers.insert(
                    "content-type",
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                );
            }
        }
        Fault::ExpiresInAsString => {
            if let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_slice(&body) {
                if let Some(expires) = fields.get("expires_in").cloned() {
                    fields.insert(
                        "expires_in".into(),
                        serde_json::Value::String(expires.to_string()),
                    );
                }
                body = serde_json::Value::Object(fields).to_string().into_bytes();
            }
        }
        _ => {}
    }
    parts.headers.remove("content-length");
    Response::from_parts(parts, Body::from(body))
}
