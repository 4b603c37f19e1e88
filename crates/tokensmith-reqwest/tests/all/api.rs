//! The API client layer against a server on 127.0.0.1: joins under a prefix, retries that
//! honour `Retry-After`, capped answers, vendor payloads and hints, the client-side rate limit.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use serde::Deserialize;
use tokensmith_core::RetryPolicy;
use tokensmith_core::{Backoff, StaticToken};
use tokensmith_reqwest::api::{ApiClient, ApiErrorKind, ApiVendor, Opaque};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{authorization, requests};

#[derive(Debug, Deserialize, PartialEq)]
struct Item {
    id: u64,
}

#[derive(Debug)]
struct Code(String);

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.0)
    }
}

/// A vendor whose errors read `{"code": "..."}`.
struct Shop;

impl ApiVendor for Shop {
    type Payload = Code;

    fn name(&self) -> &'static str {
        "Shop"
    }

    fn payload(&self, _: StatusCode, body: &[u8]) -> Option<Code> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        Some(Code(value.get("code")?.as_str()?.to_owned()))
    }

    fn hint(&self, _: StatusCode, payload: Option<&Code>) -> Option<String> {
        (payload?.0 == "item.unknown").then(|| "check the item id".to_owned())
    }
}

fn fast_retry(tries: u32) -> RetryPolicy {
    RetryPolicy::default()
        .attempts(tries)
        .backoff(Backoff::new(
            Duration::from_millis(50),
            Duration::from_millis(400),
        ))
        .max_retry_after(Duration::from_secs(3))
}

fn shop(server: &MockServer, retry: RetryPolicy) -> ApiClient<Shop> {
    ApiClient::builder(
        format!("{}/tenant-7", server.uri()),
        StaticToken::bearer("tok-1").unwrap(),
    )
    .vendor(Shop)
    .header("x-api-key", "key-1")
    .retry(retry)
    .build()
    .unwrap()
}

#[tokio::test]
async fn calls_join_under_the_prefix_with_token_key_and_accept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/tenant-7/v1/items/3"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":3}"#))
        .mount(&server)
        .await;
    let client = shop(&server, RetryPolicy::none());
    let item: Item = client.get_json("/v1/items/3").await.unwrap();
    assert_eq!(item, Item { id: 3 });
    let seen = &requests(&server).await[0];
    assert_eq!(authorization(seen).as_deref(), Some("Bearer tok-1"));
    assert_eq!(seen.headers["x-api-key"], "key-1");
    assert_eq!(seen.headers["accept"], "application/json");

    let err = client.get_json::<Item>("../admin").await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::InvalidRequest, "{err}");
    assert_eq!(requests(&server).await.len(), 1, "refused before sending");
}

#[tokio::test]
async fn error_answers_carry_the_vendor_payload_or_a_scrubbed_excerpt() {
    let server = MockServer::start().await;
    Mock::given(path("/tenant-7/v1/items/9"))
        .respond_with(ResponseTemplate::new(404).set_body_string(r#"{"code":"item.unknown"}"#))
        .mount(&server)
        .await;
    Mock::given(path("/tenant-7/v1/broken"))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_string("<html>gateway access_token=canary-tok-9 down</html>"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/tenant-7/v1/not-json"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"id\":"))
        .mount(&server)
        .await;
    let client = shop(&server, RetryPolicy::none());
    let err = client.get_json::<Item>("v1/items/9").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(err.payload().unwrap().0, "item.unknown");
    assert_eq!(err.hint(), Some("check the item id"));
    assert_eq!(
        err.to_string(),
        "Shop answered HTTP 404: `item.unknown` (hint: check the item id)"
    );

    let err = client.get_json::<Item>("v1/broken").await.unwrap_err();
    assert!(err.payload().is_none() && err.is_retryable());
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("gateway") && !text.contains("canary"),
        "{text}"
    );

    let err = client.get_json::<Item>("v1/not-json").await.unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Decode, "{err}");
}

