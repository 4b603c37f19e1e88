//! Starting, steering and stopping the server: its routes, and the middleware that logs each
//! request, counts it and injects faults.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, any, on, post};
use serde_json::json;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{ClientConfig, Config, ErrorShape};
use crate::faults::{Fault, FaultPlan, Schedule, Target};
use crate::incoming::{MAX_REQUEST_BODY, is_form};
use crate::log::{AtomicCounters, Counters, Endpoint, LoggedRequest, keys, masked_headers};
use crate::reply::Reply;
use crate::sim::SimState;
use crate::state::{DeviceStatus, Registry, ServerState, Store, lock};
use crate::{api, authorize, metadata, token};

/// Largest answer a fault rewrites.
const MAX_REWRITTEN: usize = 1024 * 1024;

/// Logs and counts a request to `endpoint`, checks the gateway key, and applies a fault.
async fn observe(
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

/// Builds a [`TestServer`].
pub struct TestServerBuilder {
    config: Config,
    registry: Option<(Registry, String)>,
    mounts: Vec<(Endpoint, Router<SimState>)>,
}

impl TestServerBuilder {
    /// Registers a client, replacing one with the same id (the default confidential client is
    /// [`DEFAULT_CLIENT_ID`](crate::DEFAULT_CLIENT_ID)).
    #[must_use]
    pub fn client(mut self, client: ClientConfig) -> Self {
        self.config.clients.retain(|c| c.id != client.id);
        self.config.clients.push(client);
        self
    }

    /// Registers a user for the password grant.
    #[must_use]
    pub fn user(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.config.users.push((username.into(), password.into()));
        self
    }

    /// Lifetime of access tokens (default one hour).
    #[must_use]
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.config.token_lifetime = lifetime;
        self
    }

    /// Whether a refresh issues a new refresh token and retires the old one (default yes).
    #[must_use]
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.config.rotate_refresh_tokens = rotate;
        self
    }

    /// A rotated refresh token used again revokes its whole grant: every refresh and access
    /// token of its family (RFC 9700 §4.14.2, as Auth0 and Okta do). Default no.
    #[must_use]
    pub fn revoke_grant_on_refresh_reuse(mut self) -> Self {
        self.config.revoke_on_refresh_reuse = true;
        self
    }

    /// Also issue refresh tokens with client credentials (default no).
    #[must_use]
    pub fn refresh_tokens_for_client_credentials(mut self, issue: bool) -> Self {
        self.config.refresh_for_client_credentials = issue;
        self
    }

    /// The device grant's polling interval (default 5 s) and lifetime (default 10 min).
    #[must_use]
    pub fn device_timing(mut self, interval: Duration, lifetime: Duration) -> Self {
        self.config.device_interval = interval;
        self.config.device_lifetime = lifetime;
        self
    }

    /// How much each `slow_down` adds to the polling interval (default 5 s, as RFC 8628 §3.5
    /// says): shorter for tests of the server's own schedule that run on real time.
    #[must_use]
    pub fn device_slow_down_step(mut self, step: Duration) -> Self {
        self.config.device_slow_down_step = step;
        self
    }

    /// Serves the token endpoint at `path` (default `/token`).
    #[must_use]
    pub fn token_path(mut self, path: impl Into<String>) -> Self {
        self.config.token_path = path.into();
        self
    }

    /// Serves the authorization endpoint at `path` (default `/authorize`).
    #[must_use]
    pub fn authorize_path(mut self, path: impl Into<String>) -> Self {
        self.config.authorize_path = path.into();
        self
    }

    /// Also serves the token endpoint over `GET`, with the parameters in the query string.
    #[must_use]
    pub fn token_over_get(mut self) -> Self {
        self.config.token_over_get = true;
        self
    }

    /// Wants `header: value` on every token and API request, as an API gateway does, and
    /// answers 403 `{"message":"Forbidden"}` without it.
    #[must_use]
    pub fn gateway_key(mut self, header: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.gateway_key = Some((header.into().to_ascii_lowercase(), value.into()));
        self
    }

    /// DPoP proofs (RFC 9449) must carry the server's nonce: a proof without it is answered
    /// `use_dpop_nonce` with a `DPoP-Nonce` header, at the token endpoint and the API.
    #[must_use]
    pub fn require_dpop_nonce(mut self) -> Self {
        self.config.dpop_nonce = true;
        self
    }

    /// Serves the token endpoint over `GET` only, parameters in the query: `POST` answers 405,
    /// as some vendors' endpoints do.
    #[must_use]
    pub fn token_get_only(mut self) -> Self {
        self.config.token_over_get = true;
        self.config.token_get_only = true;
        self
    }

    /// Refuses token requests without a `scope` (`invalid_scope`).
    #[must_use]
    pub fn require_scope(mut self) -> Self {
        self.config.require_scope = true;
        self
    }

    /// Spells `token_type` this way in token answers (default `Bearer`).
    #[must_use]
    pub fn token_type(mut self, token_type: &'static str) -> Self {
        self.config.token_type = token_type;
        self
    }

    /// Shapes OAuth error answers the way a vendor does.
    #[must_use]
    pub fn error_shape(mut self, shape: ErrorShape) -> Self {
        self.config.error_shape = Some(shape);
        self
    }

    /// Serves `router` too (a vendor simulator's API), its requests logged, counted and
    /// open to faults as `endpoint`.
    #[must_use]
    pub fn mount(mut self, endpoint: Endpoint, router: Router<SimState>) -> Self {
        self.mounts.push((endpoint, router));
        self
    }

    /// Joins a group of servers that know each other's tokens (a vendor's regions), as
    /// `instance`: a token from a sibling is [`Rejection::FromSibling`](crate::sim::Rejection).
    #[must_use]
    pub fn registry(mut self, registry: Registry, instance: impl Into<String>) -> Self {
        self.registry = Some((registry, instance.into()));
        self
    }

    /// Binds 127.0.0.1 on a port the OS picks and starts serving.
    pub async fn start(self) -> std::io::Result<TestServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(ServerState {
            config: self.config,
            base_url: format!("http://{addr}"),
            store: Mutex::new(Store {
                dpop_nonce: crate::state::random_token("nonce"),
                ..Store::default()
            }),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(VecDeque::new()),
            counters: AtomicCounters::default(),
            registry: self.registry,
        });
        let observed = |router: Router<SimState>, endpoint: Endpoint| {
            router.layer(middleware::from_fn_with_state(
                (Arc::clone(&shared), endpoint),
                observe,
            ))
        };
        let config = &shared.config;
        let token_methods = if config.token_get_only {
            MethodFilter::GET
        } else if config.token_over_get {
            MethodFilter::POST.or(MethodFilter::GET)
        } else {
            MethodFilter::POST
        };
        let mut app = Router::new()
            .merge(observed(
                Router::new().route(&config.token_path, on(token_methods, token::handler)),
                Endpoint::Token,
            ))
            .merge(observed(
                Router::new().route(
                    &config.authorize_path,
                    axum::routing::get(authorize::authorize_handler),
                ),
                Endpoint::Authorize,
            ))
            .merge(observed(
                Router::new().route("/device_authorization", post(authorize::device_handler)),
                Endpoint::DeviceAuthorization,
            ))
            .merge(observed(
                Router::new().route(
                    "/.well-known/oauth-authorization-server",
                    axum::routing::get(metadata::discovery),
                ),
                Endpoint::Discovery,
            ))
            .merge(observed(
                Router::new().route(metadata::REVOKE_PATH, post(metadata::revoke)),
                Endpoint::Revocation,
            ));
        let vendor_api = self
            .mounts
            .iter()
            .any(|(endpoint, _)| *endpoint == Endpoint::Api);
        if !vendor_api {
            app = app.merge(observed(
                Router::new().route("/api/{*rest}", any(api::handler)),
                Endpoint::Api,
            ));
        }
        for (endpoint, router) in self.mounts {
            app = app.merge(observed(router, endpoint));
        }
        let unknown = any(|| async { Reply::text(StatusCode::NOT_FOUND, "not found") })
            .layer(middleware::from_fn_with_state(
                (Arc::clone(&shared), Endpoint::Unknown),
                observe,
            ))
            .with_state(SimState(Arc::clone(&shared)));
        let app = app
            .fallback_service(unknown)
            .with_state(SimState(Arc::clone(&shared)));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(target: "tokensmith::testkit", error = %e, "test server stopped with an error");
            }
        });
        Ok(TestServer {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

impl fmt::Debug for TestServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServerBuilder")
            .field("token_path", &self.config.token_path)
            .field("mounts", &self.mounts.len())
            .finish_non_exhaustive()
    }
}

