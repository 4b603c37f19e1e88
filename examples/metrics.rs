//! Metrics: what tokensmith records through the `metrics` facade, printed.
//!
//! `cargo run --example metrics --features metrics,testkit` installs a recorder that keeps
//! every series (an application installs its exporter instead: Prometheus, OpenTelemetry,
//! StatsD), then runs a provider and the middleware against the embedded server: calls that
//! hit the cache, one fetch, a token the server revokes (a 401, an invalidation, a retry), and
//! prints each series with its labels. Labels carry a provider name and the endpoint's host,
//! never a token or a full URL.

use tokensmith::Cached;
use tokensmith::oauth2::{ClientCredentials, TokenEndpoint};
use tokensmith::reqwest::BearerAuth;
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MetricsCapture, TestServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Before any provider is built: providers take their metric handles when built.
    let capture = MetricsCapture::global();
    let server = TestServer::start().await?;

    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .build()?;
    let provider = Cached::builder(ClientCredentials::new(endpoint).build_source())
        .metrics_name("orders-api")
        .build()?;
    let client = BearerAuth::builder(provider.clone())
        .for_origin(server.url())
        .build()?
        .into_client(None)?;
    for i in 0..5 {
        client
            .get(server.url_of(&format!("/api/orders/{i}")))
            .send()
            .await?;
    }
    let token = provider.token().await?;
    server.revoke(token.secret().expose_secret());
    let answer = client.get(server.url_of("/api/orders")).send().await?;
    println!("after the revocation: {}", answer.status());

    println!("\nrecorded series:");
    print!("{}", capture.text());
    Ok(())
}
