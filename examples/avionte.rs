//! Avionté: client credentials with the API key and scope, then tenant-scoped calls that
//! carry the token, the key, a tenant header and a RequestId.
//!
//! `cargo run --example avionte` runs against the embedded Avionté stand-in on 127.0.0.1. To
//! use the real service, set `AVIONTE_CLIENT_ID`, `AVIONTE_CLIENT_SECRET`, `AVIONTE_API_KEY`
//! and `AVIONTE_TENANT` (a FrontOfficeTenantId). In an application, enable the facade's
//! `avionte` feature and use `tokensmith::avionte`.

use std::env;

use tokensmith_avionte::{AvionteClient, Tenant, testing};
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let vars: Vec<Result<String, env::VarError>> = [
        "AVIONTE_CLIENT_ID",
        "AVIONTE_CLIENT_SECRET",
        "AVIONTE_API_KEY",
        "AVIONTE_TENANT",
    ]
    .into_iter()
    .map(env::var)
    .collect();
    if let [Ok(id), Ok(secret), Ok(key), Ok(tenant)] = vars.as_slice() {
        let client = AvionteClient::builder()
            .client(id.clone(), secret.clone())
            .api_key(key.clone())
            .rate_limit(5.0)
            .build()?;
        return tour(&client, Tenant::front_office_id(tenant.clone())).await;
    }

    println!("no AVIONTE_* variables: using the embedded Avionté stand-in");
    let server = testing::start().await?;
    let client = AvionteClient::builder()
        .client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .api_key(testing::API_KEY)
        .base_url(server.url())
        .build()?;
    tour(&client, Tenant::front_office_id("42")).await?;
    let call = &server.requests_to(Endpoint::Api)[0];
    println!(
        "what the API saw: Authorization: {}, x-api-key: {}, FrontOfficeTenantId: {}, RequestId: {}",
        call.header("authorization").unwrap_or("-"),
        call.header("x-api-key").unwrap_or("-"),
        call.header("frontofficetenantid").unwrap_or("-"),
        call.header("requestid").unwrap_or("-"),
    );

    let wrong = AvionteClient::builder()
        .client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .api_key("not-the-key")
        .base_url(server.url())
        .build()?;
    if let Err(err) = wrong.tenant(Tenant::short_code("acme")).talent(1).await {
        println!("with a wrong API key: {err}");
    }
    Ok(())
}

async fn tour(client: &AvionteClient, tenant: Tenant) -> Result<(), Box<dyn std::error::Error>> {
    let scoped = client.tenant(tenant);
    let ids = scoped.talent_ids(1, 5).await?;
    println!("first talent ids: {ids:?}");
    if let Some(first) = ids.first() {
        let talent = scoped.talent(*first).await?;
        println!(
            "talent {}: {:?} {:?}",
            talent.id, talent.first_name, talent.last_name
        );
    }
    Ok(())
}
