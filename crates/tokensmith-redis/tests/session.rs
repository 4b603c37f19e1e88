//! A user's session (a rotating refresh token) continued by eight replicas, against a server
//! that revokes the whole grant when a refresh token is used twice.

use std::time::{Duration, Instant};

use tokensmith_core::{Cached, RefreshAhead};
use tokensmith_oauth2::{GrantSource, Password, RefreshTokenGrant, TokenEndpoint};
use tokensmith_redis::testing::RedisServer;
use tokensmith_redis::{RedisCache, SealingKey};
use tokensmith_testkit::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_USERNAME, TestServer,
};

const LIFETIME: Duration = Duration::from_secs(2);

async fn strict_server() -> TestServer {
    TestServer::builder()
        .token_lifetime(LIFETIME)
        .revoke_grant_on_refresh_reuse()
        .start()
        .await
        .unwrap()
}

fn endpoint(server: &TestServer) -> TokenEndpoint {
    TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .build()
        .unwrap()
}

/// Signs the user in once and returns the refresh token every replica starts from.
async fn sign_in(server: &TestServer) -> String {
    let source = Password::new(endpoint(server), DEFAULT_USERNAME, DEFAULT_PASSWORD).build_source();
    tokensmith_core::TokenSource::fetch(&source).await.unwrap();
    source.refresh_token().unwrap().expose_secret().to_owned()
}

