//! The token request's wire format, and a wrong API key.

use tokensmith_avionte::{AvionteClient, DEFAULT_SCOPE, Tenant, testing};
use tokensmith_testkit::{ClientConfig, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint};

use crate::{avionte, builder};

#[tokio::test]
async fn the_token_request_carries_the_key_scope_and_body_credentials() {
    // The server accepts only the documented scope, so success shows it was the one sent.
    let server = testing::server()
        .client(
            ClientConfig::confidential(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
                .body_only()
                .scopes([DEFAULT_SCOPE]),
        )
        .start()
        .await
        .unwrap();
    let client = builder(&server).build().unwrap();
    client
        .tenant(Tenant::front_office_id("42"))
        .talent(7)
        .await
        .unwrap();
    let other_scope = builder(&server).scope("something.else").build().unwrap();
    let err = other_scope
        .tenant(Tenant::front_office_id("42"))
        .talent(7)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid_scope"), "{err}");
    let requests = server.requests_to(Endpoint::Token);
    assert_eq!(requests.len(), 2);
    let token = &requests[0];
    assert_eq!(
        (token.method.as_str(), token.path.as_str()),
        ("POST", "/authorize/token")
    );
    assert_eq!(
        token.form_keys,
        ["grant_type", "scope", "client_id", "client_secret"]
    );
    assert!(token.query_keys.is_empty());
    assert_eq!(token.header("x-api-key"), Some("[masked]"));
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(token.header("accept"), Some("application/json"));
    assert_eq!(
        token.header("authorization"),
        None,
        "credentials in the body, not Basic"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_api_key_is_a_typed_error_with_a_hint() {
    let server = avionte().await;
    let wrong = builder(&server).api_key("not-the-key").build().unwrap();
    let err = wrong
        .tenant(Tenant::short_code("acme"))
        .talent(1)
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    assert!(err.hint().unwrap().contains("x-api-key"), "{err}");
    assert_eq!(server.counters().api_requests, 0);

    let err = AvionteClient::builder()
        .client("id", "s")
        .base_url(server.url())
        .build()
        .unwrap_err();
    assert!(err.hint().unwrap().contains("api_key"));
}
