//! A small MCP client on tokensmith: it knows only the server's URL, and the server's first
//! 401 leads to a token (RFC 9728 metadata, the authorization server's metadata, the client's
//! registration or metadata document, a sign-in with PKCE, step-up for more scope).
//!
//! It speaks MCP's JSON-RPC over streamable HTTP without an MCP SDK: `initialize`, the
//! `initialized` notification, `tools/list`, and `tools/call` of the first tool.
//!
//! ```text
//! cargo run --example mcp_client --features full -- [options] <server-url>
//!   --client-metadata-url URL   the client id where servers take a metadata document
//!   --client-credentials        a machine client (needs a client id and secret or key)
//! ```
//!
//! Credentials come as JSON in `MCP_CONFORMANCE_CONTEXT` (the MCP conformance suite's
//! convention): `client_id`, `client_secret`, `private_key_pem` with `signing_algorithm`,
//! or an identity assertion (`idp_id_token`, `idp_token_endpoint`, `idp_client_id`) for
//! cross-app access. The sign-in "browser" is this process following the authorization
//! server's redirects to the loopback redirect URI, as a user's browser would.
//! `cargo xtask conformance` runs the suite's authorization scenarios against it.

use std::time::Duration;

use serde_json::{Value, json};
use tokensmith::oauth2::JwtKey;
use tokensmith::oauth2::resource::{
    ClientMetadata, IdentityAssertion, LoopbackRedirect, ResourceAuth,
};
use tokensmith::reqwest::BearerAuth;

type Failure = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() {
    if let Err(error) = run().await {
        eprintln!("mcp_client: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1).collect::<Vec<_>>();
    let server = args
        .pop()
        .ok_or("usage: mcp_client [options] <server-url>")?;
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    let text = |name: &str| context.get(name).and_then(Value::as_str);
    let machine = args.iter().any(|a| a == "--client-credentials")
        || scenario.starts_with("auth/client-credentials");

    let mut auth = ResourceAuth::builder(&server)
        .timeout(Duration::from_secs(10))
        .registration(
            ClientMetadata::new("tokensmith MCP example")
                .software("tokensmith", env!("CARGO_PKG_VERSION")),
        );
    if let Some(url) = option("--client-metadata-url") {
        auth = auth.client_metadata_document(url);
    }
    auth = match (
        text("client_id"),
        text("client_secret"),
        text("private_key_pem"),
    ) {
        (Some(id), _, Some(pem)) => {
            let alg = text("signing_algorithm").unwrap_or("ES256");
            auth.client_credentials_jwt(id, JwtKey::from_pem(pem, alg)?)
        }
        (Some(id), Some(secret), None) if machine => auth.client_credentials(id, secret),
        (Some(id), secret, None) => {
            let with_id = auth.client_id(id);
            match secret {
                Some(secret) => with_id.client_secret(secret),
                None => with_id,
            }
        }
        _ => auth,
    };
    if let (Some(id_token), Some(endpoint)) = (text("idp_id_token"), text("idp_token_endpoint")) {
        let mut assertion = IdentityAssertion::id_token(endpoint, id_token);
        if let Some(idp_client) = text("idp_client_id") {
            assertion = assertion.client(idp_client, None);
        }
        auth = auth.identity_assertion(assertion);
    } else if !machine {
        auth = auth.loopback(
            LoopbackRedirect::new()
                .timeout(Duration::from_secs(20))
                .open_with(follow_as_browser),
        );
    }
    let client = BearerAuth::discover(auth.build()?)
        .build()?
        .into_client(None)?;

    let mut session = Session {
        client,
        url: server,
        id: None,
        next: 0,
    };
    let init = session
        .call(
            "initialize",
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "tokensmith-mcp-example", "version": env!("CARGO_PKG_VERSION")},
            }),
        )
        .await?;
    println!("server: {}", init["serverInfo"]);
    session.notify("notifications/initialized").await?;
    let tools = session.call("tools/list", json!({})).await?;
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    println!("tools: {names:?}");
    if let Some(first) = names.first() {
        let result = session
            .call("tools/call", json!({"name": first, "arguments": {}}))
            .await?;
        println!("{first}: {}", result["content"]);
    }
    Ok(())
}

/// Stands in for the user's browser: requests the authorization URL and follows the
/// server's redirects to the loopback redirect URI, where the callback is waited for.
fn follow_as_browser(url: &url::Url) -> Result<(), tokensmith::Error> {
    let url = url.clone();
    tokio::spawn(async move {
        let browser = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build();
        if let Ok(browser) = browser
            && let Err(error) = browser.get(url).send().await
        {
            eprintln!("mcp_client: the sign-in page could not be followed: {error}");
        }
    });
    Ok(())
}

/// One MCP session over streamable HTTP.
struct Session {
    client: reqwest_middleware::ClientWithMiddleware,
    url: String,
    id: Option<String>,
    next: u64,
}

impl Session {
    async fn post(&mut self, body: Value) -> Result<reqwest::Response, Failure> {
        let mut request = self
            .client
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(id) = &self.id {
            request = request
                .header("mcp-session-id", id)
                .header("mcp-protocol-version", "2025-11-25");
        }
        let response = request.send().await?;
        if let Some(id) = response.headers().get("mcp-session-id") {
            self.id = Some(id.to_str()?.to_owned());
        }
        Ok(response)
    }

    /// A request, and its result (from a JSON body or the first event of a stream).
    async fn call(&mut self, method: &str, params: Value) -> Result<Value, Failure> {
        self.next += 1;
        let id = self.next;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self.post(body).await?;
        let status = response.status();
        let streamed = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.starts_with("text/event-stream"));
        let text = response.text().await?;
        if !status.is_success() {
            return Err(format!("{method}: the server answered {status}: {text}").into());
        }
        let message: Value = if streamed {
            text.lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
                .find(|m| m["id"] == id)
                .ok_or_else(|| format!("{method}: no answer in the event stream"))?
        } else {
            serde_json::from_str(&text)?
        };
        if let Some(error) = message.get("error") {
            return Err(format!("{method}: {error}").into());
        }
        Ok(message["result"].clone())
    }

    async fn notify(&mut self, method: &str) -> Result<(), Failure> {
        let response = self
            .post(json!({"jsonrpc": "2.0", "method": method}))
            .await?;
        if !response.status().is_success() {
            return Err(format!("{method}: the server answered {}", response.status()).into());
        }
        Ok(())
    }
}
