//! Authorization server metadata (RFC 8414) at `/.well-known/oauth-authorization-server`, and
//! token revocation (RFC 7009) at `/revoke`.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

use crate::incoming::Incoming;
use crate::reply::{Reply, oauth_error};
use crate::sim::SimState;
use crate::state::lock;

/// The path of the revocation endpoint.
pub(crate) const REVOKE_PATH: &str = "/revoke";

pub(crate) async fn discovery(State(sim): State<SimState>) -> Reply {
    let state = &sim.0;
    let base = &state.base_url;
    let config = &state.config;
    Reply::json(
        StatusCode::OK,
        &json!({
            "issuer": base,
            "token_endpoint": format!("{base}{}", config.token_path),
            "authorization_endpoint": format!("{base}{}", config.authorize_path),
            "device_authorization_endpoint": format!("{base}/device_authorization"),
            "revocation_endpoint": format!("{base}{REVOKE_PATH}"),
            "registration_endpoint": format!("{base}{}", crate::resource::REGISTER_PATH),
            "token_endpoint_auth_methods_supported":
                ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256", "EdDSA"],
            "grant_types_supported": [
                "authorization_code", "client_credentials", "password", "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "dpop_signing_alg_values_supported": ["ES256"],
            "authorization_response_iss_parameter_supported": true,
        }),
    )
}

/// Revokes an access or refresh token of the authenticated client; 200 for a token it does
/// not know (RFC 7009 §2.2).
pub(crate) async fn revoke(State(sim): State<SimState>, req: Incoming) -> Reply {
    let state = &sim.0;
    let client = match crate::token::authenticate(state, &req, &req.form) {
        Ok(client) => client,
        Err(reply) => return reply,
    };
    let Some(token) = req.form_param("token") else {
        return oauth_error(&state.config, "invalid_request", "token is missing");
    };
    let mut store = lock(&state.store);
    if let Some(issued) = store.tokens.get_mut(token)
        && issued.client_id == client.id
    {
        issued.revoked = true;
    }
    if store
        .refresh
        .get(token)
        .is_some_and(|grant| grant.client_id == client.id)
    {
        let family = store.refresh.remove(token).map(|grant| grant.family);
        // Revoking a refresh token ends the access tokens of its grant (RFC 7009 §2.1).
        for issued in store.tokens.values_mut() {
            if issued.family.is_some() && issued.family == family {
                issued.revoked = true;
            }
        }
    }
    Reply::json(StatusCode::OK, &json!({}))
}
