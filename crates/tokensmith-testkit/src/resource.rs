//! A protected resource that says how to get its tokens, and dynamic client registration:
//! - `/resource/…`: reads need the read scopes, other methods the write scopes; a token must
//!   have been issued for this resource (RFC 8707). No token: 401 with
//!   `WWW-Authenticate: Bearer resource_metadata="…", scope="…"`; too little scope: 403
//!   `insufficient_scope` with the scopes wanted (RFC 6750 §3.1).
//! - `/.well-known/oauth-protected-resource/resource`: its metadata (RFC 9728).
//! - `/register`: dynamic client registration (RFC 7591), the clients usable at once.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::config::{AuthMethods, ClientConfig};
use crate::incoming::Incoming;
use crate::reply::Reply;
use crate::sim::{Rejection, SimState};
use crate::state::random_token;

/// The resource's path; its identifier is the server's base URL with it.
pub(crate) const RESOURCE_PATH: &str = "/resource";
/// Where its metadata is (RFC 9728 §3.1, the resource's path inserted).
pub(crate) const RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource/resource";
/// The registration endpoint.
pub(crate) const REGISTER_PATH: &str = "/register";

/// RFC 8707 §2: an absolute URI without a fragment.
pub(crate) fn valid_resource(resource: &str) -> bool {
    url::Url::parse(resource).is_ok_and(|url| url.fragment().is_none())
}

/// `GET /.well-known/oauth-protected-resource/resource`.
pub(crate) async fn metadata(State(sim): State<SimState>) -> Reply {
    let state = &sim.0;
    let config = &state.config;
    let mut scopes: Vec<&String> = config.resource_read_scopes.iter().collect();
    for scope in &config.resource_write_scopes {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Reply::json(
        StatusCode::OK,
        &json!({
            "resource": format!("{}{RESOURCE_PATH}", state.base_url),
            "authorization_servers": [state.base_url],
            "scopes_supported": scopes,
            "bearer_methods_supported": ["header"],
            "resource_name": "tokensmith test resource",
        }),
    )
}

/// Any method under `/resource`.
pub(crate) async fn handler(State(sim): State<SimState>, req: Incoming) -> Reply {
    let state = &sim.0;
    let config = &state.config;
    let base = &state.base_url;
    let resource = format!("{base}{RESOURCE_PATH}");
    let metadata = format!("{base}{RESOURCE_METADATA_PATH}");
    let reads = matches!(req.method, Method::GET | Method::HEAD);
    let wanted = if reads {
        &config.resource_read_scopes
    } else {
        &config.resource_write_scopes
    };
    let wanted = wanted.join(" ");
    let challenge = |error: Option<&str>| {
        let mut value = format!("Bearer resource_metadata=\"{metadata}\"");
        if !wanted.is_empty() {
            value.push_str(&format!(", scope=\"{wanted}\""));
        }
        if let Some(error) = error {
            value.push_str(&format!(", error=\"{error}\""));
        }
        value
    };
    let issued = match sim.authorized(&req, false) {
        Ok(issued) => issued,
        Err(Rejection::Missing) => {
            return Reply::json(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_request", "error_description": "no access token"}),
            )
            .header("www-authenticate", challenge(None));
        }
        Err(_) => {
            return Reply::json(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "invalid_token", "error_description": "the token is not valid"}),
            )
            .header("www-authenticate", challenge(Some("invalid_token")));
        }
    };
    if issued.resource.as_deref() != Some(resource.as_str()) {
        // RFC 8707 §2: a token for another resource (or for none) is not for this one.
        return Reply::json(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_token", "error_description": "the token was issued for another resource"}),
        )
        .header("www-authenticate", challenge(Some("invalid_token")));
    }
    let granted: Vec<&str> = issued
        .scope
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let missing = wanted
        .split_whitespace()
        .any(|scope| !granted.contains(&scope));
    if missing {
        return Reply::json(
            StatusCode::FORBIDDEN,
            &json!({"error": "insufficient_scope", "error_description": "the token lacks a scope this request needs"}),
        )
        .header("www-authenticate", challenge(Some("insufficient_scope")));
    }
    Reply::json(
        StatusCode::OK,
        &json!({
            "path": req.path,
            "method": req.method.as_str(),
            "client_id": issued.client_id,
            "username": issued.username,
            "scope": issued.scope,
            "resource": issued.resource,
        }),
    )
}

