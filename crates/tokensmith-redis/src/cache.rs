//! The connection to Redis and the few commands the fleet needs, each bounded in time.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokensmith_core::{Error, TokenSource};
use tokio::sync::OnceCell;

use crate::SealingKey;
use crate::fleet::FleetSource;

/// A Redis server (or a Valkey server; a Redis Cluster with [`cluster_builder`](Self::cluster_builder):
/// every key of one token shares a hash tag, so its value, lock and state sit in one slot)
/// that a fleet of replicas shares its tokens through. Cloning is cheap; connect lazily, on the first fetch.
///
/// ```
/// use tokensmith_core::Cached;
/// use tokensmith_oauth2::{ClientCredentials, TokenEndpoint};
/// use tokensmith_redis::{RedisCache, SealingKey};
///
/// let redis = RedisCache::builder("redis://127.0.0.1:6379/", SealingKey::generate()?).build()?;
/// let endpoint = TokenEndpoint::builder("https://auth.example.com/oauth/token")
///     .client_id("my-client")
///     .client_secret("my-secret")
///     .build()?;
/// let grant = ClientCredentials::new(endpoint).scope(["orders.read"]).build_source();
/// // In memory first; on a miss, Redis; on a miss there, one replica of the fleet fetches.
/// let provider = Cached::new(redis.share(grant)?);
/// # let _ = provider;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone)]
pub struct RedisCache {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    client: Target,
    connection: OnceCell<Connection>,
    pub(crate) key: SealingKey,
    pub(crate) prefix: String,
    pub(crate) op_timeout: Duration,
    pub(crate) lease: Duration,
    pub(crate) lock_wait: Duration,
    pub(crate) skew: Duration,
    pub(crate) state_ttl: Duration,
    /// How long a token without a stated expiry is kept.
    pub(crate) default_lifetime: Duration,
    /// Whether the last command failed: logged once per outage.
    down: AtomicBool,
    /// Whether the server refused a script (an ACL, a managed offering): locks are then
    /// left to expire instead of being released, and not renewed.
    pub(crate) scripts_refused: AtomicBool,
}

/// Configures a [`RedisCache`].
pub struct RedisCacheBuilder {
    url: String,
    key: SealingKey,
    prefix: String,
    op_timeout: Duration,
    lease: Duration,
    lock_wait: Duration,
    skew: Duration,
    state_ttl: Duration,
    default_lifetime: Duration,
    tls_roots: Option<Vec<u8>>,
    /// The nodes of a Redis Cluster, when it is one.
    cluster: Option<Vec<String>>,
}

/// The shortest and longest lock lease accepted.
const MIN_LEASE: Duration = Duration::from_millis(1);
const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

impl RedisCache {
    /// The Redis at `url` (`redis://host:port/db`; `rediss://` for TLS, against the system's
    /// certificate authorities or [`tls_root_certificates`](RedisCacheBuilder::tls_root_certificates)),
    /// sealing under `key`.
    pub fn builder(url: impl Into<String>, key: SealingKey) -> RedisCacheBuilder {
        RedisCacheBuilder {
            url: url.into(),
            key,
            prefix: "tokensmith".to_owned(),
            op_timeout: Duration::from_millis(50),
            lease: Duration::from_secs(35),
            lock_wait: Duration::from_secs(3),
            skew: Duration::from_secs(5),
            state_ttl: Duration::from_secs(30 * 24 * 3600),
            default_lifetime: Duration::from_secs(3600),
            tls_roots: None,
            cluster: None,
        }
    }