#[tokio::test]
async fn answers_over_the_cap_are_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(4096)))
        .mount(&server)
        .await;
    let client = ApiClient::builder(server.uri(), StaticToken::bearer("t").unwrap())
        .max_response_bytes(1024)
        .build()
        .unwrap();
    let err = client
        .send(client.request(reqwest::Method::GET, "big").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ApiErrorKind::Decode);
    assert!(err.to_string().contains("larger than 1024 bytes"), "{err}");
}

#[tokio::test]
async fn rate_limited_answers_are_retried_honouring_retry_after_in_seconds_and_dates() {
    let server = MockServer::start().await;
    Mock::given(path("/tenant-7/v1/items/1"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    // Three seconds on: an HTTP date has whole seconds, so it names a moment 2 to 3 s away.
    let in_three_seconds = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3));
    Mock::given(path("/tenant-7/v1/items/2"))
        .respond_with(
            ResponseTemplate::new(503).insert_header("retry-after", in_three_seconds.as_str()),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/tenant-7/v1/items/3"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/tenant-7/v1/items/4"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    Mock::given(path("/tenant-7/v1/items/5"))
        .respond_with(ResponseTemplate::new(429))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"id":0}"#))
        .mount(&server)
        .await;
    let client = shop(&server, fast_retry(3));

    // Two 429s without Retry-After: the backoff's 50 ms and 100 ms.
    let started = Instant::now();
    client.get_json::<Item>("v1/items/1").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    // A 503 with an HTTP date: waits until then (2 to 3 s after the date was written, less
    // the time the calls before it took: at least 1 s).
    let started = Instant::now();
    client.get_json::<Item>("v1/items/2").await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1000) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    // Retry-After in seconds wins over the backoff.
    let started = Instant::now();
    client.get_json::<Item>("v1/items/3").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // A 503 without Retry-After is an answer, not a retry.
    let before = requests(&server).await.len();
    let err = client.get_json::<Item>("v1/items/4").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(requests(&server).await.len() - before, 1);
    // Tries are bounded.
    let before = requests(&server).await.len();
    let err = client.get_json::<Item>("v1/items/5").await.unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::TOO_MANY_REQUESTS));
    assert!(err.is_retryable());
    assert_eq!(requests(&server).await.len() - before, 3);
}

#[tokio::test]
async fn a_long_retry_after_is_capped() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;
    let client = ApiClient::builder(server.uri(), StaticToken::bearer("t").unwrap())
        .retry(fast_retry(2).max_retry_after(Duration::from_millis(300)))
        .build()
        .unwrap();
    let started = Instant::now();
    let _: serde_json::Value = client.get_json("slow").await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(30),
        "{waited:?}"
    );
}

#[cfg(feature = "rate-limit")]
#[tokio::test]
async fn the_rate_limit_spaces_request_starts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .mount(&server)
        .await;
    let client = ApiClient::builder(server.uri(), StaticToken::bearer("t").unwrap())
        .vendor(Opaque::new("Bulk"))
        .rate_limit(10.0)
        .build()
        .unwrap();
    let started = Instant::now();
    for _ in 0..6 {
        let _: serde_json::Value = client.get_json("x").await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    assert!(
        ApiClient::builder(server.uri(), StaticToken::bearer("t").unwrap())
            .rate_limit(0.0)
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn the_api_key_goes_to_the_base_origin_only() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    for s in [&server, &elsewhere] {
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
            .mount(s)
            .await;
    }
    let client = shop(&server, RetryPolicy::none());
    client
        .http()
        .get(format!("{}/x", elsewhere.uri()))
        .send()
        .await
        .unwrap();
    let foreign = &requests(&elsewhere).await[0];
    assert!(foreign.headers.get("x-api-key").is_none());
    assert!(authorization(foreign).is_none());
    let text = format!("{client:?}");
    assert!(!text.contains("key-1") && !text.contains("tok-1"), "{text}");
}