/// `POST /register` (RFC 7591 §3.1): a JSON object of client metadata.
pub(crate) async fn register(State(sim): State<SimState>, body: Bytes) -> Reply {
    let invalid = |code: &str, description: &str| {
        Reply::json(
            StatusCode::BAD_REQUEST,
            &json!({"error": code, "error_description": description}),
        )
    };
    let Ok(Value::Object(metadata)) = serde_json::from_slice::<Value>(&body) else {
        return invalid("invalid_client_metadata", "the body is not a JSON object");
    };
    let strings = |name: &str| -> Result<Option<Vec<String>>, ()> {
        match metadata.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| item.as_str().map(str::to_owned).ok_or(()))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(()),
        }
    };
    let (Ok(redirect_uris), Ok(grant_types)) = (strings("redirect_uris"), strings("grant_types"))
    else {
        return invalid(
            "invalid_client_metadata",
            "a list field is not a list of strings",
        );
    };
    let redirect_uris = redirect_uris.unwrap_or_default();
    let grant_types = grant_types.unwrap_or_else(|| vec!["authorization_code".into()]);
    for uri in &redirect_uris {
        let Ok(url) = url::Url::parse(uri) else {
            return invalid("invalid_redirect_uri", "a redirect URI is not a URL");
        };
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
        if url.fragment().is_some() || (url.scheme() != "https" && !loopback) {
            return invalid(
                "invalid_redirect_uri",
                "a redirect URI must be https, or http on loopback, without a fragment",
            );
        }
    }
    if grant_types.iter().any(|g| g == "authorization_code") && redirect_uris.is_empty() {
        return invalid(
            "invalid_redirect_uri",
            "the authorization code grant needs a redirect URI",
        );
    }
    let method = metadata
        .get("token_endpoint_auth_method")
        .and_then(Value::as_str)
        .unwrap_or("client_secret_basic");
    let auth = match method {
        "none" => AuthMethods {
            basic: false,
            body: false,
            decode_basic: true,
        },
        "client_secret_basic" => AuthMethods {
            basic: true,
            body: false,
            decode_basic: true,
        },
        "client_secret_post" => AuthMethods {
            basic: false,
            body: true,
            decode_basic: true,
        },
        _ => {
            return invalid(
                "invalid_client_metadata",
                "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
            );
        }
    };
    let id = random_token("client");
    let secret = (method != "none").then(|| random_token("secret"));
    let mut grants = grant_types.clone();
    if grants.iter().any(|g| g == "authorization_code")
        && !grants.iter().any(|g| g == "refresh_token")
    {
        grants.push("refresh_token".into());
    }
    let client = ClientConfig {
        id: id.clone(),
        secret: secret.clone(),
        auth,
        grants: Some(grants),
        scopes: None,
        redirect_uris: redirect_uris.clone(),
        jwk: None,
    };
    if !sim.0.config.register(client) {
        return invalid(
            "invalid_client_metadata",
            "this server registers no more clients",
        );
    }
    let mut answer = metadata.clone();
    answer.insert("client_id".into(), id.into());
    answer.insert("client_id_issued_at".into(), now().into());
    answer.insert("redirect_uris".into(), json!(redirect_uris));
    answer.insert("grant_types".into(), json!(grant_types));
    answer.insert("token_endpoint_auth_method".into(), method.into());
    if let Some(secret) = secret {
        answer.insert("client_secret".into(), secret.into());
        answer.insert("client_secret_expires_at".into(), 0.into());
    }
    Reply::json(StatusCode::CREATED, &Value::Object(answer))
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