    /// A Redis Cluster reached through any of `nodes` (`redis://host:port/` each; `rediss://`
    /// for TLS): commands follow the cluster's slots, `MOVED` and `ASK` as slots migrate, and
    /// its new topology after a failover. A token's keys share a hash tag, so every command
    /// the fleet sends touches one slot.
    pub fn cluster_builder<I, T>(nodes: I, key: SealingKey) -> RedisCacheBuilder
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let nodes: Vec<String> = nodes.into_iter().map(Into::into).collect();
        let mut builder = Self::builder(nodes.first().cloned().unwrap_or_default(), key);
        builder.cluster = Some(nodes);
        builder
    }

    /// Shares `source`'s tokens with the fleet, under a Redis key derived from what
    /// [identifies](TokenSource::identity) them (the grants of `tokensmith-oauth2` say). Wrap
    /// the result in [`Cached`](tokensmith_core::Cached).
    ///
    /// A source whose tokens act for a user it does not name (a session continued from a
    /// refresh token: authorization code, device flow, a stored session) is refused: two
    /// users' sessions of one client would share one key. Share each with
    /// [`share_as`](Self::share_as) and that user's or session's id.
    pub fn share<S: TokenSource>(&self, source: S) -> Result<FleetSource<S>, Error> {
        let identity = source.identity().ok_or_else(|| {
            Error::config(format!(
                "the token source `{}` does not say what identifies its tokens",
                source.name()
            ))
            .with_hint("name it with `share_as(name, source)`")
        })?;
        if identity.is_delegated() {
            return Err(Error::config(format!(
                "the token source `{}` acts for a user it does not name: sharing it by its \
                 client alone would hand one user's tokens to another",
                source.name()
            ))
            .with_hint(
                "share each user's session under its own id: \
                 `share_as(&format!(\"session:{user_id}\"), source)`",
            ));
        }
        let name = self.inner.key.name_of(None, Some(&identity));
        Ok(FleetSource::new(self.clone(), &name, source))
    }

    /// Shares `source`'s tokens with the fleet under `name` (and what identifies them, when
    /// the source says): for sources that cannot identify themselves, and for a user's session
    /// (a refresh-token grant) that every replica continues, where `name` must be that user's
    /// or session's own id (`session:<id>`): the name is what keeps two users apart.
    pub fn share_as<S: TokenSource>(&self, name: &str, source: S) -> FleetSource<S> {
        let identity = source.identity();
        let name = self.inner.key.name_of(Some(name), identity.as_ref());
        FleetSource::new(self.clone(), &name, source)
    }

    async fn connection(&self) -> Result<Connection, redis::RedisError> {
        let inner = &self.inner;
        let connection = inner
            .connection
            .get_or_try_init(|| async {
                match &inner.client {
                    Target::Node(client) => {
                        let config = ConnectionManagerConfig::new()
                            .set_connection_timeout(Some(inner.op_timeout))
                            .set_response_timeout(Some(inner.op_timeout))
                            .set_number_of_retries(1);
                        let manager = client.get_connection_manager_with_config(config).await?;
                        Ok::<_, redis::RedisError>(Connection::Node(manager))
                    }
                    Target::Cluster(client) => {
                        Ok(Connection::Cluster(client.get_async_connection().await?))
                    }
                }
            })
            .await?;
        Ok(connection.clone())
    }

    /// Runs one command within the time allowed; an error or a timeout is logged once per
    /// outage and returned.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, Error> {
        let attempt = async {
            let mut connection = self.connection().await?;
            match command.query_async::<T>(&mut connection).await {
                // A connection broken by an outage fails its next command and reconnects:
                // once Redis is back, the second try gets through.
                Err(e) if e.is_connection_dropped() || e.is_io_error() => {
                    command.query_async::<T>(&mut connection).await
                }
                other => other,
            }
        };
        self.bounded(attempt).await
    }

    /// Runs a pipeline within the time allowed, like [`run`](Self::run).
    pub(crate) async fn run_pipeline<T: redis::FromRedisValue>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<T, Error> {
        let attempt = async {
            let mut connection = self.connection().await?;
            match pipeline.query_async::<T>(&mut connection).await {
                // As for a single command: the second try after an outage gets through.
                Err(e) if e.is_connection_dropped() || e.is_io_error() => {
                    pipeline.query_async::<T>(&mut connection).await
                }
                other => other,
            }
        };
        self.bounded(attempt).await
    }

    /// Runs a script within the time allowed, like [`run`](Self::run). A server that refuses
    /// scripts (an ACL without `EVAL`, a managed offering without scripting) is remembered,
    /// and said once: `None` then, and from then on without asking.
    pub(crate) async fn run_script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[&[u8]],
    ) -> Result<Option<T>, Error> {
        if self.inner.scripts_refused.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let attempt = async {
            let mut connection = self.connection().await?;
            let mut invocation = script.prepare_invoke();
            for key in keys {
                invocation.key(*key);
            }
            for arg in args {
                invocation.arg(*arg);
            }
            invocation.invoke_async::<T>(&mut connection).await
        };
        match tokio::time::timeout(self.inner.op_timeout, attempt).await {
            Ok(Err(e)) if refuses_scripts(&e) => {
                if !self.inner.scripts_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "tokensmith::redis",
                        error = %e,
                        "Redis refuses scripts: fetch locks are left to expire instead of being \
                         released, and are not renewed; allow EVAL and EVALSHA for this user to \
                         release them at once"
                    );
                }
                Ok(None)
            }
            Ok(result) => self.outcome(result.map_err(|e| e.to_string())).map(Some),
            Err(_) => self.outcome(Err(format!("no answer within {:?}", self.inner.op_timeout))),
        }
    }

    /// Runs `attempt` within the command timeout; an error or a timeout is logged once per
    /// outage.
    async fn bounded<T>(
        &self,
        attempt: impl std::future::Future<Output = Result<T, redis::RedisError>>,
    ) -> Result<T, Error> {
        let result = match tokio::time::timeout(self.inner.op_timeout, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(format!("{e}")),
            Err(_) => Err(format!("no answer within {:?}", self.inner.op_timeout)),
        };
        self.outcome(result)
    }

    fn outcome<T>(&self, result: Result<T, String>) -> Result<T, Error> {
        match result {
            Ok(value) => {
                if self.inner.down.swap(false, Ordering::Relaxed) {
                    tracing::info!(target: "tokensmith::redis", "Redis answers again; sharing tokens with the fleet");
                }
                Ok(value)
            }
            Err(message) => {
                if !self.inner.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: "tokensmith::redis",
                        error = %message,
                        "Redis is unavailable; each replica fetches its own tokens until it answers"
                    );
                }
                Err(Error::other(format!("Redis: {message}")))
            }
        }
    }
}

