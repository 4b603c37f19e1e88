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

mod builder;
mod connection;

pub use self::builder::RedisCacheBuilder;
use self::connection::{Connection, Target};

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
