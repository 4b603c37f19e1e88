//! The bearer middleware on a reqwest client: tokens go only to the API's origin, an API key
//! rides along, and a 401 makes the middleware drop the token and retry once with a new one.
//!
//! Runs against an in-process API on 127.0.0.1 that rejects the first token it sees:
//! `cargo run --example middleware`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokensmith::reqwest::{BearerAuth, auth_error};
use tokensmith::{AccessToken, Cached, Error, TokenProvider, TokenSource};
use wiremock::matchers::{any, header};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Stands in for a token endpoint: `token-1`, `token-2`, …
struct Issuer(AtomicU32);

#[async_trait]
impl TokenSource for Issuer {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        AccessToken::builder(format!("token-{n}"))
            .expires_in(Duration::from_secs(3600))
            .build()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api = MockServer::start().await;
    // The API revoked token-1, wants the API key, and answers everything else.
    Mock::given(header("authorization", "Bearer token-1"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer error=\"invalid_token\""),
        )
        .mount(&api)
        .await;
    Mock::given(header("x-api-key", "demo-key"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"orders\":[]}"))
        .mount(&api)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(403))
        .mount(&api)
        .await;

    let cache = Cached::new(Issuer(AtomicU32::new(0)));
    let provider: Arc<dyn TokenProvider> = Arc::new(cache.clone());
    let auth = BearerAuth::builder(provider)
        .for_origin(api.uri())
        .header("x-api-key", "demo-key")
        .build()?;
    let client = auth.into_client(None)?;

    let response = client
        .get(format!("{}/v1/orders", api.uri()))
        .send()
        .await?;
    println!(
        "GET /v1/orders -> {} {}",
        response.status(),
        response.text().await?
    );
    let stats = cache.stats();
    println!(
        "token fetches: {} (the first token was rejected, invalidated {} time, replaced)",
        stats.fetches, stats.invalidations
    );

    let response = client
        .get(format!("{}/v1/orders", api.uri()))
        .send()
        .await?;
    println!(
        "again -> {} with {} fetches in all",
        response.status(),
        cache.stats().fetches
    );

    // A provider that fails explains itself through the middleware error.
    let failing: Arc<dyn TokenProvider> = Arc::new(Cached::new(Broken));
    let client = BearerAuth::builder(failing)
        .for_origin(api.uri())
        .build()?
        .into_client(None)?;
    if let Err(err) = client.get(api.uri()).send().await {
        println!("with a broken provider: {err}");
        if let Some(hint) = auth_error(&err).and_then(Error::hint) {
            println!("  hint: {hint}");
        }
    }
    Ok(())
}

struct Broken;

#[async_trait]
impl TokenSource for Broken {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        Err(Error::config("no client secret configured").with_hint("set CLIENT_SECRET"))
    }
}
