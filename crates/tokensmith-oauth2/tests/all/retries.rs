//! Retries: transport failures, 5xx and 429 are retried within bounds; OAuth 4xx never.

use std::time::{Duration, Instant};
use tokensmith_core::ErrorKind;

use serde_json::json;
use tokensmith_core::TokenSource;
use tokensmith_oauth2::{ClientAuth, ClientCredentials, RefreshTokenGrant, TokenEndpoint};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

fn source(server: &MockServer, attempts: u32) -> tokensmith_oauth2::GrantSource {
    let endpoint = endpoint(server, ClientAuth::Basic)
        .retry(fast_retries(attempts))
        .build()
        .unwrap();
    ClientCredentials::new(endpoint).build_source()
}

#[tokio::test]
async fn a_503_then_success_is_retried_into_one_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_raw("busy", "text/plain"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("t", 60)))
        .mount(&server)
        .await;
    source(&server, 3).fetch().await.unwrap();
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn attempts_are_bounded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": "server_error"})))
        .mount(&server)
        .await;
    let err = source(&server, 3).fetch().await.unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(requests(&server).await.len(), 3);
}

#[tokio::test]
async fn oauth_client_errors_are_never_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"error": "unauthorized_client"})),
        )
        .mount(&server)
        .await;
    let err = source(&server, 5).fetch().await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(
        err.hint()
            .unwrap()
            .contains("grant_type=client_credentials")
    );
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured_up_to_the_cap() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "30"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("t", 60)))
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::Basic)
        .retry(fast_retries(2).max_retry_after(Duration::from_millis(300)))
        .build()
        .unwrap();
    let started = Instant::now();
    ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap();
    // The backoff alone would wait 5 ms; Retry-After (cut from 30 s to the cap) waits 300 ms.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(requests(&server).await.len(), 2);
}

/// The last answer's `Retry-After` stays on the error, for whoever schedules the next try (a
/// fleet sharing its backoff).
#[tokio::test]
async fn the_error_keeps_the_servers_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::Basic)
        .retry(fast_retries(1))
        .build()
        .unwrap();
    let err = client_credentials_error(endpoint).await;
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn single_use_grants_are_not_retried_after_the_server_saw_them() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::Basic).build().unwrap();
    let err = RefreshTokenGrant::new(endpoint, "rt")
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap().as_u16(), 503);
    assert_eq!(
        requests(&server).await.len(),
        1,
        "a 503 may have consumed the refresh token"
    );
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body("t", 60))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::Basic)
        .timeout(Duration::from_secs(20))
        .attempt_timeout(Duration::from_millis(200))
        .retry(fast_retries(2))
        .build()
        .unwrap();
    let err = client_credentials_error(endpoint).await;
    match err.kind() {
        ErrorKind::Timeout { after, .. } => assert_eq!(*after, Duration::from_millis(200)),
        other => panic!("{other:?}"),
    }
    assert!(err.hint().is_some());
    assert_eq!(requests(&server).await.len(), 2, "timeouts are retried");
}

#[tokio::test]
async fn the_timeout_bounds_the_whole_call_retries_included() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body("t", 60))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::Basic)
        .timeout(Duration::from_secs(2))
        .retry(fast_retries(3))
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let err = client_credentials_error(endpoint).await;
    // Per attempt, three attempts would have held the caller for 6 s and more.
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    match err.kind() {
        ErrorKind::Timeout { after, .. } => assert_eq!(*after, Duration::from_secs(2)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn connection_refused_is_a_transport_error_with_a_hint() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let endpoint = TokenEndpoint::builder(format!("http://127.0.0.1:{port}/token"))
        .client_id("id")
        .client_secret("s")
        .retry(fast_retries(2))
        .build()
        .unwrap();
    let err = client_credentials_error(endpoint).await;
    match err.kind() {
        ErrorKind::Transport { endpoint, .. } => {
            assert_eq!(endpoint, &format!("http://127.0.0.1:{port}/token"))
        }
        other => panic!("{other:?}"),
    }
    assert!(err.hint().unwrap().contains("reach"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}
