//! A Basic-client vendor on the embedded test server, for tests (feature `testing`): the
//! token endpoint at `/oauth/token`, HTTP Basic only for the default client, refresh tokens
//! that stay the same across refreshes, and errors in the vendor's shapes: a wrong client is
//! `{"error_description":"Invalid client_id","error":"Invalid_request"}`, a dead refresh token
//! `{"errors":[{"message":"Invalid refresh token.","attribute-name":"refresh_token"}]}`, and
//! other codes are capitalised (`Invalid_grant`). All with HTTP 400.
//!
//! ```
//! use tokensmith_basic::{BasicClient, testing};
//! use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = testing::start().await?;
//! let vendor = BasicClient::new(server.url(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)?;
//! let token = vendor.client_credentials().build().token().await?;
//! assert!(token.token_type().is_bearer());
//! # Ok(())
//! # }
//! ```

use serde_json::{Value, json};
use tokensmith_testkit::{
    ClientConfig, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, TestServer, TestServerBuilder,
};

use crate::TOKEN_PATH;

/// A test server playing a Basic-client vendor; change what you need, then `start()`.
pub fn server() -> TestServerBuilder {
    TestServer::builder()
        .token_path(format!("/{TOKEN_PATH}"))
        .client(ClientConfig::confidential(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).basic_only())
        .rotate_refresh_tokens(false)
        .error_shape(error_shape)
}

/// Starts [`server`].
pub async fn start() -> std::io::Result<TestServer> {
    server().start().await
}

/// The vendor's error shapes.
fn error_shape(code: &str, description: &str) -> Option<(u16, Value)> {
    let body = match code {
        "invalid_client" => {
            json!({"error_description": "Invalid client_id", "error": "Invalid_request"})
        }
        "invalid_grant" if description.contains("refresh") => json!({
            "errors": [{"message": "Invalid refresh token.", "attribute-name": "refresh_token"}]
        }),
        _ => {
            let mut chars = code.chars();
            let capitalised: String = chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
                .collect();
            json!({"error_description": description, "error": capitalised})
        }
    };
    Some((400, body))
}
