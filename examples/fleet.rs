//! Two replicas of one service sharing their tokens through Redis: the fleet makes one token
//! request, each replica still answers from memory, and when Redis goes away each replica
//! fetches on its own instead of failing.
//!
//! ```sh
//! cargo run --example fleet --features redis,testkit            # a throwaway redis-server
//! REDIS_URL=redis://127.0.0.1:6379/ cargo run --example fleet --features redis,testkit
//! ```
//!
//! Without `REDIS_URL` it starts `redis-server` (Debian's `redis-server` package, which
//! `cargo xtask redis` installs) on a free port of 127.0.0.1 and stops it at the end. The
//! replicas share a 32-byte sealing key; in production it comes from a secret store.

use std::time::Duration;

use tokensmith::Cached;
use tokensmith::oauth2::{ClientCredentials, GrantSource, TokenEndpoint};
use tokensmith::redis::testing::RedisServer;
use tokensmith::redis::{FleetSource, RedisCache, SealingKey};
use tokensmith::reqwest::BearerAuth;
use tokensmith::testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, TestServer};

/// One replica: its own Redis connection and in-memory cache, the fleet's key.
fn replica(
    redis_url: &str,
    key: &SealingKey,
    server: &TestServer,
) -> Result<Cached<FleetSource<GrantSource>>, Box<dyn std::error::Error>> {
    let redis = RedisCache::builder(redis_url, key.clone())
        .op_timeout(Duration::from_millis(100))
        .build()?;
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .build()?;
    let grant = ClientCredentials::new(endpoint)
        .scope(["orders.read"])
        .build_source();
    Ok(Cached::new(redis.share(grant)?))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start().await?;
    let mut own_redis = None;
    let redis_url = match std::env::var("REDIS_URL") {
        Ok(url) => url,
        Err(_) => {
            let redis = RedisServer::start().await?;
            let url = redis.url();
            own_redis = Some(redis);
            url
        }
    };
    println!("token endpoint {} · Redis {redis_url}", server.token_url());

    let key = SealingKey::generate()?;
    let (a, b) = (
        replica(&redis_url, &key, &server)?,
        replica(&redis_url, &key, &server)?,
    );
    let (first, second) = tokio::join!(a.token(), b.token());
    let (first, second) = (first?, second?);
    println!(
        "both replicas have a token ({}); token requests: {}",
        if first.secret().expose_secret() == second.secret().expose_secret() {
            "the same one"
        } else {
            "different ones"
        },
        server.counters().token_requests
    );
    println!("replica a: {:?}", a.source().stats());
    println!("replica b: {:?}", b.source().stats());

    let api = BearerAuth::builder(b)
        .for_origin(server.url())
        .build()?
        .into_client(None)?;
    let status = api.get(server.url_of("/api/orders")).send().await?.status();
    println!("replica b calls the API: {status}");

    if let Some(mut redis) = own_redis {
        redis.stop().await;
        a.invalidate(&a.token().await?);
        let token = a.token().await;
        println!(
            "Redis stopped: replica a still gets a token ({}), fetched alone: {:?}",
            if token.is_ok() { "ok" } else { "error" },
            a.source().stats()
        );
    }
    println!(
        "token requests in all: {}",
        server.counters().token_requests
    );
    Ok(())
}