/// Every replica asks for a token and calls the API with it, every 50 ms, for three token
/// lifetimes (at most 200 rounds); returns the failures.
async fn traffic(
    server: &TestServer,
    fleet: &[Cached<impl tokensmith_core::TokenSource>],
) -> usize {
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut failures = 0;
    for _ in 0..200 {
        if started.elapsed() >= LIFETIME * 3 {
            break;
        }
        for replica in fleet {
            let Ok(token) = replica.token().await else {
                failures += 1;
                continue;
            };
            let status = http
                .get(server.url_of("/api/me"))
                .bearer_auth(token.secret().expose_secret())
                .send()
                .await
                .unwrap()
                .status();
            if !status.is_success() {
                failures += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_replicas_share_a_rotating_session_and_it_survives() {
    let redis = RedisServer::start().await.unwrap();
    let server = strict_server().await;
    let refresh = sign_in(&server).await;
    let key = SealingKey::generate().unwrap();
    let fleet: Vec<Cached<_>> = (0..8)
        .map(|_| {
            let cache = RedisCache::builder(redis.url(), key.clone())
                .op_timeout(Duration::from_millis(200))
                .build()
                .unwrap();
            let session =
                RefreshTokenGrant::new(endpoint(&server), refresh.as_str()).build_source();
            Cached::builder(cache.share_as("alice", session))
                .refresh_ahead(
                    RefreshAhead::new(0.3, Duration::ZERO, Duration::from_secs(60))
                        .with_jitter(0.3),
                )
                .build()
                .unwrap()
        })
        .collect();
    let failures = traffic(&server, &fleet).await;
    assert_eq!(failures, 0);
    assert_eq!(
        server.counters().refresh_reuses,
        0,
        "each refresh token used once"
    );
    let refreshes: u64 = fleet.iter().map(|r| r.source().stats().fetches).sum();
    assert!(
        (2..=5).contains(&refreshes),
        "one refresh per lifetime for the fleet: {refreshes}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_fleet_the_same_session_is_revoked() {
    let server = strict_server().await;
    let refresh = sign_in(&server).await;
    let fleet: Vec<Cached<GrantSource>> = (0..2)
        .map(|_| {
            Cached::new(RefreshTokenGrant::new(endpoint(&server), refresh.as_str()).build_source())
        })
        .collect();
    let failures = traffic(&server, &fleet).await;
    assert!(server.counters().refresh_reuses >= 1);
    assert!(failures > 0, "the grant was revoked under the replicas");
}

/// Signs `user` in and returns the refresh token of that user's session.
async fn sign_in_as(server: &TestServer, user: &str, password: &str) -> String {
    let source = Password::new(endpoint(server), user, password).build_source();
    tokensmith_core::TokenSource::fetch(&source).await.unwrap();
    source.refresh_token().unwrap().expose_secret().to_owned()
}

/// Two users' sessions of one client, continued by replicas that share one Redis: a session
/// is refused without its user's id, and with them neither user is ever handed the other's
/// token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_sessions_never_cross() {
    let redis = RedisServer::start().await.unwrap();
    let server = TestServer::builder()
        .user("alice", "alice-pw")
        .user("bob", "bob-pw")
        .start()
        .await
        .unwrap();
    let key = SealingKey::generate().unwrap();
    let cache = RedisCache::builder(redis.url(), key)
        .op_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let session = |refresh: &str| RefreshTokenGrant::new(endpoint(&server), refresh).build_source();

    let alice_refresh = sign_in_as(&server, "alice", "alice-pw").await;
    let bob_refresh = sign_in_as(&server, "bob", "bob-pw").await;
    let err = cache.share(session(&alice_refresh)).unwrap_err();
    assert!(err.to_string().contains("acts for a user"), "{err}");
    assert!(err.hint().unwrap().contains("share_as"), "{err:?}");
    assert!(!format!("{err:?}").contains(&alice_refresh));

    // Replicas per user, each starting from the user's own refresh token; new replicas each
    // round, which read what the fleet holds in Redis.
    let replica = |user: &str, refresh: &str| {
        Cached::new(cache.share_as(&format!("session:{user}"), session(refresh)))
    };
    let http = reqwest::Client::new();
    let user_of = |token: tokensmith_core::AccessToken| {
        let http = http.clone();
        let url = server.url_of("/api/me");
        async move {
            let body = http
                .get(url)
                .bearer_auth(token.secret().expose_secret())
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
            answer["username"].as_str().unwrap_or("").to_owned()
        }
    };
    let mut redis_hits = 0;
    for round in 0..3 {
        for (user, refresh) in [("alice", &alice_refresh), ("bob", &bob_refresh)] {
            for _ in 0..2 {
                let fresh = replica(user, refresh);
                let token = fresh.token().await.unwrap();
                assert_eq!(user_of(token).await, user, "round {round}");
                redis_hits += fresh.source().stats().redis_hits;
            }
        }
    }
    assert!(
        redis_hits >= 10,
        "the replicas read the fleet's tokens: {redis_hits}"
    );
    let alice = [replica("alice", &alice_refresh)];
    let bob = [replica("bob", &bob_refresh)];
    let alice_token = alice[0].token().await.unwrap();
    let bob_token = bob[0].token().await.unwrap();
    assert!(!alice_token.same_as(&bob_token));
    assert_eq!(server.counters().refresh_reuses, 0);
}

/// Sixteen replicas against a token endpoint that answers 429 with `Retry-After: 2`: the fleet
/// honours what one replica was told, so the endpoint sees at most one request per period,
/// and every replica's error says the fleet is waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_fleet_honours_a_retry_after_one_replica_received() {
    use tokensmith_core::{Backoff, RetryPolicy};
    use tokensmith_oauth2::ClientCredentials;
    use tokensmith_testkit::{Endpoint, Fault, Target};
    let redis = RedisServer::start().await.unwrap();
    let server = TestServer::start().await.unwrap();
    server.fail_share(Target::Token, 1.0, Fault::too_many_requests(2));
    let key = SealingKey::generate().unwrap();
    let fleet: Vec<_> = (0..16)
        .map(|_| {
            let endpoint = TokenEndpoint::builder(server.token_url())
                .client_id(DEFAULT_CLIENT_ID)
                .client_secret(DEFAULT_CLIENT_SECRET)
                .retry(RetryPolicy::default().attempts(1).backoff(Backoff::new(
                    Duration::from_millis(10),
                    Duration::from_millis(10),
                )))
                .build()
                .unwrap();
            let cache = RedisCache::builder(redis.url(), key.clone())
                .op_timeout(Duration::from_millis(500))
                .build()
                .unwrap();
            Cached::new(
                cache
                    .share(ClientCredentials::new(endpoint).build_source())
                    .unwrap(),
            )
        })
        .collect();
    let started = Instant::now();
    let mut fleet_waits = 0;
    for _ in 0..40 {
        if started.elapsed() >= Duration::from_millis(3500) {
            break;
        }
        for replica in &fleet {
            if let Err(err) = replica.token().await
                && err.to_string().contains("the fleet is waiting")
            {
                fleet_waits += 1;
                assert!(err.retry_after().is_some(), "{err:?}");
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let requests = server.requests_to(Endpoint::Token).len();
    assert!(
        (1..=2).contains(&requests),
        "one request per Retry-After period for the fleet: {requests}"
    );
    assert!(
        fleet_waits >= 15,
        "the others were told the fleet waits: {fleet_waits}"
    );

    // The endpoint recovers: after the period, one replica fetches for all.
    server.clear_faults();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut tokens = Vec::new();
    for replica in &fleet {
        for _ in 0..50 {
            match replica.token().await {
                Ok(token) => {
                    tokens.push(token);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    assert_eq!(tokens.len(), 16);
    let stats: Vec<_> = fleet.iter().map(|r| r.source().stats()).collect();
    assert!(
        tokens
            .iter()
            .all(|t| t.secret().expose_secret() == tokens[0].secret().expose_secret()),
        "one token for the fleet: {} requests, {stats:?}",
        server.requests_to(Endpoint::Token).len()
    );
}

/// Someone who can write to Redis puts back an older sealed refresh token (one already used):
/// the replica that wrote a newer one never adopts it, so the server sees no reuse and the
/// session lives. Garbage in every key is ignored, never an error or a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_or_garbage_value_is_never_adopted() {
    let redis = RedisServer::start().await.unwrap();
    let server = strict_server().await;
    let refresh = sign_in(&server).await;
    let cache = RedisCache::builder(redis.url(), SealingKey::generate().unwrap())
        .op_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    // The shared source itself, asked directly: each fetch is one the cache would make.
    let replica = cache.share_as(
        "session:alice",
        RefreshTokenGrant::new(endpoint(&server), refresh.as_str()).build_source(),
    );
    let state_key = replica.redis_key().replace(":token", ":state");
    let token_key = replica.redis_key().to_owned();
    let mut raw = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let read = |key: String| {
        let mut raw = raw.clone();
        async move {
            let value: Option<Vec<u8>> = redis::cmd("GET")
                .arg(key)
                .query_async(&mut raw)
                .await
                .unwrap();
            value
        }
    };
    let rotator = raw.clone();
    let rotate = || async {
        tokensmith_core::TokenSource::fetch(&replica).await.unwrap();
        // Drop the shared access token, so that the next fetch refreshes.
        let _: () = redis::cmd("DEL")
            .arg(&token_key)
            .query_async(&mut rotator.clone())
            .await
            .unwrap();
    };
    rotate().await;
    let old_state = read(state_key.clone()).await.expect("the state was shared");
    rotate().await;
    assert_ne!(read(state_key.clone()).await.unwrap(), old_state);
    // Put the older state back, and fetch again.
    let _: () = redis::cmd("SET")
        .arg(&state_key)
        .arg(&old_state)
        .query_async(&mut raw)
        .await
        .unwrap();
    rotate().await;
    rotate().await;
    assert_eq!(
        server.counters().refresh_reuses,
        0,
        "the rolled-back token was not used"
    );

    // Garbage in every key: ignored.
    for key in [&token_key, &state_key] {
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg(b"\x00garbage\xff".as_slice())
            .query_async(&mut raw)
            .await
            .unwrap();
    }
    let started = Instant::now();
    rotate().await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.counters().refresh_reuses, 0);
}

/// Redis stops taking writes (`CLIENT PAUSE … WRITE`) while the replica holding the lock
/// refreshes: it keeps the lock until the rotated refresh token is confirmed written, so the
/// next replica refreshes with the new one, never the one just used.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_redis_never_hands_on_a_used_refresh_token() {
    use tokensmith_testkit::{Fault, Target};
    let redis = RedisServer::start().await.unwrap();
    let server = strict_server().await;
    let refresh = sign_in(&server).await;
    let key = SealingKey::generate().unwrap();
    let replica = || {
        let cache = RedisCache::builder(redis.url(), key.clone())
            .op_timeout(Duration::from_millis(100))
            .lock_wait(Duration::from_secs(5))
            .build()
            .unwrap();
        std::sync::Arc::new(cache.share_as(
            "session:alice",
            RefreshTokenGrant::new(endpoint(&server), refresh.as_str()).build_source(),
        ))
    };
    let (a, b) = (replica(), replica());
    // The refresh takes 300 ms; Redis takes no writes from 100 ms to 900 ms.
    server.fail_next(Target::Token, 1, Fault::Delay(Duration::from_millis(300)));
    let first = {
        let a = std::sync::Arc::clone(&a);
        tokio::spawn(async move { tokensmith_core::TokenSource::fetch(&*a).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut raw = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(800)
        .arg("WRITE")
        .query_async(&mut raw)
        .await
        .unwrap();
    let second = {
        let b = std::sync::Arc::clone(&b);
        tokio::spawn(async move { tokensmith_core::TokenSource::fetch(&*b).await })
    };
    first.await.unwrap().unwrap();
    second.await.unwrap().unwrap();
    // And once more each, past the token, so that both refresh through the fleet again.
    for replica in [&a, &b] {
        let token_key = replica.redis_key().to_owned();
        let _: () = redis::cmd("DEL")
            .arg(token_key)
            .query_async(&mut raw)
            .await
            .unwrap();
        tokensmith_core::TokenSource::fetch(&**replica)
            .await
            .unwrap();
    }
    assert_eq!(
        server.counters().refresh_reuses,
        0,
        "no refresh token used twice"
    );
}

/// `sign_out()` while a refresh is in flight: once it (and the fleet's `forget`) returned, no
/// refresh token is left in memory, in the store or in Redis, and the refresh in flight ends
/// in an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_out_racing_a_refresh_leaves_no_refresh_token_anywhere() {
    use std::sync::Arc;
    use tokensmith_oauth2::{MemoryStore, TokenStore};
    use tokensmith_testkit::{Fault, Target};
    let redis = RedisServer::start().await.unwrap();
    let server = strict_server().await;
    let refresh = sign_in(&server).await;
    let store = Arc::new(MemoryStore::default());
    let with_revocation = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .revocation_url(server.revocation_url())
        .build()
        .unwrap();
    let session = RefreshTokenGrant::new(with_revocation, refresh.as_str())
        .store(Arc::clone(&store))
        .build_source();
    let cache = RedisCache::builder(redis.url(), SealingKey::generate().unwrap())
        .op_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let shared = Arc::new(cache.share_as("session:alice", session));
    // A first refresh puts the session in Redis and the store.
    tokensmith_core::TokenSource::fetch(&*shared).await.unwrap();
    let state_key = shared.redis_key().replace(":token", ":state");
    let token_key = shared.redis_key().to_owned();
    let mut raw = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&token_key)
        .query_async(&mut raw)
        .await
        .unwrap();

    // The next refresh takes 500 ms; the user signs out 100 ms into it.
    server.fail_next(Target::Token, 1, Fault::Delay(Duration::from_millis(500)));
    let in_flight = {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move { tokensmith_core::TokenSource::fetch(&*shared).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    shared.source().sign_out().await.unwrap();
    shared.forget().await.unwrap();
    let err = in_flight.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("signed out"), "{err}");

    assert!(shared.source().refresh_token().is_none(), "none in memory");
    assert!(store.load().await.unwrap().is_none(), "none in the store");
    let left: Option<Vec<u8>> = redis::cmd("GET")
        .arg(&state_key)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(left.is_none(), "none in Redis");
    assert!(tokensmith_core::TokenSource::fetch(&*shared).await.is_err());
}
