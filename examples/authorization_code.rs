//! The authorization code flow with PKCE, in its two steps, then a provider that refreshes
//! with the refresh token and keeps it in a file across restarts.
//!
//! `cargo run --example authorization_code` runs against the embedded server and plays the
//! browser itself. In a real application, step one sends the user to the printed URL and
//! step two runs in the handler of your redirect URI.

use tokensmith::Error;
use tokensmith::oauth2::{
    AuthorizationCode, ClientAuth, FileStore, RefreshTokenGrant, TokenEndpoint,
};
use tokensmith_testkit::{DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_REDIRECT_URI, TestServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::start().await?;
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_PUBLIC_CLIENT_ID)
        .auth(ClientAuth::None)
        .build()?;

    // Step one: the URL for the user, and the pending value that owns verifier, state and
    // redirect URI.
    let flow = AuthorizationCode::new(
        endpoint.clone(),
        server.authorize_url(),
        DEFAULT_REDIRECT_URI,
    )?
    .scope(["profile", "offline_access"]);
    let pending = flow.start()?;
    println!("1. send the user to {}", pending.url());

    // The browser: the embedded server approves at once and redirects back.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let answer = browser.get(pending.url().clone()).send().await?;
    let callback = answer.headers()["location"].to_str()?.to_owned();
    println!(
        "2. the browser comes back to {}",
        callback.split('?').next().unwrap_or("")
    );

    // Step two: state checked, code exchanged with the verifier and the same redirect URI.
    let tokens = pending.finish_url(&callback).await?;
    println!("3. exchanged: {:?}", tokens.access_token());

    // Keep the session: the refresh token goes to a file (mode 0600), rotations too.
    let path = std::env::temp_dir().join(format!("tokensmith-example-{}.json", std::process::id()));
    let provider = RefreshTokenGrant::from_response(endpoint.clone(), tokens)?
        .store(FileStore::new(&path))
        .build_persisted()
        .await?;
    let token = provider.token().await?;
    provider.invalidate(&token);
    provider.token().await?;
    println!(
        "4. refreshed once; {} token requests in all",
        server.counters().token_requests
    );

    // A later run picks the session up from the file.
    match RefreshTokenGrant::load(endpoint, FileStore::new(&path)).await? {
        Some(grant) => {
            let again = grant.build().token().await?;
            println!("5. a new process resumed the session: {again:?}");
        }
        None => println!("5. nothing stored: sign in again"),
    }
    std::fs::remove_file(&path).map_err(|e| Error::other(e.to_string()))?;
    Ok(())
}
