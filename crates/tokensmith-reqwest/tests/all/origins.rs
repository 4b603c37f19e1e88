//! Tokens and extra headers go to the allowed origins only.

use std::sync::Arc;

use tokensmith_core::StaticToken;
use tokensmith_reqwest::{BearerAuth, RequestAuth, RequestBuilderExt};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

async fn ok_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn only_allowed_origins_get_the_token_and_extra_headers() {
    let api = ok_server().await;
    let other = ok_server().await;
    let cache = cached_issuer();
    let client = client_with(
        BearerAuth::builder(provider(&cache))
            .for_origin(format!("{}/any/path/is/ignored", api.uri()))
            .header("x-api-key", "key-1"),
    );
    client
        .get(format!("{}/v1/things", api.uri()))
        .send()
        .await
        .unwrap();
    client
        .get(format!("{}/v1/things", other.uri()))
        .send()
        .await
        .unwrap();

    let seen = requests(&api).await;
    assert_eq!(authorization(&seen[0]).as_deref(), Some("Bearer token-1"));
    assert_eq!(seen[0].headers.get("x-api-key").unwrap(), "key-1");
    let seen = requests(&other).await;
    assert_eq!(authorization(&seen[0]), None);
    assert!(seen[0].headers.get("x-api-key").is_none());
    assert_eq!(fetches(&cache), 1);
}

#[tokio::test]
async fn building_without_an_origin_is_an_error_unless_any_is_named() {
    let provider: Arc<dyn tokensmith_core::TokenProvider> =
        Arc::new(StaticToken::bearer("t").unwrap());
    let err = BearerAuth::builder(Arc::clone(&provider))
        .build()
        .unwrap_err();
    assert!(
        err.hint().unwrap().contains("danger_allow_any_origin"),
        "{err}"
    );
    assert!(
        BearerAuth::builder(Arc::clone(&provider))
            .for_origin("not a url")
            .build()
            .is_err()
    );
    assert!(
        BearerAuth::builder(Arc::clone(&provider))
            .for_origin("data:text/plain,x")
            .build()
            .is_err()
    );
    assert!(
        BearerAuth::builder(Arc::clone(&provider))
            .for_origin("https://a")
            .header("bad name", "v")
            .build()
            .is_err()
    );

    let anywhere = ok_server().await;
    let client = client_with(BearerAuth::builder(provider).danger_allow_any_origin());
    client.get(anywhere.uri()).send().await.unwrap();
    assert_eq!(
        authorization(&requests(&anywhere).await[0]).as_deref(),
        Some("Bearer t")
    );
}

#[tokio::test]
async fn the_callers_authorization_is_kept_unless_replacing_is_asked() {
    let api = ok_server().await;
    let cache = cached_issuer();
    let keep = client_with(
        BearerAuth::builder(provider(&cache))
            .for_origin(api.uri())
            .header("x-api-key", "k"),
    );
    keep.get(api.uri())
        .header("authorization", "Basic mine")
        .send()
        .await
        .unwrap();
    let replace = client_with(
        BearerAuth::builder(provider(&cache))
            .for_origin(api.uri())
            .replace_existing_authorization(true),
    );
    replace
        .get(api.uri())
        .header("authorization", "Basic mine")
        .send()
        .await
        .unwrap();
    let seen = requests(&api).await;
    assert_eq!(authorization(&seen[0]).as_deref(), Some("Basic mine"));
    assert_eq!(
        seen[0].headers.get("x-api-key").unwrap(),
        "k",
        "extra headers still go"
    );
    assert_eq!(authorization(&seen[1]).as_deref(), Some("Bearer token-1"));
    assert_eq!(
        fetches(&cache),
        1,
        "no fetch for the request that kept its own header"
    );
}

