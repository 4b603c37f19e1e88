//! End to end against the embedded server: a real token endpoint and a protected API.

use std::sync::Arc;

use tokensmith_core::{ExposeSecret, TokenProvider};
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
