//! Answer variants as real servers send them, over the wire.

use std::time::{Duration, SystemTime};
use tokensmith_core::ErrorKind;
use tokensmith_core::RetryPolicy;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tokensmith_core::{ErrorCode, TokenSource};
use tokensmith_oauth2::{ClientAuth, ClientCredentials, GrantSource};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

async fn answering(template: ResponseTemplate) -> (MockServer, GrantSource) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(template)
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::Basic)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let source = ClientCredentials::new(endpoint)
        .scope(["a", "b"])
        .build_source();
    (server, source)
}

#[tokio::test]
async fn form_encoded_success_with_string_expiry_and_201() {
    let (_server, source) = answering(ResponseTemplate::new(201).set_body_raw(
        "access_token=abc&token_type=bearer&expires_in=120",
        "application/x-www-form-urlencoded",
    ))
    .await;
    let token = source.fetch().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "abc");
    assert_eq!(token.lifetime(), Some(Duration::from_secs(120)));
}

#[tokio::test]
async fn jwt_expiry_is_read_against_the_server_date() {
    let server_now = SystemTime::now() - Duration::from_secs(7200);
    let exp = server_now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let payload = URL_SAFE_NO_PAD.encode(json!({"exp": exp, "sub": "x"}).to_string());
    let jwt = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
    let (_server, source) = answering(
        ResponseTemplate::new(200)
            .insert_header("date", httpdate::fmt_http_date(server_now))
            .set_body_json(json!({"access_token": jwt, "token_type": "Bearer"})),
    )
    .await;
    let token = source.fetch().await.unwrap();
    let lifetime = token.lifetime().unwrap().as_secs();
    assert!(
        (599..=601).contains(&lifetime),
        "{lifetime}: the server clock is 2 h behind ours"
    );
}

#[tokio::test]
async fn an_error_in_a_200_answer_is_an_error() {
    let (_server, source) =
        answering(ResponseTemplate::new(200).set_body_json(json!({"error": "invalid_scope"})))
            .await;
    let err = source.fetch().await.unwrap_err();
    assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidScope);
    assert!(
        err.hint().unwrap().contains("`a b`"),
        "the hint quotes the scope sent: {err}"
    );
}

#[tokio::test]
async fn missing_grant_type_gets_the_form_body_hint() {
    let (_server, source) = answering(ResponseTemplate::new(400).set_body_json(json!({
        "error": "invalid_request", "error_description": "Missing parameter grant_type"
    })))
    .await;
    let err = source.fetch().await.unwrap_err();
    assert!(
        err.hint()
            .unwrap()
            .contains("application/x-www-form-urlencoded"),
        "{err}"
    );
    assert_eq!(err.status().unwrap().as_u16(), 400);
}

#[tokio::test]
async fn an_html_gateway_page_is_an_unexpected_response_with_excerpt() {
    let (server, source) = answering(ResponseTemplate::new(502).set_body_raw(
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        "text/html",
    ))
    .await;
    let err = source.fetch().await.unwrap_err();
    match err.kind() {
        ErrorKind::UnexpectedResponse(answer) => {
            assert_eq!(answer.status.as_u16(), 502);
            assert_eq!(answer.content_type.as_deref(), Some("text/html"));
            assert!(answer.excerpt.contains("502 Bad Gateway"));
            assert!(err.hint().unwrap().contains("usually temporary"), "{err}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn truncated_and_empty_bodies() {
    for (body, reason) in [(r#"{"access_token":"ab"#, "truncated"), ("", "empty")] {
        let (_server, source) =
            answering(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;
        let err = source.fetch().await.unwrap_err();
        assert!(err.to_string().contains(reason), "{err}");
    }
}

#[tokio::test]
async fn a_wrong_path_gets_the_url_hint() {
    let (_server, source) =
        answering(ResponseTemplate::new(404).set_body_raw("Not Found", "text/plain")).await;
    let err = source.fetch().await.unwrap_err();
    assert!(err.hint().unwrap().contains("wrong URL"), "{err}");
}

/// `expires_in` counts from when the server answered, some time after the request left: a slow
/// answer's token is counted from the request, so its life is never longer than the server's.
#[tokio::test]
async fn expires_in_counts_from_the_request_not_from_a_slow_answer() {
    let (_server, source) = answering(
        ResponseTemplate::new(200)
            .set_delay(Duration::from_millis(1500))
            .set_body_json(
                json!({"access_token": "slow", "token_type": "Bearer", "expires_in": 60}),
            ),
    )
    .await;
    let sent = tokio::time::Instant::now();
    let token = source.fetch().await.unwrap();
    let expires_at = token.expires_at().unwrap();
    assert!(
        expires_at <= sent + Duration::from_secs(60) + Duration::from_millis(200),
        "counted from the request: {:?} after it",
        expires_at - sent
    );
    assert!(
        token.expires_in().unwrap() <= Duration::from_millis(58_600),
        "the 1.5 s the answer took is already spent: {:?}",
        token.expires_in()
    );
}
