//! Starting, steering and stopping the server; routing each request.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{ClientConfig, Config, Flavour};
use crate::faults::{Fault, FaultPlan, Schedule, Target};
use crate::log::{AtomicCounters, Counters, Endpoint, LoggedRequest, keys, masked_headers};
use crate::reply::Reply;
use crate::state::{DeviceStatus, Registry, Shared, Store, lock};
use crate::{api, authorize, token};

/// Largest request body the server reads.
const MAX_REQUEST_BODY: usize = 64 * 1024;

/// A request as the handlers see it: body read, query and form parsed.
pub(crate) struct Incoming {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) form: Vec<(String, String)>,
}

impl Incoming {
    pub(crate) fn find<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
        Self::find(&self.query, name)
    }

    pub(crate) fn form_param(&self, name: &str) -> Option<&str> {
        Self::find(&self.form, name)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn pairs(encoded: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(encoded)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn dispatch(State(state): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_REQUEST_BODY).await else {
        return Reply::text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
            .into_response();
    };
    let is_form = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    let query = parts.uri.query().unwrap_or("").as_bytes().to_vec();
    let req = Incoming {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query: pairs(&query),
        headers: parts.headers,
        form: if is_form { pairs(&body) } else { Vec::new() },
    };
    let endpoint = route(&state.config.flavour, &req);
    state.record(LoggedRequest {
        method: req.method.to_string(),
        path: req.path.clone(),
        endpoint,
        query_keys: keys(&query),
        form_keys: if is_form { keys(&body) } else { Vec::new() },
        headers: masked_headers(&req.headers),
    });
    handle(&state, endpoint, &req).await
}

fn route(flavour: &Flavour, req: &Incoming) -> Endpoint {
    let path = req.path.as_str();
    let is_get = req.method == Method::GET;
    let is_post = req.method == Method::POST;
    let airvantage = matches!(flavour, Flavour::AirVantage { .. });
    if path == flavour.token_path() && (is_post || (is_get && airvantage)) {
        Endpoint::Token
    } else if path == flavour.authorize_path() && is_get {
        Endpoint::Authorize
    } else if path == "/device_authorization" && is_post {
        Endpoint::DeviceAuthorization
    } else if airvantage && path == "/api/oauth/expire" && is_get {
        Endpoint::Logout
    } else if flavour.is_api_path(path) {
        Endpoint::Api
    } else {
        Endpoint::Unknown
    }
}

async fn handle(state: &Shared, endpoint: Endpoint, req: &Incoming) -> Response {
    let counters = &state.counters;
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
    let fault = target.and_then(|t| state.take_fault(t));
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
    let reply = match endpoint {
        Endpoint::Token => token::token(state, req),
        Endpoint::Authorize => authorize::authorize(state, req),
        Endpoint::DeviceAuthorization => authorize::device_authorization(state, req),
        Endpoint::Api => api::api(state, req),
        Endpoint::Logout => api::logout(state, req),
        Endpoint::Unknown => Reply::text(StatusCode::NOT_FOUND, "not found"),
    };
    match fault {
        Some(fault) if reply.status == StatusCode::OK => rewrite(reply, &fault).into_response(),
        _ => reply.into_response(),
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
fn rewrite(mut reply: Reply, fault: &Fault) -> Reply {
    match fault {
        Fault::MalformedJson => {
            reply.body = b"{\"access_token\": \"abc\", \"expires_in\": 3600,,}".to_vec();
        }
        Fault::TruncatedJson => {
            let half = reply.body.len() / 2;
            reply.body.truncate(half);
        }
        Fault::FormEncodedSuccess => {
            if let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(&reply.body) {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in fields {
                    let text = match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    form.append_pair(&k, &text);
                }
                reply.body = form.finish().into_bytes();
                reply.content_type = "application/x-www-form-urlencoded";
            }
        }
        Fault::ExpiresInAsString => {
            if let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_slice(&reply.body) {
                if let Some(expires) = fields.get("expires_in").cloned() {
                    fields.insert(
                        "expires_in".into(),
                        serde_json::Value::String(expires.to_string()),
                    );
                }
                reply.body = serde_json::Value::Object(fields).to_string().into_bytes();
            }
        }
        _ => {}
    }
    reply
}

/// Builds a [`TestServer`].
#[derive(Debug, Clone)]
pub struct TestServerBuilder {
    config: Config,
    registry: Option<Registry>,
}

impl TestServerBuilder {
    /// Plays `flavour` (default [`Flavour::Standard`]); resets the clients to that flavour's
    /// defaults, so call it first.
    #[must_use]
    pub fn flavour(mut self, flavour: Flavour) -> Self {
        self.config = Config::new(flavour);
        self
    }

    /// Registers a client, replacing one with the same id.
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

    /// Whether a refresh issues a new refresh token and retires the old one (default yes;
    /// never for [`Flavour::BasicVendor`]).
    #[must_use]
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.config.rotate_refresh_tokens = rotate;
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

    /// The companies an AirVantage-flavoured server knows (default `company-1`).
    #[must_use]
    pub fn companies<I, S>(mut self, companies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.companies = companies.into_iter().map(Into::into).collect();
        self
    }

    /// Refuses a right (`entities.systems.view`) with AirVantage's `missing.rights`.
    #[must_use]
    pub fn deny_right(mut self, right: impl Into<String>) -> Self {
        self.config.denied_rights.push(right.into());
        self
    }

    /// Shares issued tokens with other servers of the same registry (AirVantage regions).
    #[must_use]
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Binds 127.0.0.1 on a port the OS picks and starts serving.
    pub async fn start(self) -> std::io::Result<TestServer> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config: self.config,
            base_url: format!("http://{addr}"),
            store: Mutex::new(Store::default()),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(VecDeque::new()),
            counters: AtomicCounters::default(),
            registry: self.registry,
        });
        let app = Router::new()
            .fallback(dispatch)
            .with_state(Arc::clone(&shared));
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

/// An OAuth 2.0 authorization server and protected API on 127.0.0.1, for tests.
///
/// Dropping it (or [`shutdown`](Self::shutdown)) stops it. See the crate docs for an example.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
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
            config: Config::new(Flavour::Standard),
            registry: None,
        }
    }

    /// Two AirVantage regions, `na` and `eu`, that know each other's tokens are not theirs.
    pub async fn airvantage_regions() -> std::io::Result<(TestServer, TestServer)> {
        let registry = Registry::default();
        let region = |name: &str| {
            Self::builder()
                .flavour(Flavour::AirVantage {
                    region: name.to_owned(),
                })
                .registry(registry.clone())
        };
        Ok((region("na").start().await?, region("eu").start().await?))
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The token endpoint's URL (its path depends on the flavour).
    pub fn token_url(&self) -> String {
        format!(
            "{}{}",
            self.shared.base_url,
            self.shared.config.flavour.token_path()
        )
    }

    /// The authorization endpoint's URL.
    pub fn authorize_url(&self) -> String {
        format!(
            "{}{}",
            self.shared.base_url,
            self.shared.config.flavour.authorize_path()
        )
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
        match lock(&self.shared.store).tokens.get_mut(access_token) {
            Some(issued) => {
                issued.revoked = true;
                true
            }
            None => false,
        }
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
            .field("flavour", &self.shared.config.flavour)
            .finish_non_exhaustive()
    }
}
