//! The authorization endpoint (RFC 6749 §4.1.1, RFC 7636 §4.3), approving at once, and the
//! device authorization endpoint (RFC 8628 §3.1).

use axum::http::StatusCode;
use serde_json::json;
use tokio::time::Instant;
use url::Url;

use axum::extract::State;

use crate::incoming::Incoming;
use crate::reply::{Reply, oauth_error};
use crate::sim::SimState;
use crate::state::{
    CodeGrant, DeviceGrant, DeviceStatus, ServerState, lock, random_token, user_code,
};

/// `GET /authorize`.
pub(crate) async fn authorize_handler(State(sim): State<SimState>, req: Incoming) -> Reply {
    authorize(&sim.0, &req)
}

/// `POST /device_authorization`.
pub(crate) async fn device_handler(State(sim): State<SimState>, req: Incoming) -> Reply {
    device_authorization(&sim.0, &req)
}

/// Checks the client and redirect URI, then redirects straight back with `code` and `state`,
/// as if the user had signed in and approved.
fn authorize(state: &ServerState, req: &Incoming) -> Reply {
    let q = |name: &str| req.query_param(name);
    let Some(client) = q("client_id").and_then(|id| state.config.client(id)) else {
        return Reply::text(StatusCode::BAD_REQUEST, "unknown or missing client_id");
    };
    // Errors about the redirect URI itself are shown, never redirected (RFC 6749 §4.1.2.1).
    let redirect_uri = match q("redirect_uri") {
        Some(uri) if client.redirect_uris.iter().any(|r| same_redirect(r, uri)) => uri.to_owned(),
        Some(_) => {
            return Reply::text(
                StatusCode::BAD_REQUEST,
                "redirect_uri is not registered for this client",
            );
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Reply::text(StatusCode::BAD_REQUEST, "redirect_uri is required"),
    };
    let Ok(mut target) = Url::parse(&redirect_uri) else {
        return Reply::text(StatusCode::BAD_REQUEST, "redirect_uri is not a URL");
    };
    let state_param = q("state");
    let back = |pairs: &[(&str, &str)], mut target: Url| {
        {
            let mut query = target.query_pairs_mut();
            for (k, v) in pairs {
                query.append_pair(k, v);
            }
            if let Some(s) = state_param {
                query.append_pair("state", s);
            }
            // RFC 9207: the response names its issuer.
            query.append_pair("iss", &state.base_url);
        }
        Reply::redirect(target.as_str())
    };
    if q("response_type") != Some("code") {
        return back(&[("error", "unsupported_response_type")], target);
    }
    if let Some(scope) = q("scope")
        && !client.refused_scopes(scope).is_empty()
    {
        return back(&[("error", "invalid_scope")], target);
    }
    if q("resource").is_some_and(|r| !crate::resource::valid_resource(r)) {
        // RFC 8707 §2: an absolute URI without a fragment.
        return back(&[("error", "invalid_target")], target);
    }
    let challenge = match (q("code_challenge"), q("code_challenge_method")) {
        (Some(challenge), method) => {
            let method = method.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return back(
                    &[
                        ("error", "invalid_request"),
                        ("error_description", "unsupported code_challenge_method"),
                    ],
                    target,
                );
            }
            Some((challenge.to_owned(), method.to_owned()))
        }
        (None, _) if client.secret.is_none() => {
            return back(
                &[
                    ("error", "invalid_request"),
                    ("error_description", "PKCE is required for public clients"),
                ],
                target,
            );
        }
        (None, _) => None,
    };
    let code = random_token("code");
    lock(&state.store).codes.insert(
        code.clone(),
        CodeGrant {
            client_id: client.id.clone(),
            redirect_uri: q("redirect_uri").map(str::to_owned),
            challenge,
            scope: q("scope").map(str::to_owned),
            expires_at: Instant::now() + state.config.code_lifetime,
            used: false,
            resource: q("resource").map(str::to_owned),
        },
    );
    target.set_fragment(None);
    back(&[("code", &code)], target)
}

/// Starts a device grant (RFC 8628 §3.1, §3.2).
fn device_authorization(state: &ServerState, req: &Incoming) -> Reply {
    let config = &state.config;
    let Some(client) = req
        .form_param("client_id")
        .and_then(|id| state.config.client(id))
    else {
        return oauth_error(config, "invalid_client", "unknown or missing client_id");
    };
    if let Some(secret) = &client.secret
        && req.form_param("client_secret") != Some(secret.as_str())
    {
        return oauth_error(config, "invalid_client", "client authentication failed");
    }
    let scope = req.form_param("scope");
    if let Some(scope) = scope
        && !client.refused_scopes(scope).is_empty()
    {
        return oauth_error(config, "invalid_scope", "scope not allowed");
    }
    let device_code = random_token("dc");
    let user_code = user_code();
    lock(&state.store).devices.insert(
        device_code.clone(),
        DeviceGrant {
            client_id: client.id.clone(),
            user_code: user_code.clone(),
            scope: scope.map(str::to_owned),
            status: DeviceStatus::Pending,
            interval: config.device_interval,
            last_poll: None,
            expires_at: Instant::now() + config.device_lifetime,
        },
    );
    let verification_uri = format!("{}/device", state.base_url);
    Reply::json(
        StatusCode::OK,
        &json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
            "expires_in": config.device_lifetime.as_secs(),
            "interval": config.device_interval.as_secs(),
        }),
    )
}

/// Approves or denies the device grant with this user code; false if there is none.
pub(crate) fn decide_device(state: &ServerState, user_code: &str, status: DeviceStatus) -> bool {
    let mut store = lock(&state.store);
    match store
        .devices
        .values_mut()
        .find(|d| d.user_code == user_code)
    {
        Some(device) => {
            device.status = status;
            true
        }
        None => false,
    }
}

/// Whether `given` is the registered redirect URI `registered`: the same text, or, for a
/// loopback IP literal, the same but for the port (RFC 8252 §7.3: native apps listen on
/// whatever port the system gives them).
fn same_redirect(registered: &str, given: &str) -> bool {
    if registered == given {
        return true;
    }
    let (Ok(mut registered), Ok(mut given)) = (Url::parse(registered), Url::parse(given)) else {
        return false;
    };
    let loopback = |url: &Url| match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    if registered.scheme() != "http" || !loopback(&registered) || !loopback(&given) {
        return false;
    }
    let _ = registered.set_port(None);
    let _ = given.set_port(None);
    registered == given
}
