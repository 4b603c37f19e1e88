//! The generic Basic-client vendor (Deyel style) end to end.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use tokensmith_core::{ErrorCode, ExposeSecret, TokenSource};
use tokensmith_oauth2::BasicClient;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::requests;

const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";

#[tokio::test]
async fn client_credentials_with_basic_authentication() {
    let server = MockServer::start().await;
    let basic = format!("Basic {}", STANDARD.encode("deyel-app:deyel-secret"));
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(header("authorization", basic.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": JWT, "token_type": "Bearer", "expires_in": 86400
        })))
        .mount(&server)
        .await;
    let vendor =
        BasicClient::new(format!("{}/", server.uri()), "deyel-app", "deyel-secret").unwrap();
    let provider = vendor.client_credentials().build();
    let token = provider.token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), JWT);
    assert_eq!(token.lifetime().unwrap().as_secs(), 86400);
    let received = requests(&server).await;
    assert_eq!(
        String::from_utf8(received[0].body.clone()).unwrap(),
        "grant_type=client_credentials"
    );
}

#[tokio::test]
async fn non_standard_errors_are_understood() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error_description": "Invalid client_id", "error": "Invalid_request"
        })))
        .mount(&server)
        .await;
    let vendor = BasicClient::new(server.uri(), "wrong", "x").unwrap();
    let err = vendor
        .client_credentials()
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    let oauth = err.oauth().unwrap();
    assert_eq!(oauth.code, ErrorCode::InvalidRequest);
    assert_eq!(oauth.original_code, "Invalid_request");
    assert_eq!(oauth.description.as_deref(), Some("Invalid client_id"));
}

#[tokio::test]
async fn password_then_refresh_keeps_the_refresh_token_and_recovers_from_its_loss() {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("grant_type=password"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "a1", "token_type": "Bearer", "expires_in": 86400, "refresh_token": "r-same"
        })))
        .mount(&server)
        .await;
    Mock::given(body_string_contains("refresh_token=r-same"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "a2", "token_type": "Bearer", "expires_in": 86400, "refresh_token": "r-same"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{"message": "Invalid refresh token.", "attribute-name": "refresh_token"}]
        })))
        .mount(&server)
        .await;
    let vendor = BasicClient::new(server.uri(), "app", "secret").unwrap();
    let source = vendor.password("alice", "pw").build_source();
    assert_eq!(source.fetch().await.unwrap().secret().expose_secret(), "a1");
    assert_eq!(source.fetch().await.unwrap().secret().expose_secret(), "a2");
    assert_eq!(source.refresh_token().unwrap().expose_secret(), "r-same");
    // The refresh token is now refused in the `errors` shape: back to the password grant.
    assert_eq!(source.fetch().await.unwrap().secret().expose_secret(), "a1");
    let grants: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| crate::support::form_value(r, "grant_type").unwrap())
        .collect();
    assert_eq!(
        grants,
        ["password", "refresh_token", "refresh_token", "password"]
    );
}