/// Where the fleet's Redis is: one server (or a Sentinel-managed primary's address), or a
/// Redis Cluster.
#[allow(
    clippy::large_enum_variant,
    reason = "one per cache, held once behind its Arc: the size costs nothing a user feels"
)]
enum Target {
    Node(redis::Client),
    Cluster(redis::cluster::ClusterClient),
}

/// A connection to the one server (reconnecting after an outage), or to the Cluster (following
/// `MOVED` and `ASK` as slots move, and its topology after a failover).
#[derive(Clone)]
enum Connection {
    Node(ConnectionManager),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for Connection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Node(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Node(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// Whether an error says that scripts are not allowed here (rather than that Redis is away).
fn refuses_scripts(error: &redis::RedisError) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    matches!(
        error.kind(),
        redis::ErrorKind::Server(redis::ServerErrorKind::NoPerm)
    ) || text.contains("noperm")
        || text.contains("no permissions")
        || text.contains("unknown command")
        || text.contains("scripting is disabled")
}

impl RedisCacheBuilder {
    /// The prefix of every Redis key (default `tokensmith`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The time one Redis command may take (default 50 ms); past it, Redis counts as down
    /// for that fetch and the replica fetches on its own.
    #[must_use]
    pub fn op_timeout(mut self, timeout: Duration) -> Self {
        self.op_timeout = timeout;
        self
    }

    /// How long the fetching replica's lock lasts before it must be renewed (default 35 s);
    /// the holder renews it while its fetch runs, so a fetch may take longer. Between 1 ms and
    /// a day. A lock with no expiry, or one longer than this, is taken for broken.
    #[must_use]
    pub fn lock_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How long a replica waits for another one's fetch before it fetches alone (default
    /// 3 s; still one fetch at a time within the process). What a replica that died holding
    /// the lock costs the fleet: this much latency, no error. Between 1 ms and 20 s, below the
    /// cache's 30 s load timeout.
    #[must_use]
    pub fn lock_wait(mut self, wait: Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// How long a token whose answer stated no expiry (`expires_in`) is kept in Redis
    /// (default one hour); the next fetch replaces it.
    #[must_use]
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime;
        self
    }

    /// How long before its expiry a token leaves Redis (default 5 s, at most a tenth of its
    /// remaining lifetime).
    #[must_use]
    pub fn skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// How long a grant's shared refresh token stays in Redis after its last rotation
    /// (default 30 days).
    #[must_use]
    pub fn state_ttl(mut self, ttl: Duration) -> Self {
        self.state_ttl = ttl;
        self
    }

    /// The certificate authorities (PEM) a `rediss://` server's certificate must chain to,
    /// instead of the system's: for a server with a private CA.
    #[must_use]
    pub fn tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_roots = Some(pem.into());
        self
    }

    /// Checks the settings; connects on the first fetch, not now.
    pub fn build(self) -> Result<RedisCache, Error> {
        // The URL may carry a password: its text is never repeated.
        let unusable = |e: redis::RedisError| {
            Error::config(format!("the Redis URL is not usable: {}", e.category()))
        };
        let tls = self.url.starts_with("rediss:")
            || self
                .cluster
                .iter()
                .flatten()
                .any(|node| node.starts_with("rediss:"));
        if tls {
            // Without a process-level provider (a build with both of rustls' providers has
            // none), the redis crate's TLS set-up would panic: aws-lc-rs is installed unless
            // the application installed one.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let certificates = |roots: &Vec<u8>| redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(roots.clone()),
        };
        let client = match (&self.cluster, &self.tls_roots) {
            (None, None) => Target::Node(redis::Client::open(self.url.as_str()).map_err(unusable)?),
            (None, Some(roots)) => Target::Node(
                redis::Client::build_with_tls(self.url.as_str(), certificates(roots))
                    .map_err(unusable)?,
            ),
            (Some(nodes), roots) => {
                if nodes.is_empty() {
                    return Err(Error::config(
                        "a Redis Cluster needs at least one node's URL",
                    ));
                }
                let mut builder =
                    redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
                        .connection_timeout(self.op_timeout)
                        .response_timeout(self.op_timeout)
                        .retries(2);
                if let Some(roots) = roots {
                    builder = builder.certs(certificates(roots));
                }
                Target::Cluster(builder.build().map_err(unusable)?)
            }
        };
        if self.op_timeout.is_zero() {
            return Err(Error::config(
                "the Redis command timeout must be above zero",
            ));
        }
        if !(MIN_LEASE..=MAX_LEASE).contains(&self.lease) {
            return Err(Error::config(format!(
                "the lock lease must be between {MIN_LEASE:?} and {MAX_LEASE:?}, not {:?}",
                self.lease
            )));
        }
        if !(Duration::from_millis(1)..=Duration::from_secs(20)).contains(&self.lock_wait) {
            return Err(Error::config(format!(
                "the lock wait must be between 1ms and 20s (below the cache's load timeout), \
                 not {:?}",
                self.lock_wait
            )));
        }
        if self.state_ttl < Duration::from_secs(1) || self.default_lifetime < Duration::from_secs(1)
        {
            return Err(Error::config(
                "the state TTL and the default token lifetime must be at least one second: \
                 shorter ones would silently stop the fleet from sharing",
            ));
        }
        if self.prefix.contains(['{', '}']) {
            return Err(Error::config(
                "the Redis key prefix cannot hold `{` or `}`: they make Cluster hash tags",
            ));
        }
        Ok(RedisCache {
            inner: Arc::new(Inner {
                client,
                connection: OnceCell::new(),
                key: self.key,
                prefix: self.prefix,
                op_timeout: self.op_timeout,
                lease: self.lease,
                lock_wait: self.lock_wait,
                skew: self.skew,
                state_ttl: self.state_ttl,
                default_lifetime: self.default_lifetime,
                down: AtomicBool::new(false),
                scripts_refused: AtomicBool::new(false),
            }),
        })
    }
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addr = match &self.inner.client {
            Target::Node(client) => client.get_connection_info().addr().to_string(),
            Target::Cluster(_) => "(a Redis Cluster)".to_owned(),
        };
        f.debug_struct("RedisCache")
            .field("addr", &addr)
            .field("prefix", &self.inner.prefix)
            .field("key", &self.inner.key)
            .field("op_timeout", &self.inner.op_timeout)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCacheBuilder")
            .field("prefix", &self.prefix)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
