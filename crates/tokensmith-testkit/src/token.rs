//! The token endpoint (RFC 6749 §3.2, §4, §6; RFC 7636; RFC 8628 §3.4).

use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use axum::extract::State;

use crate::config::{ClientConfig, DEFAULT_USERNAME};
use crate::incoming::Incoming;
use crate::log::AtomicCounters;
use crate::proof::{self, DpopRefusal};
use crate::reply::{Reply, oauth_error};
use crate::sim::SimState;
use crate::state::{DeviceStatus, ServerState, lock};

mod client_auth;

pub(crate) use self::client_auth::authenticate;

/// The device grant's `grant_type` (RFC 8628 §3.4).
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// `POST` (and, when told, `GET`) at the token path.
pub(crate) async fn handler(State(sim): State<SimState>, req: Incoming) -> Reply {
    let state = &sim.0;
    // A DPoP proof (RFC 9449 §5) is checked before anything else; a token issued with one
    // is bound to its key and typed `DPoP`.
    let jkt = match req.header("dpop") {
        Some(proof) => {
            let url = format!("{}{}", state.base_url, req.path);
            match proof::dpop(state, proof, req.method.as_str(), &url, None) {
                Ok(jkt) => Some(jkt),
                Err(DpopRefusal::Nonce(nonce)) => {
                    return oauth_error(
                        &state.config,
                        "use_dpop_nonce",
                        "a DPoP nonce is required",
                    )
                    .header("dpop-nonce", nonce);
                }
                Err(DpopRefusal::Invalid(why)) => {
                    return oauth_error(&state.config, "invalid_dpop_proof", &why);
                }
            }
        }
        None => None,
    };
    let reply = token(state, &req);
    match jkt {
        Some(jkt) => bind(state, reply, &jkt),
        None => reply,
    }
}

/// Binds the access token of a successful answer to a DPoP key and types it `DPoP`.
fn bind(state: &ServerState, mut reply: Reply, jkt: &str) -> Reply {
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(&reply.body) else {
        return reply;
    };
    let Some(access) = body.get("access_token").and_then(Value::as_str) else {
        return reply;
    };
    if let Some(issued) = lock(&state.store).tokens.get_mut(access) {
        issued.jkt = Some(jkt.to_owned());
    }
    body.insert("token_type".into(), "DPoP".into());
    reply.body = Value::Object(body).to_string().into_bytes();
    if state.config.dpop_nonce {
        let nonce = lock(&state.store).dpop_nonce.clone();
        reply = reply.header("dpop-nonce", nonce);
    }
    reply
}

fn token(state: &ServerState, req: &Incoming) -> Reply {
    let config = &state.config;
    // Some vendors also serve the token endpoint over GET with query parameters.
    let params = if config.token_over_get && req.method == Method::GET {
        &req.query
    } else {
        &req.form
    };
    let param = |name: &str| Incoming::find(params, name);
    let Some(grant_type) = param("grant_type") else {
        let whereabouts = if req.query_param("grant_type").is_some() {
            " (it was in the query string; parameters belong in the form body)"
        } else if req.header("grant_type").is_some() {
            " (it was in a header; parameters belong in the form body)"
        } else {
            ""
        };
        return oauth_error(
            config,
            "invalid_request",
            &format!("Missing parameter grant_type{whereabouts}"),
        );
    };
    let client = match authenticate(state, req, params) {
        Ok(client) => client,
        Err(reply) => return reply,
    };
    if !client.allows_grant(grant_type) {
        return oauth_error(
            config,
            "unauthorized_client",
            &format!("client may not use grant_type {grant_type}"),
        );
    }
    let scope = param("scope");
    if config.require_scope && scope.is_none() {
        return oauth_error(config, "invalid_scope", "scope is required");
    }
    if let Some(scope) = scope {
        let refused = client.refused_scopes(scope);
        if !refused.is_empty() {
            return oauth_error(
                config,
                "invalid_scope",
                &format!("scope not allowed: {}", refused.join(" ")),
            );
        }
    }
    let resource = param("resource");
    if resource.is_some_and(|r| !crate::resource::valid_resource(r)) {
        return oauth_error(
            config,
            "invalid_target",
            "resource is not an absolute URI without a fragment (RFC 8707 §2)",
        );
    }
    match grant_type {
        "client_credentials" if client.secret.is_none() && client.jwk.is_none() => oauth_error(
            config,
            "unauthorized_client",
            "a public client cannot use client_credentials",
        ),
        "client_credentials" => {
            let with_refresh = state.config.refresh_for_client_credentials;
            let (access, refresh) = state.issue(&client.id, None, scope, with_refresh, None, None);
            state.bind_resource(&access, refresh.as_deref(), resource);
            success(state, &access, refresh.as_deref(), scope)
        }
        "password" => {
            let (Some(username), Some(password)) = (param("username"), param("password")) else {
                return oauth_error(
                    config,
                    "invalid_request",
                    "Missing parameter username or password",
                );
            };
            if !state.config.user_ok(username, password) {
                return oauth_error(config, "invalid_grant", "Bad credentials");
            }
            let (access, refresh) =
                state.issue(&client.id, Some(username), scope, true, None, None);
            state.bind_resource(&access, refresh.as_deref(), resource);
            success(state, &access, refresh.as_deref(), scope)
        }
        "refresh_token" => refresh(state, client, param("refresh_token"), resource),
        "authorization_code" => authorization_code(state, client, params),
        DEVICE_CODE_GRANT => device_code(state, client, param("device_code"), resource),
        other => oauth_error(
            config,
            "unsupported_grant_type",
            &format!("grant_type {other} is not supported"),
        ),
    }
}

