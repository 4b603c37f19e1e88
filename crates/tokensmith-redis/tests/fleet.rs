//! A fleet of replicas (each its own cache and Redis connection) against a real `redis-server`
//! on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokensmith_core::{AccessToken, Cached, Error, RefreshAhead, TokenProvider, TokenSource};
use tokensmith_redis::testing::RedisServer;
use tokensmith_redis::{FleetSource, RedisCache, SealingKey};

/// Issues `token-1`, `token-2`, … after a delay, counting its fetches across the fleet.
#[derive(Clone)]
struct Issuer {
    fetches: Arc<AtomicU32>,
    delay: Duration,
    lifetime: Duration,
}

impl Issuer {
    fn new(delay: Duration, lifetime: Duration) -> Self {
        Self {
            fetches: Arc::new(AtomicU32::new(0)),
            delay,
            lifetime,
        }
    }

    fn fetches(&self) -> u32 {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenSource for Issuer {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        tokio::time::sleep(self.delay).await;
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        AccessToken::builder(format!("token-{n}"))
            .expires_in(self.lifetime)
            .build()
    }
}

fn key() -> SealingKey {
    SealingKey::from_bytes([42; 32])
}

fn cache(url: &str) -> RedisCache {
    RedisCache::builder(url, key())
        .op_timeout(Duration::from_millis(200))
        .build()
        .unwrap()
}

/// A replica: its own connection to Redis and its own in-memory cache.
fn replica(url: &str, issuer: &Issuer) -> Cached<FleetSource<Issuer>> {
    Cached::builder(cache(url).share_as("orders-api", issuer.clone()))
        .refresh_ahead(
            RefreshAhead::new(0.3, Duration::ZERO, Duration::from_secs(60)).with_jitter(0.3),
        )
        .build()
        .unwrap()
}

fn secret(token: &AccessToken) -> String {
    token.secret().expose_secret().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_replicas_that_start_together_fetch_once() {
    let redis = RedisServer::start().await.unwrap();
    let issuer = Issuer::new(Duration::from_millis(50), Duration::from_secs(3600));
    let fleet: Vec<_> = (0..16)
        .map(|_| Arc::new(replica(&redis.url(), &issuer)))
        .collect();
    let calls: Vec<_> = fleet
        .iter()
        .map(|replica| {
            let replica = Arc::clone(replica);
            tokio::spawn(async move { replica.token().await })
        })
        .collect();
    let tokens: Vec<AccessToken> = join_all(calls).await;
    assert_eq!(issuer.fetches(), 1, "one token request for the fleet");
    assert!(tokens.iter().all(|t| secret(t) == "token-1"));
    let hits: u64 = fleet.iter().map(|r| r.source().stats().redis_hits).sum();
    let waits: u64 = fleet.iter().map(|r| r.source().stats().waits).sum();
    assert_eq!(hits, 15, "the others read it from Redis");
    assert!(waits >= 1, "some waited for the fetching replica");
    // Hits in memory never touch Redis: the server can go, the tokens stay.
    let mut redis = redis;
    redis.stop().await;
    for replica in &fleet {
        assert_eq!(secret(&replica.token().await.unwrap()), "token-1");
    }
}

async fn join_all<T: Send + 'static>(
    tasks: Vec<tokio::task::JoinHandle<Result<T, Error>>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_ahead_happens_once_per_lifetime_for_the_fleet() {
    let redis = RedisServer::start().await.unwrap();
    let lifetime = Duration::from_secs(3);
    let issuer = Issuer::new(Duration::from_millis(20), lifetime);
    let fleet: Vec<_> = (0..8).map(|_| replica(&redis.url(), &issuer)).collect();
    let started = Instant::now();
    let mut seen = std::collections::BTreeSet::new();
    // Three lifetimes of traffic, every replica asking every 50 ms (bounded: at most 200
    // rounds).
    for _ in 0..200 {
        if started.elapsed() >= lifetime * 3 {
            break;
        }
        for replica in &fleet {
            seen.insert(secret(&replica.token().await.unwrap()));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A token is refreshed 30% (±30%) of its lifetime before it expires: over three
    // lifetimes, the fleet fetches once at the start and once per refresh, four or five
    // times in all; eight replicas on their own would fetch eight times as often.
    let fetches = issuer.fetches();
    assert!((3..=5).contains(&fetches), "{fetches} fetches");
    assert_eq!(seen.len() as u32, fetches, "every token fetched was shared");
    let fleet_fetches: u64 = fleet.iter().map(|r| r.source().stats().fetches).sum();
    assert_eq!(fleet_fetches, u64::from(fetches));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_redis_down_every_call_still_gets_a_token() {
    let mut redis = RedisServer::start().await.unwrap();
    let lifetime = Duration::from_millis(1500);
    let issuer = Issuer::new(Duration::from_millis(20), lifetime);
    let fleet: Vec<_> = (0..4).map(|_| replica(&redis.url(), &issuer)).collect();
    for replica in &fleet {
        replica.token().await.unwrap();
    }
    assert_eq!(issuer.fetches(), 1);
    redis.stop().await;
    let mut errors = 0;
    let started = Instant::now();
    while started.elapsed() < lifetime * 2 {
        for replica in &fleet {
            if replica.token().await.is_err() {
                errors += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(errors, 0, "Redis is an accelerator, not a dependency");
    let alone: u64 = fleet.iter().map(|r| r.source().stats().alone).sum();
    assert!(alone >= 4, "each replica fetched on its own: {alone}");
    assert!(issuer.fetches() <= 1 + 4 * 3, "{}", issuer.fetches());

    // Back: once the replicas have reconnected (a command or two may still fail while their
    // connections are re-established), refreshes are shared again.
    redis.restart().await.unwrap();
    let stats = |fleet: &[Cached<FleetSource<Issuer>>]| -> u64 {
        fleet.iter().map(|r| r.source().stats().fetches).sum()
    };
    let mut shared_round = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for replica in &fleet {
            replica.invalidate(&replica.token().await.unwrap());
        }
        let (before, shared_before) = (issuer.fetches(), stats(&fleet));
        for replica in &fleet {
            replica.token().await.unwrap();
        }
        if stats(&fleet) > shared_before {
            shared_round = Some((issuer.fetches() - before, stats(&fleet) - shared_before));
            break;
        }
    }
    assert_eq!(
        shared_round,
        Some((1, 1)),
        "one replica fetched for the fleet once Redis answered"
    );
}

#[tokio::test]
async fn tokens_are_sealed_at_rest_under_keys_that_name_no_secret() {
    let redis = RedisServer::start().await.unwrap();
    let issuer = Issuer::new(Duration::ZERO, Duration::from_secs(3600));
    let replica = replica(&redis.url(), &issuer);
    replica.token().await.unwrap();
    let key = replica.source().redis_key().to_owned();
    assert!(
        key.starts_with("tokensmith:{") && key.ends_with("}:token"),
        "{key}"
    );
    assert!(!key.contains("orders-api"));

    let client = redis::Client::open(redis.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(!stored.is_empty());
    assert!(!stored.windows(7).any(|w| w == b"token-1"), "sealed");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        ttl > 3_500_000 && ttl <= 3_595_000,
        "lifetime minus skew: {ttl}"
    );

    // A replica with another key reads nothing it can open, and fetches its own.
    let stranger = Cached::new(
        RedisCache::builder(redis.url(), SealingKey::from_bytes([7; 32]))
            .build()
            .unwrap()
            .share_as("orders-api", issuer.clone()),
    );
    assert_ne!(
        stranger.source().redis_key(),
        key,
        "another key, another name"
    );
    stranger.token().await.unwrap();
    assert_eq!(issuer.fetches(), 2);
}

#[tokio::test]
async fn a_lock_whose_holder_died_expires_with_its_lease() {
    let redis = RedisServer::start().await.unwrap();
    let issuer = Issuer::new(Duration::ZERO, Duration::from_secs(3600));
    let replica = Cached::new(
        RedisCache::builder(redis.url(), key())
            .lock_lease(Duration::from_secs(5))
            .build()
            .unwrap()
            .share_as("orders-api", issuer.clone()),
    );
    // A replica took the lock and died: its lease runs 1.5 s.
    plant_lock(
        &mut raw(&redis).await,
        &lock_key(&replica),
        "dead-replica",
        Some(1500),
    )
    .await;
    let started = Instant::now();
    assert_eq!(secret(&replica.token().await.unwrap()), "token-1");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1300) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    assert_eq!(issuer.fetches(), 1);
    assert_eq!(
        replica.source().stats().fetches,
        1,
        "it took the lock once it expired"
    );
}

#[test]
fn debug_shows_no_key_material_or_password() {
    let cache = RedisCache::builder(
        "redis://:canary-password-3@127.0.0.1:6390/",
        SealingKey::from_bytes([1; 32]),
    )
    .build()
    .unwrap();
    let text = format!("{cache:?}");
    assert!(!text.contains("canary"), "{text}");
    assert!(text.contains("SealingKey([redacted])"));
    let err = RedisCache::builder("redis://canary-4:x@[bad", key())
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("canary"), "{err}");
    let issuer = Issuer::new(Duration::ZERO, Duration::from_secs(1));
    let err = cache.share(issuer).unwrap_err();
    assert!(err.hint().unwrap().contains("share_as"), "{err}");
}

/// A raw connection to the test server, for setting up locks as other replicas leave them.
async fn raw(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Leaves a lock as a replica that took it and died would: `owner`, expiring in `px` ms (or
/// never).
async fn plant_lock(
    raw: &mut redis::aio::MultiplexedConnection,
    lock: &str,
    owner: &str,
    px: Option<u64>,
) {
    let mut set = redis::cmd("SET");
    set.arg(lock).arg(owner);
    if let Some(ms) = px {
        set.arg("PX").arg(ms);
    }
    let _: () = set.query_async(raw).await.unwrap();
}

fn lock_key(replica: &Cached<FleetSource<Issuer>>) -> String {
    replica.source().redis_key().replace(":token", ":lock")
}

fn replica_waiting(url: &str, issuer: &Issuer, wait: Duration) -> Cached<FleetSource<Issuer>> {
    Cached::new(
        RedisCache::builder(url, key())
            .op_timeout(Duration::from_millis(500))
            .lock_wait(wait)
            .build()
            .unwrap()
            .share_as("orders-api", issuer.clone()),
    )
}

/// A replica died holding the lock, whose lease looks valid (20 s): the others wait at most
/// their lock wait, then fetch alone, without an error.
#[tokio::test]
async fn a_dead_holder_costs_the_lock_wait_and_no_error() {
    let redis = RedisServer::start().await.unwrap();
    let issuer = Issuer::new(Duration::ZERO, Duration::from_secs(3600));
    let replica = replica_waiting(&redis.url(), &issuer, Duration::from_millis(600));
    let mut raw = raw(&redis).await;
    plant_lock(&mut raw, &lock_key(&replica), "dead-replica", Some(20_000)).await;
    let started = Instant::now();
    assert_eq!(secret(&replica.token().await.unwrap()), "token-1");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(550) && waited < Duration::from_millis(3000),
        "{waited:?}"
    );
    assert_eq!(replica.source().stats().alone, 1);
    assert_eq!(issuer.fetches(), 1);
}

/// A lock with no expiry, or one beyond any lease this fleet sets, is broken: it is removed
/// and the replica fetches at once.
#[tokio::test]
async fn a_lock_without_expiry_or_beyond_the_lease_is_broken() {
    let redis = RedisServer::start().await.unwrap();
    let mut raw = raw(&redis).await;
    for expiry in [None, Some(36_000_000u64)] {
        let issuer = Issuer::new(Duration::ZERO, Duration::from_secs(3600));
        let replica = replica_waiting(&redis.url(), &issuer, Duration::from_secs(10));
        let _: () = redis::cmd("DEL")
            .arg(replica.source().redis_key())
            .query_async(&mut raw)
            .await
            .unwrap();
        plant_lock(&mut raw, &lock_key(&replica), "zombie", expiry).await;
        let started = Instant::now();
        replica.token().await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{expiry:?}: {:?}",
            started.elapsed()
        );
        assert_eq!(replica.source().stats().alone, 1, "{expiry:?}");
        let left: Option<String> = redis::cmd("GET")
            .arg(lock_key(&replica))
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(left, None, "{expiry:?}: the broken lock was removed");
    }
}

/// A fetch that takes longer than the lease keeps its lock: the holder renews it, and a
/// replica waiting for it takes the token it writes instead of fetching too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_holder_renews_its_lease_while_it_fetches() {
    let redis = RedisServer::start().await.unwrap();
    let issuer = Issuer::new(Duration::from_millis(1200), Duration::from_secs(3600));
    let build = || {
        Arc::new(Cached::new(
            RedisCache::builder(redis.url(), key())
                .op_timeout(Duration::from_millis(500))
                .lock_lease(Duration::from_millis(300))
                .lock_wait(Duration::from_secs(5))
                .build()
                .unwrap()
                .share_as("orders-api", issuer.clone()),
        ))
    };
    let (first, second) = (build(), build());
    let holder = {
        let first = Arc::clone(&first);
        tokio::spawn(async move { first.token().await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiter = {
        let second = Arc::clone(&second);
        tokio::spawn(async move { second.token().await })
    };
    let (a, b) = (
        holder.await.unwrap().unwrap(),
        waiter.await.unwrap().unwrap(),
    );
    assert_eq!(
        (secret(&a), secret(&b)),
        ("token-1".into(), "token-1".into())
    );
    assert_eq!(issuer.fetches(), 1, "the lease outlived the fetch");
    assert_eq!(second.source().stats().redis_hits, 1);
}

/// A Redis user whose ACL forbids scripts: the fleet still fetches once; the lock, which
/// cannot be released by compare-and-delete, is left to expire with its lease.
#[tokio::test]
async fn a_server_that_refuses_scripts_still_shares() {
    let redis = RedisServer::start().await.unwrap();
    let mut raw = raw(&redis).await;
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("noscripts")
        .arg("on")
        .arg(">canary-acl-pw")
        .arg("~*")
        .arg("+@all")
        .arg("-@scripting")
        .query_async(&mut raw)
        .await
        .unwrap();
    let url = format!(
        "redis://noscripts:canary-acl-pw@127.0.0.1:{}/",
        redis.port()
    );
    let issuer = Issuer::new(Duration::ZERO, Duration::from_secs(3600));
    let build = || {
        Cached::new(
            RedisCache::builder(url.as_str(), key())
                .op_timeout(Duration::from_millis(500))
                .lock_lease(Duration::from_secs(2))
                .build()
                .unwrap()
                .share_as("orders-api", issuer.clone()),
        )
    };
    let first = build();
    assert_eq!(secret(&first.token().await.unwrap()), "token-1");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(lock_key(&first))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 2000, "the lock is left to expire: {ttl}");
    let second = build();
    assert_eq!(secret(&second.token().await.unwrap()), "token-1");
    assert_eq!(issuer.fetches(), 1);
    assert_eq!(second.source().stats().redis_hits, 1);
}

#[test]
fn settings_that_would_stall_or_disable_the_fleet_are_refused() {
    let build =
        |f: fn(tokensmith_redis::RedisCacheBuilder) -> tokensmith_redis::RedisCacheBuilder| {
            f(RedisCache::builder("redis://127.0.0.1:6390/", key())).build()
        };
    for (what, result) in [
        (
            "lease under 1 ms",
            build(|b| b.lock_lease(Duration::from_micros(10))),
        ),
        ("lease of zero", build(|b| b.lock_lease(Duration::ZERO))),
        (
            "lease over a day",
            build(|b| b.lock_lease(Duration::from_secs(2 * 86_400))),
        ),
        ("lock wait of zero", build(|b| b.lock_wait(Duration::ZERO))),
        (
            "lock wait past the load timeout",
            build(|b| b.lock_wait(Duration::from_secs(40))),
        ),
        ("state TTL of zero", build(|b| b.state_ttl(Duration::ZERO))),
        (
            "default lifetime of zero",
            build(|b| b.default_lifetime(Duration::ZERO)),
        ),
        (
            "command timeout of zero",
            build(|b| b.op_timeout(Duration::ZERO)),
        ),
    ] {
        let err = result.expect_err(what);
        assert!(
            matches!(err.kind(), tokensmith_core::ErrorKind::Config { .. }),
            "{what}: {err:?}"
        );
    }
    build(|b| {
        b.lock_lease(Duration::from_millis(1))
            .lock_wait(Duration::from_millis(1))
    })
    .unwrap();
}

/// A token whose answer stated no expiry lives in Redis for the default lifetime.
#[tokio::test]
async fn a_token_without_expiry_lives_the_default_lifetime() {
    struct NoExpiry;
    #[async_trait]
    impl TokenSource for NoExpiry {
        async fn fetch(&self) -> Result<AccessToken, Error> {
            AccessToken::builder("forever").build()
        }
    }
    let redis = RedisServer::start().await.unwrap();
    let replica = Cached::new(
        RedisCache::builder(redis.url(), key())
            .default_lifetime(Duration::from_secs(600))
            .build()
            .unwrap()
            .share_as("no-expiry", NoExpiry),
    );
    replica.token().await.unwrap();
    let mut raw = raw(&redis).await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(replica.source().redis_key())
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(ttl > 590_000 && ttl <= 600_000, "{ttl}");
}

/// `rediss://`: a fleet shares its token through a redis-server that speaks TLS only, whose
/// certificate comes from a CA made for the test.
#[tokio::test]
async fn the_fleet_shares_through_redis_over_tls() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer as CaIssuer, KeyPair};
    let dir = tempfile::tempdir().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = CaIssuer::new(ca, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let (cert_file, key_file) = (
        dir.path().join("server.pem"),
        dir.path().join("server-key.pem"),
    );
    std::fs::write(&cert_file, server_cert.pem()).unwrap();
    std::fs::write(&key_file, server_key.serialize_pem()).unwrap();
    let redis = RedisServer::start_tls(cert_file, key_file).await.unwrap();
    assert!(redis.url().starts_with("rediss://"));

    let tokens = Issuer::new(Duration::ZERO, Duration::from_secs(3600));
    let replica = || {
        Cached::new(
            RedisCache::builder(redis.url(), key())
                .op_timeout(Duration::from_secs(2))
                .tls_root_certificates(ca_pem.clone())
                .build()
                .unwrap()
                .share_as("orders-api", tokens.clone()),
        )
    };
    let (a, b) = (replica(), replica());
    assert_eq!(secret(&a.token().await.unwrap()), "token-1");
    assert_eq!(secret(&b.token().await.unwrap()), "token-1");
    assert_eq!(tokens.fetches(), 1, "shared over TLS");
    assert_eq!(b.source().stats().redis_hits, 1);

    // A replica that does not trust the server's CA fetches alone, without an error.
    let untrusting = Cached::new(
        RedisCache::builder(redis.url(), key())
            .op_timeout(Duration::from_secs(2))
            .build()
            .unwrap()
            .share_as("orders-api", tokens.clone()),
    );
    untrusting.token().await.unwrap();
    assert_eq!(untrusting.source().stats().alone, 1);
}

/// A token read from Redis keeps its whole lifetime and its issue time, measured on the
/// fleet's clock (Redis's) and not on any replica's wall clock: each replica applies its own
/// skew and refresh window to the true lifetime, so none refreshes early.
#[tokio::test]
async fn a_shared_token_keeps_its_lifetime_on_the_fleets_clock() {
    let redis = RedisServer::start().await.unwrap();
    let issuer = Issuer::new(Duration::ZERO, Duration::from_secs(3600));
    let a = replica(&redis.url(), &issuer);
    let b = replica(&redis.url(), &issuer);
    let first = a.token().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let read = b.token().await.unwrap();
    assert_eq!(secret(&read), secret(&first));
    let lifetime = read.lifetime().unwrap();
    assert!(
        lifetime >= Duration::from_millis(3_599_900) && lifetime <= Duration::from_secs(3600),
        "the whole lifetime, not what was left: {lifetime:?}"
    );
    let left = read.expires_in().unwrap();
    let a_left = first.expires_in().unwrap();
    let gap = left.abs_diff(a_left);
    assert!(
        gap < Duration::from_millis(200),
        "the same expiry: {left:?} vs {a_left:?}"
    );
    assert_eq!(issuer.fetches(), 1);
}

/// A holder whose fetch takes longer than the others' lock wait, but who renews its lease,
/// is alive: the others keep waiting for its token instead of fetching alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_holder_is_waited_for_past_the_lock_wait() {
    let redis = RedisServer::start().await.unwrap();
    let issuer = Issuer::new(Duration::from_millis(2000), Duration::from_secs(3600));
    let build = || {
        Arc::new(replica_waiting(
            &redis.url(),
            &issuer,
            Duration::from_millis(600),
        ))
    };
    let (holder, waiter) = (build(), build());
    let first = {
        let holder = Arc::clone(&holder);
        tokio::spawn(async move { holder.token().await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let second = waiter.token().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(secret(&first.await.unwrap().unwrap()), secret(&second));
    assert_eq!(issuer.fetches(), 1, "waited for the live holder");
    assert_eq!(waiter.source().stats().alone, 0);
}

/// Set in the child process of [`a_holder_killed_mid_fetch_costs_the_lock_wait`]: the Redis URL.
const HOLDER_ENV: &str = "TOKENSMITH_TEST_LOCK_HOLDER";

/// Not a test of its own: in the child process (with `HOLDER_ENV` set) it takes the fleet's
/// lock for a fetch that never ends, and waits to be killed.
#[tokio::test]
async fn lock_holder_process() {
    let Ok(url) = std::env::var(HOLDER_ENV) else {
        return;
    };
    let issuer = Issuer::new(Duration::from_secs(3600), Duration::from_secs(3600));
    let holder = replica_waiting(&url, &issuer, Duration::from_secs(3));
    let _ = tokio::time::timeout(Duration::from_secs(60), holder.token()).await;
}

/// A replica *process* holding the lock mid-fetch is killed with SIGKILL: the next replica
/// waits its lock wait, not the lease, and gets a token without an error.
#[tokio::test]
async fn a_holder_killed_mid_fetch_costs_the_lock_wait() {
    let redis = RedisServer::start().await.unwrap();
    let issuer = Issuer::new(Duration::ZERO, Duration::from_secs(3600));
    let next = replica_waiting(&redis.url(), &issuer, Duration::from_millis(800));
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "lock_holder_process", "--nocapture"])
        .env(HOLDER_ENV, redis.url())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut raw = raw(&redis).await;
    let lock = lock_key(&next);
    let mut held = false;
    for _ in 0..500 {
        let value: Option<String> = redis::cmd("GET")
            .arg(&lock)
            .query_async(&mut raw)
            .await
            .unwrap();
        if value.is_some() {
            held = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(held, "the child took the lock");
    child.kill().await.unwrap();
    let started = Instant::now();
    let token = next.token().await.expect("no error after the holder died");
    let waited = started.elapsed();
    assert_eq!(secret(&token), "token-1");
    assert!(
        waited >= Duration::from_millis(700) && waited < Duration::from_millis(2500),
        "about the lock wait, far below the 35 s lease: {waited:?}"
    );
    assert_eq!(next.source().stats().alone, 1);
}
