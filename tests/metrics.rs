//! Metrics through the `metrics` facade: what a provider and the middleware record, with
//! bounded labels that name no secret. Its own test binary: it installs the global recorder.

use tokensmith::metrics::{
    CACHE_HITS, CACHE_MISSES, TOKEN_FETCH_DURATION, TOKEN_INVALIDATED, TOKEN_RETRIEVAL_FAILED,
    TOKEN_RETRIEVED, UNAUTHORIZED_RETRIES,
};
use tokensmith::oauth2::{ClientCredentials, TokenEndpoint};
use tokensmith::reqwest::BearerAuth;
use tokensmith::{Cached, RetryPolicy};
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, MetricsCapture, TestServer};

#[tokio::test]
async fn fetches_hits_failures_and_retries_are_counted_with_safe_labels() {
    let capture = MetricsCapture::global();
    let server = TestServer::start().await.unwrap();
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .build()
        .unwrap();
    let provider = Cached::builder(ClientCredentials::new(endpoint).build_source())
        .metrics_name("orders-api")
        .build()
        .unwrap();
    let labels = [("provider", "orders-api"), ("endpoint", "127.0.0.1")];
    let client = BearerAuth::builder(provider.clone())
        .for_origin(server.url())
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    for _ in 0..3 {
        let answer = client
            .get(server.url_of("/api/orders"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(capture.counter(TOKEN_RETRIEVED, &labels), 1);
    assert_eq!(
        capture.counter(
            CACHE_MISSES,
            &[("provider", "orders-api"), ("level", "memory")]
        ),
        1
    );
    assert!(
        capture.counter(
            CACHE_HITS,
            &[("provider", "orders-api"), ("level", "memory")]
        ) >= 2
    );
    assert_eq!(capture.histogram(TOKEN_FETCH_DURATION, &labels).len(), 1);

    // The server revokes the token: one invalidation, one retry, one more fetch.
    let token = provider.token().await.unwrap();
    server.revoke(token.secret().expose_secret());
    let answer = client
        .get(server.url_of("/api/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(capture.counter(TOKEN_INVALIDATED, &labels), 1);
    assert_eq!(
        capture.counter(UNAUTHORIZED_RETRIES, &[("layer", "reqwest")]),
        1
    );
    assert_eq!(capture.counter(TOKEN_RETRIEVED, &labels), 2);

    // A failure is counted by kind; no label holds the secret or the full URL.
    let wrong = TokenEndpoint::builder(format!("{}?tenant=canary-query", server.token_url()))
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret("canary-metrics-secret")
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let failing = Cached::builder(ClientCredentials::new(wrong).build_source())
        .metrics_name("failing")
        .build()
        .unwrap();
    assert!(failing.token().await.is_err());
    assert_eq!(
        capture.counter(
            TOKEN_RETRIEVAL_FAILED,
            &[("provider", "failing"), ("kind", "oauth")]
        ),
        1
    );
    let text = capture.text();
    assert!(!text.contains("canary"), "{text}");
    assert!(!text.contains(&server.token_url()), "hosts only: {text}");
}
