//! API calls: headers per request, RequestId, page sizes, 429 backoff, key scoping, canaries.

use std::time::Duration;

use tokensmith_avionte::{Tenant, documented_retry, testing};
use tokensmith_core::Backoff;
use tokensmith_core::RetryPolicy;
use tokensmith_reqwest::api::ApiErrorKind;
use tokensmith_testkit::{Endpoint, Fault, Target, TestServer, TraceCapture};

use crate::{avionte, builder};

fn status_429() -> Fault {
    Fault::Status {
        status: 429,
        content_type: "application/json".into(),
        body: r#"{"message":"Too Many Requests"}"#.into(),
        retry_after: None,
    }
}

#[tokio::test]
async fn every_call_carries_token_key_tenant_and_a_fresh_request_id() {
    let server = avionte().await;
    let client = builder(&server).build().unwrap();
    let talent = client
        .tenant(Tenant::front_office_id("42"))
        .talent(7)
        .await
        .unwrap();
    assert_eq!(
        (talent.id, talent.last_name.as_deref()),
        (7, Some("Number 7"))
    );
    let ids = client
        .tenant(Tenant::short_code("acme"))
        .talent_ids(3, 100)
        .await
        .unwrap();
    assert_eq!(ids.len(), 50);

    let api = server.requests_to(Endpoint::Api);
    assert_eq!(api.len(), 2);
    for request in &api {
        assert_eq!(request.header("authorization"), Some("Bearer [masked]"));
        assert_eq!(request.header("x-api-key"), Some("[masked]"));
        assert_eq!(request.header("accept"), Some("application/json"));
    }
    assert_eq!(api[0].header("frontofficetenantid"), Some("42"));
    assert_eq!(api[0].header("tenant"), None);
    assert_eq!(api[1].header("tenant"), Some("acme"));
    let ids: Vec<&str> = api.iter().map(|r| r.header("requestid").unwrap()).collect();
    assert_ne!(ids[0], ids[1], "a fresh RequestId per call");
    assert_eq!(ids[0].len(), 36);

    let chosen: serde_json::Value = client
        .tenant(Tenant::front_office_id("42"))
        .get("front-office/v1/talent/8", Some("my-request-id"))
        .await
        .unwrap();
    assert_eq!(chosen["id"], 8);
    assert_eq!(
        server.requests_to(Endpoint::Api)[2].header("requestid"),
        Some("my-request-id")
    );
}

#[tokio::test]
async fn page_sizes_over_100_are_refused_before_sending() {
    let server = avionte().await;
    let client = builder(&server).build().unwrap();
    let err = client
        .tenant(Tenant::front_office_id("1"))
        .talent_ids(1, 101)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidRequest, "{err}");
    assert_eq!(server.counters().api_requests, 0);
    let err = client
        .tenant(Tenant::front_office_id("1"))
        .talent(999_999)
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap().as_u16(), 404);
}

/// Avionté's documented schedule (5 s, 10 s, doubling, five tries), its delays scaled down a
/// hundredfold so that it runs on real time against a real socket; the cap on delays (and on
/// `Retry-After`) only tenfold, so that a 1 s `Retry-After` is honoured whole.
fn scaled_retry() -> RetryPolicy {
    let documented = RetryPolicy::default()
        .attempts(5)
        .backoff(Backoff::new(
            Duration::from_secs(5),
            Duration::from_secs(80),
        ))
        .max_retry_after(Duration::from_secs(80));
    assert_eq!(documented_retry(), documented);
    RetryPolicy::default()
        .attempts(5)
        .backoff(Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(800),
        ))
        .max_retry_after(Duration::from_secs(8))
}

#[tokio::test]
async fn rate_limited_calls_back_off_doubling() {
    let server = avionte().await;
    let client = builder(&server)
        .retry_on_rate_limit(scaled_retry())
        .build()
        .unwrap();
    let acme = client.tenant(Tenant::front_office_id("42"));
    acme.talent(1).await.unwrap();
    server.fail_next(Target::Api, 2, status_429());
    let started = std::time::Instant::now();
    acme.talent(2).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "50 ms then 100 ms: {:?}",
        started.elapsed()
    );
    assert_eq!(server.counters().api_requests, 4);

    server.fail_next(Target::Api, 1, Fault::too_many_requests(1));
    let started = std::time::Instant::now();
    acme.talent(3).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited < Duration::from_secs(10),
        "Retry-After wins over the 50 ms schedule: {waited:?}"
    );

    server.fail_next(Target::Api, 10, status_429());
    let limited = builder(&server)
        .retry_on_rate_limit(scaled_retry().attempts(3))
        .build()
        .unwrap();
    let before = server.counters().api_requests;
    let err = limited
        .tenant(Tenant::front_office_id("42"))
        .talent(4)
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap().as_u16(), 429);
    assert!(err.hint().unwrap().contains("rate limit"));
    assert_eq!(server.counters().api_requests - before, 3, "bounded tries");
}

#[tokio::test]
async fn the_rate_limit_spaces_calls() {
    let server = avionte().await;
    let client = builder(&server).rate_limit(2.0).build().unwrap();
    let acme = client.tenant(Tenant::front_office_id("42"));
    let started = std::time::Instant::now();
    for id in 1..=5 {
        acme.talent(id).await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "five calls at 2/s take 2 s: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_key_and_token_go_to_avionte_only_and_never_to_logs() {
    let capture = TraceCapture::global();
    let server = avionte().await;
    let elsewhere = TestServer::start().await.unwrap();
    let client = builder(&server).api_key(testing::API_KEY).build().unwrap();
    client
        .tenant(Tenant::front_office_id("42"))
        .talent(1)
        .await
        .unwrap();
    let _ = client
        .http()
        .get(elsewhere.url_of("/api/anything"))
        .send()
        .await
        .unwrap();
    let foreign = &elsewhere.requests()[0];
    assert_eq!(foreign.header("x-api-key"), None);
    assert_eq!(foreign.header("authorization"), None);

    let wrong = builder(&server)
        .api_key("canary-api-key-7c1")
        .build()
        .unwrap();
    let err = wrong
        .tenant(Tenant::front_office_id("42"))
        .talent(1)
        .await
        .unwrap_err();
    let token = client.provider().current().unwrap();
    let token = token.secret().expose_secret().to_owned();
    let texts = [
        format!("{err} {err:?}"),
        format!("{client:?} {wrong:?}"),
        capture.text(),
    ];
    for text in &texts {
        for canary in ["canary-api-key-7c1", testing::API_KEY, token.as_str()] {
            assert!(!text.contains(canary), "{canary} leaked: {text}");
        }
    }
}

#[tokio::test]
async fn a_403_after_a_token_was_issued_names_the_tenant_header_and_the_key() {
    let server = avionte().await;
    let client = builder(&server).build().unwrap();
    server.fail_next(
        Target::Api,
        1,
        Fault::Status {
            status: 403,
            content_type: "application/json".into(),
            body: r#"{"message":"Forbidden"}"#.into(),
            retry_after: None,
        },
    );
    let err = client
        .tenant(Tenant::front_office_id("wrong"))
        .talent(1)
        .await
        .unwrap_err();
    assert_eq!(err.status().unwrap().as_u16(), 403);
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("FrontOfficeTenantId") && hint.contains("x-api-key"),
        "{hint}"
    );
}
