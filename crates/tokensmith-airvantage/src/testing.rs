//! AirVantage on the embedded test server, for tests (feature `testing`): one region per
//! server, with the token endpoint at `/api/oauth/token` (also over `GET`), the authorization
//! endpoint at `/api/oauth/authorize`, logout at `/api/oauth/expire`, and the API under
//! `/api/v1/` and `/api/v2/` answering errors as `{"error":"<dotted.code>","errorParameters":[…]}`:
//! `context.unknown` for another region's token or an unknown `company`, `missing.rights` for
//! a denied right. Five systems (`sys-001` to `sys-005`).
//!
//! ```
//! use tokensmith_airvantage::{AirVantageClient, testing};
//! use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_USERNAME};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (na, eu) = testing::regions().await?;
//! let client = AirVantageClient::builder(eu.url().parse()?)
//!     .client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
//!     .password(DEFAULT_USERNAME, DEFAULT_PASSWORD)
//!     .build()?;
//! assert_eq!(client.current_user().await?.email.as_deref(), Some(DEFAULT_USERNAME));
//! # let _ = na;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Extension, Router};
use serde_json::{Map, Value, json};
use tokensmith_testkit::axum;
use tokensmith_testkit::sim::{Rejection, SimState, json};
use tokensmith_testkit::{Endpoint, Incoming, Registry, TestServer, TestServerBuilder};

use crate::{AUTHORIZE_PATH, EXPIRE_PATH, TOKEN_PATH};

/// Systems every simulated region knows.
const SYSTEMS: &[(&str, &str)] = &[
    ("sys-001", "Pump station 1"),
    ("sys-002", "Pump station 2"),
    ("sys-003", "Cold store"),
    ("sys-004", "Fleet tracker 7"),
    ("sys-005", "Weather mast"),
];

/// One simulated region: its name, the companies it knows, the rights it denies.
#[derive(Debug, Clone)]
pub struct Simulator {
    region: String,
    companies: Vec<String>,
    denied_rights: Vec<String>,
    registry: Option<Registry>,
}

impl Simulator {
    /// The region `region` (`na`, `eu`, …), knowing the company `company-1`.
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            companies: vec!["company-1".to_owned()],
            denied_rights: Vec::new(),
            registry: None,
        }
    }

    /// The companies it knows (a `company` parameter naming another is `context.unknown`).
    #[must_use]
    pub fn companies<I, S>(mut self, companies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.companies = companies.into_iter().map(Into::into).collect();
        self
    }

    /// Refuses a right (`entities.systems.view`) with `missing.rights`.
    #[must_use]
    pub fn deny_right(mut self, right: impl Into<String>) -> Self {
        self.denied_rights.push(right.into());
        self
    }

    /// Shares issued tokens with the other regions of `registry`, so that a token from one
    /// of them is `context.unknown` here rather than unknown.
    #[must_use]
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// A test server playing this region; change what you need, then `start()`.
    pub fn server(self) -> TestServerBuilder {
        let mut server = TestServer::builder();
        if let Some(registry) = &self.registry {
            server = server.registry(registry.clone(), self.region.clone());
        }
        let region = Arc::new(self);
        server
            .token_path(format!("/{TOKEN_PATH}"))
            .authorize_path(format!("/{AUTHORIZE_PATH}"))
            .token_over_get()
            .token_type("bearer")
            .mount(
                Endpoint::Api,
                Router::new()
                    .route("/api/v1/{*rest}", any(api))
                    .route("/api/v2/{*rest}", any(api))
                    .layer(Extension(Arc::clone(&region))),
            )
            .mount(
                Endpoint::Logout,
                Router::new().route(&format!("/{EXPIRE_PATH}"), get(logout)),
            )
    }
}

/// Starts a server playing `region`.
pub async fn start(region: &str) -> std::io::Result<TestServer> {
    Simulator::new(region).server().start().await
}