#[tokio::test]
async fn a_request_can_skip_auth_or_name_another_provider() {
    let api = ok_server().await;
    let cache = cached_issuer();
    let client = client_with(
        BearerAuth::builder(provider(&cache))
            .for_origin(api.uri())
            .header("x-api-key", "k"),
    );
    client
        .get(api.uri())
        .with_extension(RequestAuth::Skip)
        .send()
        .await
        .unwrap();
    let other: Arc<dyn tokensmith_core::TokenProvider> =
        Arc::new(StaticToken::bearer("other").unwrap());
    client
        .get(api.uri())
        .with_extension(RequestAuth::With(other))
        .send()
        .await
        .unwrap();
    let seen = requests(&api).await;
    assert_eq!(authorization(&seen[0]), None);
    assert!(seen[0].headers.get("x-api-key").is_none());
    assert_eq!(authorization(&seen[1]).as_deref(), Some("Bearer other"));
    assert_eq!(fetches(&cache), 0);
}

#[tokio::test]
async fn plain_reqwest_builders_get_a_token_in_one_call() {
    let api = ok_server().await;
    let cache = cached_issuer();
    reqwest::Client::new()
        .get(api.uri())
        .bearer_from(&cache)
        .await
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(
        authorization(&requests(&api).await[0]).as_deref(),
        Some("Bearer token-1")
    );
}

#[tokio::test]
async fn the_api_key_and_token_never_show_in_debug_output() {
    let api = ok_server().await;
    let provider: Arc<dyn tokensmith_core::TokenProvider> =
        Arc::new(StaticToken::bearer("canary-token-71").unwrap());
    let builder = BearerAuth::builder(provider)
        .for_origin(api.uri())
        .header("x-api-key", "canary-key-93");
    let builder_text = format!("{builder:?}");
    let auth = builder.build().unwrap();
    let text = format!("{builder_text} {auth:?} {auth:#?} {:?}", RequestAuth::Skip);
    assert!(!text.contains("canary-"), "{text}");
    assert!(text.contains("x-api-key"));
}

#[tokio::test]
async fn plain_http_to_a_remote_host_needs_a_dangerous_opt_in() {
    let provider: Arc<dyn tokensmith_core::TokenProvider> =
        Arc::new(StaticToken::bearer("t").unwrap());
    let err = BearerAuth::builder(Arc::clone(&provider))
        .for_origin("http://api.example.com")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
    assert!(err.hint().unwrap().contains("danger_allow_insecure_http"));
    BearerAuth::builder(Arc::clone(&provider))
        .for_origin("http://api.example.com")
        .danger_allow_insecure_http()
        .build()
        .unwrap();
    for loopback in [
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://[::1]:9",
    ] {
        BearerAuth::builder(Arc::clone(&provider))
            .for_origin(loopback)
            .build()
            .unwrap_or_else(|e| panic!("{loopback}: {e}"));
    }

    // With any origin allowed, each request is checked; nothing is sent over plain http.
    let client = client_with(BearerAuth::builder(provider).danger_allow_any_origin());
    let err = client
        .get("http://api.example.invalid/orders")
        .send()
        .await
        .unwrap_err();
    let inner = tokensmith_reqwest::auth_error(&err).unwrap();
    assert!(inner.to_string().contains("plain http"), "{inner}");
}

#[tokio::test]
async fn the_plain_reqwest_extension_refuses_plain_http_elsewhere() {
    let provider = StaticToken::bearer("t").unwrap();
    let err = reqwest::Client::new()
        .get("http://api.example.invalid/orders")
        .bearer_from(&provider)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
    let api = ok_server().await;
    reqwest::Client::new()
        .get(api.uri())
        .bearer_from(&provider)
        .await
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(
        authorization(&requests(&api).await[0]).as_deref(),
        Some("Bearer t")
    );
}

#[test]
fn builder_debug_and_errors_show_no_user_info_or_query() {
    let provider: Arc<dyn tokensmith_core::TokenProvider> =
        Arc::new(StaticToken::bearer("t").unwrap());
    let builder = BearerAuth::builder(Arc::clone(&provider))
        .for_origin("https://user:canary-pw@api.example.com/v1?key=canary-q")
        .header("x-api-key", "canary-key");
    let text = format!("{builder:?}");
    assert!(!text.contains("canary"), "{text}");
    assert!(text.contains("https://api.example.com"), "{text}");
    let err = BearerAuth::builder(provider)
        .for_origin("https://bad host/?key=canary-q")
        .build()
        .unwrap_err();
    assert!(!err.to_string().contains("canary"), "{err}");
}
