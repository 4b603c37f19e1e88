//! AirVantage: sign in with the password grant, list systems, see what a token from the
//! wrong region does, log out.
//!
//! `cargo run --example airvantage`. In an application, enable the facade's `airvantage`
//! feature and use `tokensmith::airvantage`. By default it runs against two embedded AirVantage regions on 127.0.0.1. To use the real
//! service, set `AIRVANTAGE_REGION` (`na`, `eu` or a base URL), `AIRVANTAGE_CLIENT_ID`,
//! `AIRVANTAGE_CLIENT_SECRET`, `AIRVANTAGE_USERNAME` and `AIRVANTAGE_PASSWORD`.

use std::env;

use tokensmith_airvantage::{AirVantageClient, Region, SystemsQuery, testing};
use tokensmith_testkit::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_USERNAME,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let vars: Vec<Result<String, env::VarError>> = [
        "AIRVANTAGE_REGION",
        "AIRVANTAGE_CLIENT_ID",
        "AIRVANTAGE_CLIENT_SECRET",
        "AIRVANTAGE_USERNAME",
        "AIRVANTAGE_PASSWORD",
    ]
    .into_iter()
    .map(env::var)
    .collect();
    if let [Ok(region), Ok(id), Ok(secret), Ok(user), Ok(password)] = vars.as_slice() {
        let client = AirVantageClient::builder(region.parse()?)
            .client(id.clone(), secret.clone())
            .password(user.clone(), password.clone())
            .build()?;
        return tour(&client).await;
    }

    println!("no AIRVANTAGE_* variables: using two embedded regions");
    let (na, eu) = testing::regions().await?;
    let client = AirVantageClient::builder(eu.url().parse::<Region>()?)
        .client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .password(DEFAULT_USERNAME, DEFAULT_PASSWORD)
        .build()?;
    tour(&client).await?;

    // The classic mistake, made on purpose: the `eu` token sent to the `na` API.
    let mixed = AirVantageClient::builder(na.url().parse::<Region>()?)
        .provider(client.provider())
        .build()?;
    if let Err(err) = mixed.systems(&SystemsQuery::new()).await {
        println!("eu token against na: {err}");
    }
    Ok(())
}

async fn tour(client: &AirVantageClient) -> Result<(), Box<dyn std::error::Error>> {
    let user = client.current_user().await?;
    println!(
        "signed in as {} in region {}",
        user.email.unwrap_or(user.uid),
        client.region()
    );
    let page = client
        .systems(
            &SystemsQuery::new()
                .size(3)
                .fields(["uid", "name", "commStatus"]),
        )
        .await?;
    println!(
        "{} systems; the first {}:",
        page.count.unwrap_or_default(),
        page.items.len()
    );
    for system in &page.items {
        println!(
            "  {} {:?} {:?}",
            system.uid, system.name, system.comm_status
        );
    }
    client.logout().await?;
    println!("logged out: the token is revoked");
    Ok(())
}