fn success(state: &ServerState, access: &str, refresh: Option<&str>, scope: Option<&str>) -> Reply {
    let mut body = Map::new();
    body.insert("access_token".into(), access.into());
    body.insert("token_type".into(), state.config.token_type.into());
    body.insert(
        "expires_in".into(),
        state.config.token_lifetime.as_secs().into(),
    );
    if let Some(refresh) = refresh {
        body.insert("refresh_token".into(), refresh.into());
    }
    if let Some(scope) = scope {
        body.insert("scope".into(), scope.into());
    }
    Reply::json(StatusCode::OK, &Value::Object(body))
}

fn refresh(
    state: &ServerState,
    client: &ClientConfig,
    refresh_token: Option<&str>,
    resource: Option<&str>,
) -> Reply {
    let config = &state.config;
    let Some(refresh_token) = refresh_token else {
        return oauth_error(config, "invalid_request", "Missing parameter refresh_token");
    };
    let rotate = state.config.rotate_refresh_tokens;
    let grant = {
        let mut store = lock(&state.store);
        let Some(grant) = store.refresh.get(refresh_token).cloned() else {
            let reused = store.retired.get(refresh_token).cloned();
            if let (Some(family), true) = (reused, config.revoke_on_refresh_reuse) {
                // RFC 9700 §4.14.2: a rotated refresh token used again revokes the grant.
                store.refresh.retain(|_, grant| grant.family != family);
                for issued in store.tokens.values_mut() {
                    if issued.family.as_deref() == Some(family.as_str()) {
                        issued.revoked = true;
                    }
                }
                AtomicCounters::bump(&state.counters.refresh_reuses);
                return oauth_error(
                    config,
                    "invalid_grant",
                    "refresh token reused; the whole grant is revoked",
                );
            }
            return oauth_error(config, "invalid_grant", "Invalid refresh token");
        };
        if grant.client_id != client.id {
            return oauth_error(
                config,
                "invalid_grant",
                "refresh token was issued to another client",
            );
        }
        if let (Some(granted), Some(asked)) = (&grant.resource, resource)
            && granted != asked
        {
            return oauth_error(
                config,
                "invalid_target",
                "the refresh token was issued for another resource",
            );
        }
        if rotate {
            store.refresh.remove(refresh_token);
            store
                .retired
                .insert(refresh_token.to_owned(), grant.family.clone());
        }
        grant
    };
    let (access, rotated) = state.issue(
        &client.id,
        grant.username.as_deref(),
        grant.scope.as_deref(),
        rotate,
        None,
        Some(&grant.family),
    );
    let refresh_out = rotated.unwrap_or_else(|| refresh_token.to_owned());
    state.bind_resource(
        &access,
        Some(&refresh_out),
        resource.or(grant.resource.as_deref()),
    );
    success(state, &access, Some(&refresh_out), grant.scope.as_deref())
}

