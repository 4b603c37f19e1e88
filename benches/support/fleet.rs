//! Fleet figures against a real `redis-server`: replica *processes* (this bench binary run
//! again with `TOKENSMITH_FLEET_REPLICA` set) sharing one client's token, and the cost of a
//! token read from Redis against one read from memory.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokensmith::oauth2::{ClientCredentials, Password, RefreshTokenGrant, TokenEndpoint};
use tokensmith::{Cached, RefreshAhead};
use tokensmith_redis::testing::RedisServer;
use tokensmith_redis::{RedisCache, SealingKey};
use tokensmith_testkit::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_USERNAME, Fault, Target,
    TestServer,
};
use tokio::runtime::Runtime;

/// Set in a replica process:
/// `token_url|redis_url|base64 key|seconds|refresh token or -|refresh-ahead fraction`.
/// A replica with `hold` for the refresh token fetches once and waits to be killed.
pub(crate) const REPLICA_ENV: &str = "TOKENSMITH_FLEET_REPLICA";

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A replica: asks for a token every 20 ms for the given seconds, then prints its errors.
pub(crate) fn replica_main(spec: &str) {
    let parts: Vec<&str> = spec.split('|').collect();
    let [token_url, redis_url, key, seconds, session, ahead] = parts.as_slice() else {
        eprintln!("bad replica spec");
        std::process::exit(2);
    };
    let seconds: f64 = seconds.parse().unwrap_or(1.0);
    let ahead: f64 = ahead.parse().unwrap_or(0.3);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let errors = rt.block_on(async {
        let redis = RedisCache::builder(*redis_url, SealingKey::from_base64(key).unwrap())
            .op_timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        // A service's client credentials, or a user's session (a rotating refresh token).
        let grant = if matches!(*session, "-" | "hold") {
            ClientCredentials::basic(*token_url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
                .unwrap()
                .build_source()
        } else {
            let endpoint = TokenEndpoint::builder(*token_url)
                .client_id(DEFAULT_CLIENT_ID)
                .client_secret(DEFAULT_CLIENT_SECRET)
                .build()
                .unwrap();
            RefreshTokenGrant::new(endpoint, *session).build_source()
        };
        let cache = Cached::builder(redis.share_as("fleet", grant))
            .refresh_ahead(
                RefreshAhead::new(ahead, Duration::ZERO, Duration::from_secs(60)).with_jitter(0.3),
            )
            .build()
            .unwrap();
        if *session == "hold" {
            // The fleet's fetch under the lock, slow at the endpoint: the parent kills this
            // process while it holds the lock.
            let _ = tokio::time::timeout(Duration::from_secs_f64(seconds), cache.token()).await;
            return 0;
        }
        let started = Instant::now();
        let mut errors = 0u64;
        // Bounded: at most 10,000 calls.
        for _ in 0..10_000 {
            if started.elapsed().as_secs_f64() >= seconds {
                break;
            }
            if cache.token().await.is_err() {
                errors += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        errors
    });
    println!("errors={errors}");
}

/// Starts `n` replicas, each running `seconds` (on a user's session when `session` names its
/// refresh token), refreshing 30% ahead of expiry.
fn replicas(
    n: usize,
    token_url: &str,
    redis_url: &str,
    seconds: f64,
    session: Option<&str>,
) -> Vec<std::process::Child> {
    replicas_ahead(n, token_url, redis_url, seconds, session, 0.3)
}

/// [`replicas`], refreshing `ahead` (a share of the lifetime) ahead of expiry.
fn replicas_ahead(
    n: usize,
    token_url: &str,
    redis_url: &str,
    seconds: f64,
    session: Option<&str>,
    ahead: f64,
) -> Vec<std::process::Child> {
    let session = session.unwrap_or("-");
    let exe = std::env::current_exe().unwrap();
    (0..n)
        .map(|_| {
            Command::new(&exe)
                .env(
                    REPLICA_ENV,
                    format!("{token_url}|{redis_url}|{KEY}|{seconds}|{session}|{ahead}"),
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Waits for the replicas (killing any still running after `limit`) and sums their errors.
fn errors_of(children: Vec<std::process::Child>, limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    let mut errors = 0;
    for mut child in children {
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if child.try_wait().ok().flatten().is_none() {
            let _ = child.kill();
            errors += 1;
        }
        let output = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        errors += text
            .trim()
            .strip_prefix("errors=")
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(1);
    }
    errors
}

pub(crate) struct Figures {
    /// Token requests of 16 replicas that start together (target 1).
    pub(crate) start_requests: u64,
    /// Token requests of 64 replicas that start together (target 1).
    pub(crate) start_requests_64: u64,
    /// A replica killed (SIGKILL) while it held the fetch lock: the extra latency of the next
    /// replica's first token over one without a dead holder, and its errors.
    pub(crate) dead_holder_extra_ms: f64,
    pub(crate) dead_holder_errors: u64,
    /// Token requests of 16 replicas in 4 s against an endpoint that answers 429 with
    /// `Retry-After: 2` (target: one per period).
    pub(crate) throttled_requests: u64,
    /// p99 of a bare `GET` of the token's key with a Redis client of its own, in the same run.
    pub(crate) redis_get_p99_us: f64,
    /// Token requests of 16 replicas over three 2 s lifetimes, refreshing 10% ahead, and of
    /// one replica alone in the same setting (the baseline: the fleet should cost no more).
    pub(crate) lifetimes_requests: u64,
    pub(crate) lifetimes_requests_alone: u64,
    /// Errors callers saw with Redis stopped midway, and the token requests meanwhile.
    pub(crate) down_errors: u64,
    pub(crate) down_requests: u64,
    /// p99 of a token read from Redis (a miss in memory), and of one read from memory.
    pub(crate) l2_hit_p99_us: f64,
    pub(crate) memory_hit_p99_us: f64,
    /// 8 replicas on one user's session against a server that revokes the grant when a
    /// refresh token is reused: errors, reuses, and refreshes.
    pub(crate) session_errors: u64,
    pub(crate) session_reuses: u64,
    pub(crate) session_refreshes: u64,
}

impl Figures {
    pub(crate) fn json(&self) -> String {
        format!(
            "\"fleet_token_requests\":{},\"fleet_token_requests_3_lifetimes\":{},\
             \"fleet_redis_down_errors\":{},\"fleet_redis_down_token_requests\":{},\
             \"fleet_l2_hit_p99_us\":{:.1},\"fleet_memory_hit_p99_us\":{:.2},\
             \"fleet_session_errors\":{},\"fleet_session_refresh_reuses\":{},\
             \"fleet_session_refreshes\":{}",
            self.start_requests,
            self.lifetimes_requests,
            self.down_errors,
            self.down_requests,
            self.l2_hit_p99_us,
            self.memory_hit_p99_us,
            self.session_errors,
            self.session_reuses,
            self.session_refreshes
        ) + &format!(
            ",\"fleet_token_requests_64\":{},\"fleet_dead_holder_extra_ms\":{:.0},\
             \"fleet_dead_holder_errors\":{},\"fleet_429_requests\":{},\
             \"fleet_redis_get_p99_us\":{:.1},\"fleet_l2_hit_p99_over_redis_get\":{:.2},\
             \"fleet_token_requests_3_lifetimes_alone\":{}",
            self.start_requests_64,
            self.dead_holder_extra_ms,
            self.dead_holder_errors,
            self.throttled_requests,
            self.redis_get_p99_us,
            self.l2_hit_p99_us / self.redis_get_p99_us.max(0.001),
            self.lifetimes_requests_alone
        )
    }
}

/// The fleet figures, or `None` when no `redis-server` can be started here.
pub(crate) fn figures(rt: &Runtime) -> Option<Figures> {
    let mut redis = match rt.block_on(RedisServer::start()) {
        Ok(redis) => redis,
        Err(e) => {
            eprintln!("fleet figures skipped: {e}");
            return None;
        }
    };
    let run =
        |lifetime: Duration, seconds: f64, stop_redis_at: Option<f64>, redis: &mut RedisServer| {
            let server = rt
                .block_on(TestServer::builder().token_lifetime(lifetime).start())
                .unwrap();
            server.fail_share(Target::Token, 1.0, Fault::Delay(Duration::from_millis(50)));
            let fleet = replicas(16, &server.token_url(), &redis.url(), seconds, None);
            if let Some(at) = stop_redis_at {
                std::thread::sleep(Duration::from_secs_f64(at));
                rt.block_on(redis.stop());
            }
            let errors = errors_of(fleet, Duration::from_secs_f64(seconds + 30.0));
            if stop_redis_at.is_some() {
                rt.block_on(redis.restart()).unwrap();
            }
            (errors, server.counters().token_requests)
        };
    let (_, start_requests) = run(Duration::from_secs(3600), 1.0, None, &mut redis);
    rt.block_on(redis.restart()).unwrap();
    let start_requests_64 = {
        let server = rt.block_on(TestServer::start()).unwrap();
        server.fail_share(Target::Token, 1.0, Fault::Delay(Duration::from_millis(50)));
        let fleet = replicas(64, &server.token_url(), &redis.url(), 2.0, None);
        errors_of(fleet, Duration::from_secs(40));
        server.counters().token_requests
    };
    rt.block_on(redis.restart()).unwrap();
    let (dead_holder_extra_ms, dead_holder_errors) = dead_holder(rt, &redis);
    rt.block_on(redis.restart()).unwrap();
    let throttled_requests = {
        let server = rt.block_on(TestServer::start()).unwrap();
        server.fail_share(Target::Token, 1.0, Fault::too_many_requests(2));
        let fleet = replicas(16, &server.token_url(), &redis.url(), 4.0, None);
        errors_of(fleet, Duration::from_secs(40));
        server.counters().token_requests
    };
    rt.block_on(redis.restart()).unwrap();
    // Three lifetimes, refreshing 10% ahead: a token serves ~90% of its life, so one process
    // alone fetches at the start and about once a lifetime; the fleet should fetch as often.
    let mut lifetimes = |n: usize| {
        let server = rt
            .block_on(
                TestServer::builder()
                    .token_lifetime(Duration::from_secs(2))
                    .start(),
            )
            .unwrap();
        server.fail_share(Target::Token, 1.0, Fault::Delay(Duration::from_millis(50)));
        let fleet = replicas_ahead(n, &server.token_url(), &redis.url(), 6.0, None, 0.1);
        errors_of(fleet, Duration::from_secs(40));
        rt.block_on(redis.restart()).unwrap();
        server.counters().token_requests
    };
    let lifetimes_requests = lifetimes(16);
    let lifetimes_requests_alone = lifetimes(1);
    let (down_errors, down_requests) = run(Duration::from_secs(1), 4.0, Some(2.0), &mut redis);
    let (l2_hit_p99_us, memory_hit_p99_us, redis_get_p99_us) = l2_hits(rt, &redis);
    let (session_errors, session_reuses, session_refreshes) = session(rt, &redis);
    Some(Figures {
        start_requests,
        start_requests_64,
        dead_holder_extra_ms,
        dead_holder_errors,
        throttled_requests,
        redis_get_p99_us,
        lifetimes_requests,
        lifetimes_requests_alone,
        down_errors,
        down_requests,
        l2_hit_p99_us,
        memory_hit_p99_us,
        session_errors,
        session_reuses,
        session_refreshes,
    })
}

/// A replica process takes the fleet's lock for a fetch the endpoint holds for 10 s and is
/// killed (SIGKILL) holding it; then a replica in this process asks for the token. Returns
/// its latency over that of a replica that finds no lock (ms), and its errors.
fn dead_holder(rt: &Runtime, redis: &RedisServer) -> (f64, u64) {
    rt.block_on(async {
        let server = TestServer::start().await.unwrap();
        let replica = || {
            let cache = RedisCache::builder(redis.url(), SealingKey::from_base64(KEY).unwrap())
                .op_timeout(Duration::from_millis(50))
                .build()
                .unwrap();
            let grant = ClientCredentials::basic(
                server.token_url(),
                DEFAULT_CLIENT_ID,
                DEFAULT_CLIENT_SECRET,
            )
            .unwrap()
            .build_source();
            Cached::new(cache.share_as("fleet", grant))
        };
        // Without a dead holder: the baseline.
        let baseline = replica();
        let started = Instant::now();
        baseline.token().await.unwrap();
        let base = started.elapsed();
        let lock = baseline.source().redis_key().replace(":token", ":lock");
        let token = baseline.source().redis_key().to_owned();
        let mut raw = redis::Client::open(redis.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let _: () = redis::cmd("DEL")
            .arg(&token)
            .query_async(&mut raw)
            .await
            .unwrap();
        server.fail_next(Target::Token, 1, Fault::Delay(Duration::from_secs(10)));
        let mut holder = replicas(1, &server.token_url(), &redis.url(), 20.0, Some("hold"));
        for _ in 0..500 {
            let held: Option<String> = redis::cmd("GET")
                .arg(&lock)
                .query_async(&mut raw)
                .await
                .unwrap();
            if held.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut holder = holder.remove(0);
        let _ = holder.kill();
        let _ = holder.wait();
        let next = replica();
        let started = Instant::now();
        let errors = u64::from(next.token().await.is_err());
        let extra = started.elapsed().saturating_sub(base);
        (extra.as_secs_f64() * 1000.0, errors)
    })
}

/// 8 replica processes continue one user's session for three 2 s lifetimes against a server
/// that revokes the whole grant when a rotated refresh token is used again.
fn session(rt: &Runtime, redis: &RedisServer) -> (u64, u64, u64) {
    let server = rt
        .block_on(
            TestServer::builder()
                .token_lifetime(Duration::from_secs(2))
                .revoke_grant_on_refresh_reuse()
                .start(),
        )
        .unwrap();
    let refresh = rt.block_on(async {
        let endpoint = TokenEndpoint::builder(server.token_url())
            .client_id(DEFAULT_CLIENT_ID)
            .client_secret(DEFAULT_CLIENT_SECRET)
            .build()
            .unwrap();
        let source = Password::new(endpoint, DEFAULT_USERNAME, DEFAULT_PASSWORD).build_source();
        tokensmith::TokenSource::fetch(&source).await.unwrap();
        source.refresh_token().unwrap().expose_secret().to_owned()
    });
    let before = server.counters().token_requests;
    let fleet = replicas(8, &server.token_url(), &redis.url(), 6.0, Some(&refresh));
    let errors = errors_of(fleet, Duration::from_secs(36));
    let counters = server.counters();
    (
        errors,
        counters.refresh_reuses,
        counters.token_requests - before,
    )
}

/// p99 of 2,000 fetches that find the token in Redis (a fresh replica each, so the token is
/// not the one it is replacing), of 2,000 reads from memory, and of 2,000 bare `GET`s of the
/// token's key with the same Redis client library, alternating with the fetches.
fn l2_hits(rt: &Runtime, redis: &RedisServer) -> (f64, f64, f64) {
    rt.block_on(async {
        let server = TestServer::start().await.unwrap();
        let cache = RedisCache::builder(redis.url(), SealingKey::from_base64(KEY).unwrap())
            .build()
            .unwrap();
        let grant = || {
            ClientCredentials::basic(server.token_url(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
                .unwrap()
                .build_source()
        };
        let first = cache.share(grant()).unwrap();
        tokensmith::TokenSource::fetch(&first).await.unwrap();
        let client = redis::Client::open(redis.url()).unwrap();
        let mut connection = client.get_connection_manager().await.unwrap();
        let key = first.redis_key().to_owned();
        // The two alternate, so that both see the same machine at the same moments.
        let mut l2 = Vec::with_capacity(2000);
        let mut gets = Vec::with_capacity(2000);
        for round in 0..4000 {
            // In alternating order, so that neither always runs second.
            if (round / 2 + round) % 2 == 0 {
                let replica = cache.share(grant()).unwrap();
                let start = Instant::now();
                tokensmith::TokenSource::fetch(&replica).await.unwrap();
                l2.push(start.elapsed().as_nanos() as u64);
            } else {
                let start = Instant::now();
                let _: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(&key)
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                gets.push(start.elapsed().as_nanos() as u64);
            }
        }
        let memory = Cached::new(first);
        memory.token().await.unwrap();
        let mut hits = Vec::with_capacity(2000);
        for _ in 0..2000 {
            let start = Instant::now();
            memory.token().await.unwrap();
            hits.push(start.elapsed().as_nanos() as u64);
        }
        (
            crate::p99(l2) as f64 / 1000.0,
            crate::p99(hits) as f64 / 1000.0,
            crate::p99(gets) as f64 / 1000.0,
        )
    })
}
