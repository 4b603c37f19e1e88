//! Avionté on the embedded test server, for tests (feature `testing`): the token endpoint at
//! `/authorize/token` wanting `x-api-key`, a `scope` and the credentials in the body, and the
//! talent API under `/front-office/v1/` wanting the key, a tenant header, `Accept: application/json`
//! and the scheme spelled `Bearer`. 250 talents (ids 1 to 250).
//!
//! ```
//! use tokensmith_avionte::{AvionteClient, Tenant, testing};
//! use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = testing::start().await?;
//! let client = AvionteClient::builder()
//!     .client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
//!     .api_key(testing::API_KEY)
//!     .base_url(server.url())
//!     .build()?;
//! let talent = client.tenant(Tenant::front_office_id("42")).talent(7).await?;
//! assert_eq!(talent.id, 7);
//! # Ok(())
//! # }
//! ```

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;
use tokensmith_testkit::axum;
use tokensmith_testkit::sim::{SimState, json};
use tokensmith_testkit::{
    ClientConfig, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint, Incoming, TestServer,
    TestServerBuilder,
};

use crate::{API_KEY_HEADER, MAX_PAGE_SIZE, TOKEN_PATH};

/// The API key the simulator wants.
pub const API_KEY: &str = "test-api-key";

/// Talent ids the simulator knows: 1 to this.
pub const TALENT_COUNT: u64 = 250;

/// A test server playing Avionté with [`API_KEY`]; the default client
/// (`DEFAULT_CLIENT_ID`) may only send its credentials in the body. Change what you need,
/// then `start()`.
pub fn server() -> TestServerBuilder {
    TestServer::builder()
        .token_path(format!("/{TOKEN_PATH}"))
        .gateway_key(API_KEY_HEADER, API_KEY)
        .require_scope()
        .client(ClientConfig::confidential(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).body_only())
        .mount(Endpoint::Api, router())
}

/// Starts [`server`].
pub async fn start() -> std::io::Result<TestServer> {
    server().start().await
}

/// The talent API, for a server configured by hand.
pub fn router() -> Router<SimState> {
    Router::new().route("/front-office/{*rest}", any(front_office))
}

fn message(status: StatusCode, text: &str) -> Response {
    json(status, &json!({"message": text}))
}

async fn front_office(State(sim): State<SimState>, req: Incoming) -> Response {
    // Avionté documents the scheme as `Bearer`, capitalised.
    if let Err(rejection) = sim.bearer(&req.headers, true) {
        return rejection.into_response();
    }
    let accepts_json = req
        .header("accept")
        .is_none_or(|a| a.contains("application/json") || a.contains("*/*"));
    if !accepts_json {
        return message(StatusCode::NOT_ACCEPTABLE, "Not Acceptable");
    }
    let Some(tenant) = req
        .header("frontofficetenantid")
        .or_else(|| req.header("tenant"))
    else {
        return message(
            StatusCode::BAD_REQUEST,
            "a FrontOfficeTenantId or Tenant header is required",
        );
    };
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["front-office", "v1", "talent", "ids", page, size] => {
            let (Ok(page), Ok(size)) = (page.parse::<u64>(), size.parse::<u64>()) else {
                return message(StatusCode::BAD_REQUEST, "page and pageSize must be numbers");
            };
            if size == 0 || size > u64::from(MAX_PAGE_SIZE) || page == 0 {
                return message(
                    StatusCode::BAD_REQUEST,
                    "page starts at 1 and pageSize must be between 1 and 100",
                );
            }
            let first = (page - 1).saturating_mul(size) + 1;
            let ids: Vec<u64> = (first..first.saturating_add(size))
                .filter(|id| *id <= TALENT_COUNT)
                .collect();
            json(StatusCode::OK, &json!(ids))
        }
        ["front-office", "v1", "talent", id] => match id.parse::<u64>() {
            Ok(id) if (1..=TALENT_COUNT).contains(&id) => json(
                StatusCode::OK,
                &json!({
                    "id": id,
                    "firstName": "Talent",
                    "lastName": format!("Number {id}"),
                    "emailAddress": format!("talent{id}@example.com"),
                    "frontOfficeTenantId": tenant,
                }),
            ),
            _ => message(StatusCode::NOT_FOUND, "Talent not found"),
        },
        _ => message(StatusCode::NOT_FOUND, "Not Found"),
    }
}
