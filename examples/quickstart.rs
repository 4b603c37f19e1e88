//! Quickstart: a cached token provider in front of a token source.
//!
//! Run with `cargo run --example quickstart`. The token source here is an in-process stand-in
//! for a token endpoint, so the example needs no network and no credentials: it shows one
//! fetch shared by many concurrent callers, cache hits, invalidation after a rejected token,
//! and the cache's counters. No secret is printed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokensmith::{AccessToken, Cached, Error, TokenProvider, TokenSource, async_trait};

/// Stands in for a token endpoint: each fetch takes 50 ms and issues a one-hour token.
struct DemoIssuer {
    issued: AtomicU32,
}

#[async_trait]
impl TokenSource for DemoIssuer {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        AccessToken::builder(format!("demo-token-{n}"))
            .expires_in(Duration::from_secs(3600))
            .scopes(["demo.read"])
            .build()
    }

    fn name(&self) -> &str {
        "demo_issuer"
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let provider = Cached::new(DemoIssuer {
        issued: AtomicU32::new(0),
    });
    let shared: Arc<dyn TokenProvider> = Arc::new(provider.clone());

    let callers: Vec<_> = (0..100)
        .map(|_| {
            let auth = Arc::clone(&shared);
            tokio::spawn(async move { auth.token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.map_err(|e| Error::other(e.to_string()))??);
    }
    let first = &tokens[0];
    let same = tokens.iter().filter(|t| t.same_as(first)).count();
    println!("100 concurrent callers -> {same} got the same token from one fetch");
    println!("token: {first:?}");

    for _ in 0..1000 {
        shared.token().await?;
    }
    let stats = provider.stats();
    println!(
        "after 1,000 more calls: fetches={} hits={} misses={}, valid for another {:?}",
        stats.fetches,
        stats.hits,
        stats.misses,
        stats.remaining.unwrap_or_default()
    );

    // An API answered 401 for this token: drop it, and the next call fetches a new one.
    shared.invalidate(first);
    let replacement = shared.token().await?;
    println!(
        "after invalidation: new token? {}; fetches={} invalidations={}",
        !replacement.same_as(first),
        provider.stats().fetches,
        provider.stats().invalidations
    );
    Ok(())
}