/// An OAuth 2.0 authorization server and protected API on 127.0.0.1, for tests.
///
/// Dropping it (or [`shutdown`](Self::shutdown)) stops it. See the crate docs for an example.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<ServerState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A standard server with the default clients and user.
    pub async fn start() -> std::io::Result<TestServer> {
        Self::builder().start().await
    }

    /// Configures a server.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder {
            config: Config::new(),
            registry: None,
            mounts: Vec::new(),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token endpoint's URL.
    pub fn token_url(&self) -> String {
        format!("{}{}", self.shared.base_url, self.shared.config.token_path)
    }

    /// The authorization endpoint's URL.
    pub fn authorize_url(&self) -> String {
        format!(
            "{}{}",
            self.shared.base_url, self.shared.config.authorize_path
        )
    }

    /// The revocation endpoint's URL (RFC 7009).
    pub fn revocation_url(&self) -> String {
        format!("{}{}", self.shared.base_url, metadata::REVOKE_PATH)
    }

    /// The device authorization endpoint's URL.
    pub fn device_authorization_url(&self) -> String {
        format!("{}/device_authorization", self.shared.base_url)
    }

    /// The URL of `path` on this server (`/api/things`).
    pub fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base_url)
    }

    /// Revokes an access token: the API answers 401 for it from now on.
    pub fn revoke(&self, access_token: &str) -> bool {
        SimState(Arc::clone(&self.shared)).revoke(access_token)
    }

    /// Issues a new DPoP nonce (with [`require_dpop_nonce`](TestServerBuilder::require_dpop_nonce)):
    /// proofs with the old one are answered `use_dpop_nonce` and the new one, as servers do
    /// when their nonces expire.
    pub fn rotate_dpop_nonce(&self) {
        lock(&self.shared.store).dpop_nonce = crate::state::random_token("nonce");
    }

    /// Expires every access token issued so far.
    pub fn expire_all_tokens(&self) {
        let now = Instant::now();
        for issued in lock(&self.shared.store).tokens.values_mut() {
            issued.expires_at = now;
        }
    }

    /// Forgets every refresh token, as after a password change.
    pub fn revoke_refresh_tokens(&self) {
        lock(&self.shared.store).refresh.clear();
    }

    /// Approves the pending device grant with this user code (as `user`).
    pub fn approve_device(&self, user_code: &str, user: &str) -> bool {
        authorize::decide_device(
            &self.shared,
            user_code,
            DeviceStatus::Approved(user.to_owned()),
        )
    }

    /// Denies the pending device grant with this user code.
    pub fn deny_device(&self, user_code: &str) -> bool {
        authorize::decide_device(&self.shared, user_code, DeviceStatus::Denied)
    }

    /// The next `n` requests to `target` get `fault`.
    pub fn fail_next(&self, target: Target, n: u32, fault: Fault) {
        lock(&self.shared.faults).push(FaultPlan {
            target,
            fault,
            how: Schedule::Next(n),
        });
    }

    /// `share` (0 to 1) of the requests to `target` get `fault`, spread evenly, until
    /// [`clear_faults`](Self::clear_faults).
    pub fn fail_share(&self, target: Target, share: f64, fault: Fault) {
        lock(&self.shared.faults).push(FaultPlan {
            target,
            fault,
            how: Schedule::Share {
                share: share.clamp(0.0, 1.0),
                seen: 0,
            },
        });
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// The requests received so far (the last 10,000).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    /// The requests received so far at `endpoint`.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<LoggedRequest> {
        lock(&self.shared.log)
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .cloned()
            .collect()
    }

    /// Counters of what the server has done.
    pub fn counters(&self) -> Counters {
        self.shared.counters.snapshot()
    }

    /// Stops the server and waits until it has (at most a second for open connections).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(1), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.shared.base_url)
            .field("token_path", &self.shared.config.token_path)
            .finish_non_exhaustive()
    }
}
