//! The settings of a test server, before it starts.

use super::*;

/// Builds a [`TestServer`].
pub struct TestServerBuilder {
    pub(super) config: Config,
    pub(super) registry: Option<(Registry, String)>,
    pub(super) mounts: Vec<(Endpoint, Router<SimState>)>,
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

    /// The scopes the protected resource at `/resource` wants: `read` for `GET` and `HEAD`,
    /// `write` for other methods (default `files:read`, and `files:read files:write`).
    #[must_use]
    pub fn resource_scopes<R, W, S>(mut self, read: R, write: W) -> Self
    where
        R: IntoIterator<Item = S>,
        W: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.config.resource_read_scopes = read.into_iter().map(Into::into).collect();
        self.config.resource_write_scopes = write.into_iter().map(Into::into).collect();
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
            ))
            .merge(observed(
                Router::new().route(resource::REGISTER_PATH, post(resource::register)),
                Endpoint::Registration,
            ))
            .merge(observed(
                Router::new()
                    .route(resource::RESOURCE_PATH, any(resource::handler))
                    .route(
                        &format!("{}/{{*rest}}", resource::RESOURCE_PATH),
                        any(resource::handler),
                    )
                    .route(
                        resource::RESOURCE_METADATA_PATH,
                        axum::routing::get(resource::metadata),
                    ),
                Endpoint::Resource,
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