fn authorization_code(
    state: &ServerState,
    client: &ClientConfig,
    params: &[(String, String)],
) -> Reply {
    let config = &state.config;
    let param = |name: &str| Incoming::find(params, name);
    let Some(code) = param("code") else {
        return oauth_error(config, "invalid_request", "Missing parameter code");
    };
    let grant = {
        let mut store = lock(&state.store);
        let Some(grant) = store.codes.get_mut(code) else {
            return oauth_error(config, "invalid_grant", "Invalid authorization code");
        };
        if grant.used {
            // RFC 6749 §4.1.2: a replayed code revokes what it issued.
            for issued in store.tokens.values_mut() {
                if issued.from_code.as_deref() == Some(code) {
                    issued.revoked = true;
                }
            }
            return oauth_error(config, "invalid_grant", "authorization code already used");
        }
        grant.used = true;
        grant.clone()
    };
    if Instant::now() >= grant.expires_at {
        return oauth_error(config, "invalid_grant", "authorization code expired");
    }
    if grant.client_id != client.id {
        return oauth_error(
            config,
            "invalid_grant",
            "authorization code was issued to another client",
        );
    }
    if let Some(expected) = &grant.redirect_uri
        && param("redirect_uri") != Some(expected.as_str())
    {
        return oauth_error(
            config,
            "invalid_grant",
            "redirect_uri does not match the one sent to the authorization endpoint",
        );
    }
    let resource = param("resource");
    if let (Some(authorized), Some(asked)) = (&grant.resource, resource)
        && authorized != asked
    {
        return oauth_error(
            config,
            "invalid_target",
            "resource differs from the one sent to the authorization endpoint",
        );
    }
    if let Some((challenge, method)) = &grant.challenge {
        let Some(verifier) = param("code_verifier") else {
            return oauth_error(config, "invalid_grant", "code_verifier required");
        };
        let computed = match method.as_str() {
            "S256" => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            _ => verifier.to_owned(),
        };
        if &computed != challenge {
            return oauth_error(config, "invalid_grant", "PKCE verification failed");
        }
    }
    let (access, refresh) = state.issue(
        &client.id,
        Some(DEFAULT_USERNAME),
        grant.scope.as_deref(),
        true,
        Some(code),
        None,
    );
    state.bind_resource(
        &access,
        refresh.as_deref(),
        resource.or(grant.resource.as_deref()),
    );
    success(state, &access, refresh.as_deref(), grant.scope.as_deref())
}

fn device_code(
    state: &ServerState,
    client: &ClientConfig,
    device_code: Option<&str>,
    resource: Option<&str>,
) -> Reply {
    let config = &state.config;
    let Some(device_code) = device_code else {
        return oauth_error(config, "invalid_request", "Missing parameter device_code");
    };
    let now = Instant::now();
    let approved = {
        let mut store = lock(&state.store);
        let Some(device) = store.devices.get_mut(device_code) else {
            return oauth_error(config, "invalid_grant", "unknown device_code");
        };
        if device.client_id != client.id {
            return oauth_error(
                config,
                "invalid_grant",
                "device_code was issued to another client",
            );
        }
        if now >= device.expires_at {
            return oauth_error(config, "expired_token", "the device code expired");
        }
        if device
            .last_poll
            .is_some_and(|last| now.saturating_duration_since(last) < device.interval)
        {
            device.interval += state.config.device_slow_down_step;
            device.last_poll = Some(now);
            return oauth_error(config, "slow_down", "polling too fast");
        }
        device.last_poll = Some(now);
        match device.status.clone() {
            DeviceStatus::Pending => {
                return oauth_error(
                    config,
                    "authorization_pending",
                    "the user has not finished yet",
                );
            }
            DeviceStatus::Denied => {
                return oauth_error(config, "access_denied", "the user denied the request");
            }
            DeviceStatus::Approved(username) => {
                let scope = device.scope.clone();
                store.devices.remove(device_code);
                (username, scope)
            }
        }
    };
    let (username, scope) = approved;
    let (access, refresh) = state.issue(
        &client.id,
        Some(&username),
        scope.as_deref(),
        true,
        None,
        None,
    );
    state.bind_resource(&access, refresh.as_deref(), resource);
    success(state, &access, refresh.as_deref(), scope.as_deref())
}
