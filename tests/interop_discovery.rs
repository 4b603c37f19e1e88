//! Interop: from a resource's 401 to a token against a real authorization server
//! (oidc-provider): the resource's metadata (RFC 9728), OpenID Connect discovery, dynamic
//! registration (RFC 7591, built into oidc-provider), a sign-in with PKCE and a resource
//! indicator (RFC 8707), and step-up for a write.
//!
//! Ignored by `cargo test`; `cargo xtask interop` starts the server and runs it.

use std::sync::Arc;
use std::time::Duration;

use tokensmith::oauth2::resource::{ClientMetadata, LoopbackRedirect, ResourceAuth};
use tokensmith::oauth2::{MemoryStore, TokenStore};
use tokensmith::reqwest::BearerAuth;

#[path = "interop_support/mod.rs"]
mod support;

const WHY: &str = "needs the interop server: run `cargo xtask interop`";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests through `cargo xtask interop`")
    })
}

/// Plays the browser, in the background, from the authorization URL to the loopback
/// redirect URI, which answers without a redirect.
fn browser() -> LoopbackRedirect {
    LoopbackRedirect::new()
        .timeout(Duration::from_secs(30))
        .open_with(|url| {
            let url = url.clone();
            tokio::spawn(async move { support::browse(url, |_| false).await });
            Ok(())
        })
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn a_401_leads_to_registration_sign_in_and_step_up_at_oidc_provider() {
    let _ = WHY;
    let issuer = var("TOKENSMITH_INTEROP_ISSUER");
    let resource = var("TOKENSMITH_INTEROP_RESOURCE");
    let store = Arc::new(MemoryStore::new());
    let auth = ResourceAuth::builder(format!("{resource}protected/files"))
        .loopback(browser())
        .registration(ClientMetadata::new("tokensmith interop"))
        .store(Arc::clone(&store))
        .build()
        .unwrap();
    let client = BearerAuth::discover(auth)
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();

    let read = client
        .get(format!("{resource}protected/files"))
        .send()
        .await
        .unwrap();
    let status = read.status();
    let text = read.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    // A JWT for exactly this resource (RFC 8707), with the scope the challenge named.
    assert_eq!(body["aud"], resource.as_str());
    assert!(
        body["scope"].as_str().unwrap().contains("api:read"),
        "{body}"
    );
    // The client was registered there, and is kept for the next run.
    let registered = store
        .load_client(&issuer)
        .await
        .unwrap()
        .expect("registered");
    assert_eq!(body["client_id"], registered.client_id.as_str());

    // A write wants api:write too: one more sign-in, with both.
    let write = client
        .post(format!("{resource}protected/files"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let status = write.status();
    let text = write.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let scope = body["scope"].as_str().unwrap();
    assert!(
        scope.contains("api:read") && scope.contains("api:write"),
        "{scope}"
    );
}