/// Two regions, `na` and `eu`, that know each other's tokens are not theirs.
pub async fn regions() -> std::io::Result<(TestServer, TestServer)> {
    let registry = Registry::default();
    let region = |name: &str| Simulator::new(name).registry(registry.clone()).server();
    Ok((region("na").start().await?, region("eu").start().await?))
}

fn error(status: StatusCode, code: &str, parameters: &[&str]) -> Response {
    json(
        status,
        &json!({"error": code, "errorParameters": parameters}),
    )
}

async fn api(
    State(sim): State<SimState>,
    Extension(region): Extension<Arc<Simulator>>,
    req: Incoming,
) -> Response {
    let issued = match sim.bearer(&req.headers, false) {
        Ok(issued) => issued,
        // A token of another region means nothing here.
        Err(Rejection::FromSibling(_)) => {
            return error(StatusCode::BAD_REQUEST, "context.unknown", &[]);
        }
        Err(rejection) => return rejection.into_response(),
    };
    if let Some(company) = req.query_param("company")
        && !region.companies.iter().any(|c| c == company)
    {
        return error(StatusCode::BAD_REQUEST, "context.unknown", &[company]);
    }
    let path = req.path.as_str();
    if path.starts_with("/api/v1/systems")
        && region
            .denied_rights
            .iter()
            .any(|r| r == "entities.systems.view")
    {
        return error(
            StatusCode::FORBIDDEN,
            "missing.rights",
            &["entities.systems.view"],
        );
    }
    match path.trim_end_matches('/') {
        "/api/v1/systems" => systems(&req),
        "/api/v1/users/current" => json(
            StatusCode::OK,
            &json!({
                "uid": "user-1",
                "email": issued.username.as_deref().unwrap_or("service@example.com"),
                "name": issued.username.as_deref().unwrap_or("service"),
                "company": {"uid": region.companies.first(), "name": "Company 1"},
                "profile": {"uid": "profile-1", "name": "Administrator"},
            }),
        ),
        other => match other.strip_prefix("/api/v1/systems/") {
            Some(uid) => match SYSTEMS.iter().find(|(id, _)| *id == uid) {
                Some(system) => json(StatusCode::OK, &system_json(system, None)),
                None => error(StatusCode::NOT_FOUND, "system.not.found", &[uid]),
            },
            None => error(StatusCode::NOT_FOUND, "resource.not.found", &[other]),
        },
    }
}

fn system_json((uid, name): &(&str, &str), fields: Option<&[&str]>) -> Value {
    let full = json!({
        "uid": uid,
        "name": name,
        "commStatus": "OK",
        "lifeCycleState": "DEPLOYED",
        "lastCommDate": 1_700_000_000_000u64,
    });
    match (fields, full) {
        (Some(fields), Value::Object(all)) => Value::Object(
            all.into_iter()
                .filter(|(k, _)| fields.contains(&k.as_str()))
                .collect::<Map<_, _>>(),
        ),
        (_, full) => full,
    }
}

fn systems(req: &Incoming) -> Response {
    let number = |name: &str, default: usize| {
        req.query_param(name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let offset = number("offset", 0);
    let size = number("size", 100).min(500);
    let fields: Option<Vec<&str>> = req
        .query_param("fields")
        .map(|f| f.split(',').map(str::trim).collect());
    let items: Vec<Value> = SYSTEMS
        .iter()
        .skip(offset)
        .take(size)
        .map(|s| system_json(s, fields.as_deref()))
        .collect();
    json(
        StatusCode::OK,
        &json!({"items": items, "count": SYSTEMS.len(), "size": size, "offset": offset}),
    )
}

/// `GET /api/oauth/expire?access_token=…` revokes the token.
async fn logout(State(sim): State<SimState>, req: Incoming) -> Response {
    if let Some(token) = req.query_param("access_token") {
        sim.revoke(token);
    }
    json(StatusCode::OK, &json!("logout.successful"))
}
