//! The device authorization grant (RFC 8628) for command-line tools: show a code, poll until
//! the user has approved it elsewhere.
//!
//! `cargo run --example device_code` runs against the embedded server, which is told to
//! approve the code a moment after it is shown (polling every second here; real servers
//! usually say five).

use std::sync::Arc;
use std::time::Duration;

use tokensmith::oauth2::{ClientAuth, DeviceAuthorization, RefreshTokenGrant, TokenEndpoint};
use tokensmith_testkit::{DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_USERNAME, TestServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Arc::new(
        TestServer::builder()
            .device_timing(Duration::from_secs(1), Duration::from_secs(120))
            .start()
            .await?,
    );
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_PUBLIC_CLIENT_ID)
        .auth(ClientAuth::None)
        .build()?;
    let flow = DeviceAuthorization::new(endpoint.clone(), server.device_authorization_url())?
        .scope(["profile"]);

    let approver = Arc::clone(&server);
    let tokens = flow
        .run(move |prompt| {
            println!(
                "To sign in, open {} and enter the code {} (valid {:?})",
                prompt.verification_uri, prompt.user_code, prompt.expires_in
            );
            // Stands in for the user approving on another device.
            let code = prompt.user_code.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                approver.approve_device(&code, DEFAULT_USERNAME);
            });
        })
        .await?;
    println!(
        "approved after {} polls: {:?}",
        server.counters().token_requests,
        tokens.access_token()
    );

    let provider = RefreshTokenGrant::from_response(endpoint, tokens)?.build();
    println!("the provider serves it: {:?}", provider.token().await?);
    Ok(())
}
