//! End to end against the embedded server: a real token endpoint and a protected API.

use std::sync::Arc;

use tokensmith_core::TokenProvider;
use tokensmith_oauth2::ClientCredentials;
use tokensmith_reqwest::BearerAuth;
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, TestServer};

use crate::support::client_with;

#[tokio::test]
async fn a_revoked_token_is_replaced_transparently() {
    let server = TestServer::start().await.unwrap();
    let provider =
        ClientCredentials::basic(server.token_url(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
            .unwrap()
            .build();
    let shared: Arc<dyn TokenProvider> = Arc::new(provider.clone());
    let client = client_with(BearerAuth::builder(shared).for_origin(server.url()));
    assert_eq!(
        client
            .get(server.url_of("/api/a"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let token = provider.token().await.unwrap();
    server.revoke(token.secret().expose_secret());
    assert_eq!(
        client
            .get(server.url_of("/api/a"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let counters = server.counters();
    assert_eq!((counters.token_requests, counters.api_rejections), (2, 1));
}

#[tokio::test]
async fn one_client_calls_with_the_scopes_each_request_needs() {
    use tokensmith_core::TokenManager;
    use tokensmith_reqwest::RequestAuth;

    let server = TestServer::start().await.unwrap();
    let token_url = server.token_url();
    // One cache per scope set, made on first use.
    let manager = Arc::new(TokenManager::new(move |scope: &String| {
        Ok(
            ClientCredentials::basic(&token_url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)?
                .scope([scope.as_str()])
                .build(),
        )
    }));
    let client = client_with(
        BearerAuth::builder(manager.provider("default".into())).for_origin(server.url()),
    );
    let scope_seen = |auth: RequestAuth| {
        let request = client.get(server.url_of("/api/echo")).with_extension(auth);
        async move {
            let body = request.send().await.unwrap().bytes().await.unwrap();
            let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
            echo["scope"].as_str().unwrap_or("").to_owned()
        }
    };
    for _ in 0..3 {
        assert_eq!(
            scope_seen(RequestAuth::With(manager.provider("orders.read".into()))).await,
            "orders.read"
        );
        assert_eq!(
            scope_seen(RequestAuth::With(manager.provider("orders.write".into()))).await,
            "orders.write"
        );
    }
    assert_eq!(manager.len(), 2);
    assert_eq!(
        server.counters().token_requests,
        2,
        "one token per scope set, then hits"
    );
}
