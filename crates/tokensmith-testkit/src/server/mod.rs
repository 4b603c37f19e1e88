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
use crate::{api, authorize, metadata, resource, token};

mod builder;
mod observe;

pub use self::builder::TestServerBuilder;
use self::observe::observe;

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
