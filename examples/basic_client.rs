//! A vendor that wants `client_id:client_secret` as HTTP Basic at `{host}/oauth/token`
//! (Deyel and many others), end to end: client credentials, the cached token, and what a
//! wrong secret looks like.
//!
//! By default it runs against an in-process stand-in for such a vendor on 127.0.0.1. To use a
//! real one, set `BASIC_CLIENT_HOST`, `BASIC_CLIENT_ID` and `BASIC_CLIENT_SECRET`:
//!
//! ```sh
//! cargo run --example basic_client
//! BASIC_CLIENT_HOST=https://vendor.example.com BASIC_CLIENT_ID=.. BASIC_CLIENT_SECRET=.. \
//!     cargo run --example basic_client
//! ```

use std::env;

use serde_json::json;
use tokensmith::Error;
use tokensmith::basic::BasicClient;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let real = (
        env::var("BASIC_CLIENT_HOST"),
        env::var("BASIC_CLIENT_ID"),
        env::var("BASIC_CLIENT_SECRET"),
    );
    let _stand_in;
    let (host, id, secret) = match real {
        (Ok(host), Ok(id), Ok(secret)) => (host, id, secret),
        _ => {
            let server = stand_in_vendor().await;
            println!(
                "no BASIC_CLIENT_* variables: using a stand-in vendor at {}",
                server.uri()
            );
            let host = server.uri();
            _stand_in = server;
            (host, "demo-app".to_owned(), "demo-secret".to_owned())
        }
    };

    let vendor = BasicClient::new(&host, id.clone(), secret)?;
    let provider = vendor.client_credentials().build();
    let token = provider.token().await?;
    println!("token: {token:?}");
    provider.token().await?;
    let stats = provider.stats();
    println!(
        "two calls, {} token request(s), {} cache hit(s)",
        stats.fetches, stats.hits
    );

    let wrong = BasicClient::new(&host, id, "not-the-secret")?;
    match wrong.client_credentials().build().token().await {
        Ok(_) => println!("the wrong secret was accepted?"),
        Err(err) => {
            println!("with a wrong secret: {err}");
            if let Some(oauth) = err.oauth() {
                println!("  code {} (sent as `{}`)", oauth.code, oauth.original_code);
            }
        }
    }
    Ok(())
}

/// Answers like such vendors: a JWT for the right Basic credentials, a non-standard error
/// otherwise.
async fn stand_in_vendor() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        // base64("demo-app:demo-secret")
        .and(header(
            "authorization",
            "Basic ZGVtby1hcHA6ZGVtby1zZWNyZXQ=",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vLWFwcCJ9.c2lnbmF0dXJl",
            "token_type": "Bearer",
            "expires_in": 86400
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error_description": "Invalid client_id",
            "error": "Invalid_request"
        })))
        .mount(&server)
        .await;
    server
}
