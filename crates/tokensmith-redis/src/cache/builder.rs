//! The settings of a fleet cache, checked by [`RedisCacheBuilder::build`].

use super::*;

/// Configures a [`RedisCache`].
pub struct RedisCacheBuilder {
    pub(super) url: String,
    pub(super) key: SealingKey,
    pub(super) prefix: String,
    pub(super) op_timeout: Duration,
    pub(super) lease: Duration,
    pub(super) lock_wait: Duration,
    pub(super) skew: Duration,
    pub(super) state_ttl: Duration,
    pub(super) default_lifetime: Duration,
    pub(super) tls_roots: Option<Vec<u8>>,
    /// The nodes of a Redis Cluster, when it is one.
    pub(super) cluster: Option<Vec<String>>,
}

/// The shortest and longest lock lease accepted.
const MIN_LEASE: Duration = Duration::from_millis(1);

const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

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

impl fmt::Debug for RedisCacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCacheBuilder")
            .field("prefix", &self.prefix)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
