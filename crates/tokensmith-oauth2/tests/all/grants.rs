//! Each grant's wire format, and refresh-token handling.

use serde_json::json;
use tokensmith_core::{ErrorCode, TokenSource};
use tokensmith_oauth2::{ClientAuth, ClientCredentials, Password, RefreshTokenGrant};
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

#[tokio::test]
async fn client_credentials_sends_exactly_the_documented_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("at-1", 3600)))
        .mount(&server)
        .await;
    let provider = ClientCredentials::new(endpoint(&server, ClientAuth::Basic).build().unwrap())
        .scope(["orders.read", "orders.write"])
        .resource("https://api.example/")
        .audience("api://x")
        .build();
    let token = provider.token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "at-1");
    provider.token().await.unwrap();

    let received = requests(&server).await;
    assert_eq!(
        received.len(),
        1,
        "the second call is served from the cache"
    );
    let request = &received[0];
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.query(), None, "nothing in the query string");
    assert_eq!(
        header(request, "content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        header(request, "accept").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        header(request, "authorization").as_deref(),
        Some("Basic Y2xpZW50LTE6czNjcmV0"),
        "base64 of client-1:s3cret"
    );
    assert_eq!(
        String::from_utf8(request.body.clone()).unwrap(),
        "grant_type=client_credentials&scope=orders.read+orders.write\
         &resource=https%3A%2F%2Fapi.example%2F&audience=api%3A%2F%2Fx"
    );
}

#[tokio::test]
async fn password_grant_then_refresh_with_rotation() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("grant_type=password"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-1", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "rt-1"
        })))
        .mount(&server)
        .await;
    Mock::given(body_string_contains("refresh_token=rt-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-2", "expires_in": 3600, "refresh_token": "rt-2"
        })))
        .mount(&server)
        .await;
    Mock::given(body_string_contains("refresh_token=rt-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "at-3", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::RequestBody).build().unwrap();
    let source = Password::new(endpoint, "alice@example.com", "p@ss w:rd")
        .scope(["read"])
        .build_source();

    assert_eq!(
        source.fetch().await.unwrap().secret().expose_secret(),
        "at-1"
    );
    assert_eq!(source.refresh_token().unwrap().expose_secret(), "rt-1");
    assert_eq!(
        source.fetch().await.unwrap().secret().expose_secret(),
        "at-2"
    );
    assert_eq!(
        source.refresh_token().unwrap().expose_secret(),
        "rt-2",
        "rotated"
    );
    assert_eq!(
        source.fetch().await.unwrap().secret().expose_secret(),
        "at-3"
    );
    assert_eq!(
        source.refresh_token().unwrap().expose_secret(),
        "rt-2",
        "kept when not rotated"
    );

    let received = requests(&server).await;
    assert_eq!(
        form(&received[0]),
        [
            ("grant_type", "password"),
            ("username", "alice@example.com"),
            ("password", "p@ss w:rd"),
            ("scope", "read"),
            ("client_id", "client-1"),
            ("client_secret", "s3cret"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
    assert_eq!(
        form_value(&received[1], "grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_eq!(
        form_value(&received[2], "refresh_token").as_deref(),
        Some("rt-2")
    );
}

#[tokio::test]
async fn a_dead_refresh_token_falls_back_to_the_original_grant() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&server)
        .await;
    Mock::given(body_string_contains("grant_type=password"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "fresh", "expires_in": 60, "refresh_token": "rt-new"
        })))
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::Basic).build().unwrap();
    let source = Password::new(endpoint, "alice", "pw")
        .build_source()
        .with_refresh_token("rt-dead".into());
    let token = source.fetch().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "fresh");
    assert_eq!(source.refresh_token().unwrap().expose_secret(), "rt-new");
    assert_eq!(
        requests(&server).await.len(),
        2,
        "one refresh, one password grant, no retry"
    );
}

#[tokio::test]
async fn a_refresh_only_source_reports_the_dead_token_with_a_hint() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_grant", "error_description": "expired"})),
        )
        .mount(&server)
        .await;
    let source = RefreshTokenGrant::new(
        endpoint(&server, ClientAuth::Basic).build().unwrap(),
        "rt-old",
    )
    .build_source();
    let err = source.fetch().await.unwrap_err();
    assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidGrant);
    assert!(err.hint().unwrap().contains("sign in again"), "{err}");
    assert!(
        source.refresh_token().is_none(),
        "the dead token is dropped"
    );
    let err = source.fetch().await.unwrap_err();
    assert!(err.hint().unwrap().contains("sign in again"));
    assert_eq!(
        requests(&server).await.len(),
        1,
        "no request without a refresh token"
    );
}

#[tokio::test]
async fn client_credentials_answers_with_a_refresh_token_use_it_next() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("grant_type=client_credentials"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "a1", "expires_in": 60, "refresh_token": "r1"
        })))
        .mount(&server)
        .await;
    Mock::given(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "a2"})))
        .mount(&server)
        .await;
    let source = ClientCredentials::new(endpoint(&server, ClientAuth::Basic).build().unwrap())
        .build_source();
    source.fetch().await.unwrap();
    assert_eq!(source.fetch().await.unwrap().secret().expose_secret(), "a2");
}

#[test]
fn a_grant_s_identity_names_what_makes_its_tokens_differ_and_hides_its_secrets() {
    use tokensmith_core::TokenSource;
    use tokensmith_oauth2::Password;

    let endpoint = |secret: &str| {
        tokensmith_oauth2::TokenEndpoint::builder("https://auth.example/token?key=canary-q")
            .client_id("app")
            .client_secret(secret)
            .build()
            .unwrap()
    };
    let id = |secret: &str, scopes: &[&str]| {
        ClientCredentials::new(endpoint(secret))
            .scope(scopes.iter().copied())
            .build_source()
            .identity()
            .unwrap()
    };
    assert_eq!(id("s1", &["b", "a"]), id("s1", &["a b"]), "scopes sorted");
    assert_ne!(id("s1", &["a"]), id("s2", &["a"]), "the secret counts");
    assert_ne!(id("s1", &["a"]), id("s1", &["a", "b"]));
    let parts: Vec<(String, String)> = id("canary-secret-9", &["a"])
        .parts()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let text = format!("{parts:?} {:?}", id("canary-secret-9", &["a"]));
    assert!(!text.contains("canary"), "{text}");
    assert!(text.contains("client_credentials") && text.contains("https://auth.example/token"));
    let alice = Password::new(endpoint("s"), "alice", "canary-pw")
        .build_source()
        .identity()
        .unwrap();
    let bob = Password::new(endpoint("s"), "bob", "canary-pw")
        .build_source()
        .identity()
        .unwrap();
    assert_ne!(alice, bob, "the user counts");
    assert!(!format!("{alice:?}").contains("canary-pw"));
}
