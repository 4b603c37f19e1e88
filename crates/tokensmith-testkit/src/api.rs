//! The protected resource: `/api/…` accepts live tokens this server issued and echoes what it
//! knows of them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::incoming::Incoming;
use crate::sim::{SimState, json};

/// Any method under `/api/`.
pub(crate) async fn handler(State(sim): State<SimState>, req: Incoming) -> Response {
    match sim.authorized(&req, false) {
        Ok(issued) => json(
            StatusCode::OK,
            &json!({
                "path": req.path,
                "method": req.method.as_str(),
                "client_id": issued.client_id,
                "username": issued.username,
                "scope": issued.scope,
            }),
        ),
        Err(rejection) => rejection.into_response(),
    }
}
