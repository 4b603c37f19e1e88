//! 401 answers: one invalidate, one retry, never a loop.

use std::sync::Arc;

use tokensmith_core::StaticToken;
use tokensmith_reqwest::BearerAuth;
use wiremock::matchers::{any, header};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// Rejects `token-1`, accepts anything else.
async fn rejecting_first_token() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(header("authorization", "Bearer token-1"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer error=\"invalid_token\""),
        )
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_401_invalidates_once_and_retries_once() {
    let api = rejecting_first_token().await;
    let cache = cached_issuer();
    let client = client_with(BearerAuth::builder(provider(&cache)).for_origin(api.uri()));
    let response = client.post(api.uri()).body("payload").send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let seen = requests(&api).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(authorization(&seen[1]).as_deref(), Some("Bearer token-2"));
    assert_eq!(seen[1].body, b"payload", "the body was replayed");
    assert_eq!(cache.stats().invalidations, 1);
    assert_eq!(fetches(&cache), 2);
}

#[tokio::test]
async fn a_hundred_concurrent_401s_cause_one_refetch() {
    let api = rejecting_first_token().await;
    let cache = cached_issuer();
    let client = client_with(BearerAuth::builder(provider(&cache)).for_origin(api.uri()));
    // Warm the cache with token-1 so every request below goes out with it.
    assert!(cache.token().await.is_ok());
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            let url = api.uri();
            tokio::spawn(async move { client.get(url).send().await.unwrap().status().as_u16() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(
        fetches(&cache),
        2,
        "one fetch for token-1, one refetch for all 100"
    );
    assert_eq!(cache.stats().invalidations, 1);
}

#[tokio::test]
async fn a_second_401_is_returned_not_retried() {
    let api = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401))
        .mount(&api)
        .await;
    let cache = cached_issuer();
    let client = client_with(BearerAuth::builder(provider(&cache)).for_origin(api.uri()));
    let response = client.get(api.uri()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(requests(&api).await.len(), 2);
    assert_eq!(fetches(&cache), 2);
}

#[tokio::test]
async fn a_body_that_cannot_be_replayed_is_not_retried() {
    let api = rejecting_first_token().await;
    let cache = cached_issuer();
    let client = client_with(BearerAuth::builder(provider(&cache)).for_origin(api.uri()));
    let streaming = reqwest::Body::wrap(String::from("streamed payload"));
    let response = client.post(api.uri()).body(streaming).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(requests(&api).await.len(), 1);
    assert_eq!(
        cache.stats().invalidations,
        1,
        "the token is still dropped for next time"
    );
}

#[tokio::test]
async fn a_static_token_is_not_retried_after_401() {
    let api = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401))
        .mount(&api)
        .await;
    let provider: Arc<dyn tokensmith_core::TokenProvider> =
        Arc::new(StaticToken::bearer("fixed").unwrap());
    let client = client_with(BearerAuth::builder(provider).for_origin(api.uri()));
    assert_eq!(
        client
            .get(api.uri())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(
        requests(&api).await.len(),
        1,
        "the same token would fail the same way"
    );
}

#[tokio::test]
async fn a_server_that_refuses_every_token_costs_a_bounded_number_of_fetches() {
    let api = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401))
        .mount(&api)
        .await;
    let cache = cached_issuer();
    let client = client_with(BearerAuth::builder(provider(&cache)).for_origin(api.uri()));
    let mut unauthorized = 0;
    for _ in 0..10 {
        match client.get(api.uri()).send().await {
            Ok(response) => {
                assert_eq!(response.status().as_u16(), 401);
                unauthorized += 1;
            }
            Err(err) => {
                let inner = tokensmith_reqwest::auth_error(&err).unwrap();
                assert!(inner.to_string().contains("rejected"), "{inner}");
            }
        }
    }
    assert!(fetches(&cache) <= 3, "{} fetches", fetches(&cache));
    assert!(unauthorized >= 2);
}

#[tokio::test]
async fn a_mock_with_only_expect_token_works_behind_the_middleware() {
    let api = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    let mut mock = tokensmith_core::MockTokenProvider::new();
    mock.expect_token()
        .times(2)
        .returning(|| tokensmith_core::AccessToken::bearer("mocked"));
    let client = client_with(BearerAuth::builder(Arc::new(mock)).for_origin(api.uri()));
    for _ in 0..2 {
        client.get(api.uri()).send().await.unwrap();
    }
    let seen = requests(&api).await;
    assert_eq!(authorization(&seen[1]).as_deref(), Some("Bearer mocked"));
}
