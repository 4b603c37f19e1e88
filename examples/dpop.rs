//! DPoP (RFC 9449): tokens bound to a key the client holds, useless to whoever copies them.
//!
//! `cargo run --example dpop --features dpop,testkit` starts the embedded server, which
//! requires DPoP nonces, then:
//! 1. makes a DPoP key and a token endpoint that proves possession of it on every request;
//!    the server refuses the first request for want of a nonce, the endpoint retries once
//!    with the nonce the server gave, and the token comes back typed `DPoP`,
//! 2. calls the API through the middleware, which sends `Authorization: DPoP …` and a fresh
//!    proof per request (method, URL, token hash, nonce),
//! 3. shows that the same token sent as a plain bearer token is refused.

use tokensmith::dpop::DpopKey;
use tokensmith::oauth2::{ClientCredentials, Issuer};
use tokensmith::reqwest::BearerAuth;
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint, TestServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::builder().require_dpop_nonce().start().await?;
    println!("authorization server and API at {}", server.url());

    // 1. One key for the token endpoint and the middleware (clones share key and nonces).
    let key = DpopKey::generate()?;
    println!("DPoP key thumbprint (jkt): {}", key.thumbprint());
    let endpoint = Issuer::new(server.url())?
        .token_endpoint()
        .await?
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .dpop(key.clone())
        .build()?;
    let tokens = ClientCredentials::new(endpoint)
        .scope(["orders.read"])
        .build();
    let token = tokens.token().await?;
    println!(
        "token type: {}; token requests sent: {} (one refused for the nonce, one retried)",
        token.token_type(),
        server.requests_to(Endpoint::Token).len()
    );

    // 2. API calls with a proof each.
    let client = BearerAuth::builder(tokens)
        .for_origin(server.url())
        .dpop(key)
        .build()?
        .into_client(None)?;
    for path in ["/api/orders", "/api/orders/7"] {
        let answer = client.get(server.url_of(path)).send().await?;
        println!("GET {path} -> {} {}", answer.status(), answer.text().await?);
    }

    // 3. A copied token without the key.
    let stolen = reqwest::Client::new()
        .get(server.url_of("/api/orders"))
        .bearer_auth(token.secret().expose_secret())
        .send()
        .await?;
    println!(
        "the token as a bearer token -> {} {}",
        stolen.status(),
        stolen.text().await?
    );
    Ok(())
}
