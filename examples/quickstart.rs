//! Quickstart: a client-credentials provider and a reqwest client that carries its tokens.
//!
//! `cargo run --example quickstart` starts tokensmith's embedded authorization server on
//! 127.0.0.1 (no network, no credentials), then:
//! 1. builds a client-credentials provider for its token endpoint (cached by default),
//! 2. puts the bearer middleware on a reqwest client, scoped to the API's origin,
//! 3. calls the protected API several times, including from 50 tasks at once,
//! 4. has the server revoke the token, so the next call gets a 401, drops the token, fetches
//!    a new one and retries,
//!
//! and prints what happened at each step. No secret is printed: tokens show as `[redacted]`.

use std::sync::Arc;

use tokensmith::TokenProvider;
use tokensmith::oauth2::{ClientAuth, ClientCredentials, TokenEndpoint};
use tokensmith::reqwest::BearerAuth;
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint, TestServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start().await?;
    println!("authorization server and API at {}", server.url());

    // 1. The provider: client credentials, HTTP Basic client authentication.
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .auth(ClientAuth::Basic)
        .build()?;
    let provider = ClientCredentials::new(endpoint)
        .scope(["orders.read"])
        .build();
    let shared: Arc<dyn TokenProvider> = Arc::new(provider.clone());

    // 2. A reqwest client that attaches the token to the API's origin only.
    //    The client follows no redirect to another origin and sends no Referer.
    let client = BearerAuth::builder(Arc::clone(&shared))
        .for_origin(server.url())
        .build()?
        .into_client(None)?;

    // 3. Call the API: once, then from 50 tasks at once.
    let answer = client.get(server.url_of("/api/orders")).send().await?;
    println!(
        "GET /api/orders -> {} {}",
        answer.status(),
        answer.text().await?
    );
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let client = client.clone();
            let url = server.url_of(&format!("/api/orders/{i}"));
            tokio::spawn(async move { client.get(url).send().await.map(|r| r.status()) })
        })
        .collect();
    let mut ok = 0;
    for call in calls {
        if call.await??.is_success() {
            ok += 1;
        }
    }
    let token = provider.token().await?;
    println!("50 concurrent calls -> {ok} answered 200");
    println!(
        "token requests so far: {} (one token, cached); {token:?}",
        server.counters().token_requests
    );

    // 4. The server revokes the token: the middleware sees the 401, invalidates, refetches.
    server.revoke(token.secret().expose_secret());
    let answer = client.get(server.url_of("/api/orders")).send().await?;
    let stats = provider.stats();
    println!(
        "after revocation: GET /api/orders -> {} (token requests: {}, invalidations: {})",
        answer.status(),
        server.counters().token_requests,
        stats.invalidations
    );
    let first = &server.requests_to(Endpoint::Token)[0];
    println!(
        "the token request had grant_type in its form body: {}; Authorization: {}",
        first.has_form_key("grant_type"),
        first.header("authorization").unwrap_or("none")
    );
    println!(
        "cache: {} hits, {} fetches, valid for another {:?}",
        stats.hits,
        stats.fetches,
        stats.remaining.unwrap_or_default()
    );
    server.shutdown().await;
    Ok(())
}
