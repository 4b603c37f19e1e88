//! Client authentication styles, byte for byte, and auto-detection.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use tokensmith_core::{ErrorCode, TokenSource};
use tokensmith_oauth2::{ClientAuth, ClientCredentials, RefreshTokenGrant, TokenEndpoint};
use wiremock::matchers::{body_string_contains, header_exists, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const ODD_ID: &str = "id:with+odd&chars";
const ODD_SECRET: &str = "p:a+s%s&w=o/r d é";

async fn accepting_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("t", 60)))
        .mount(&server)
        .await;
    server
}

async fn fetch_with(server: &MockServer, auth: ClientAuth) -> wiremock::Request {
    let endpoint = TokenEndpoint::builder(format!("{}/token", server.uri()))
        .client_id(ODD_ID)
        .client_secret(ODD_SECRET)
        .auth(auth)
        .build()
        .unwrap();
    ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap();
    requests(server).await.pop().unwrap()
}

fn basic_decoded(request: &wiremock::Request) -> String {
    let value = header(request, "authorization").unwrap();
    let encoded = value.strip_prefix("Basic ").unwrap();
    String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap()
}

#[tokio::test]
async fn basic_form_encodes_id_and_secret_per_rfc_6749_2_3_1() {
    let server = accepting_server().await;
    let request = fetch_with(&server, ClientAuth::Basic).await;
    assert_eq!(
        basic_decoded(&request),
        "id%3Awith%2Bodd%26chars:p%3Aa%2Bs%25s%26w%3Do%2Fr+d+%C3%A9"
    );
    assert_eq!(
        String::from_utf8(request.body).unwrap(),
        "grant_type=client_credentials"
    );
}

#[tokio::test]
async fn basic_unencoded_sends_the_raw_pair() {
    let server = accepting_server().await;
    let request = fetch_with(&server, ClientAuth::BasicUnencoded).await;
    assert_eq!(basic_decoded(&request), format!("{ODD_ID}:{ODD_SECRET}"));
}

#[tokio::test]
async fn request_body_sends_both_as_form_parameters() {
    let server = accepting_server().await;
    let request = fetch_with(&server, ClientAuth::RequestBody).await;
    assert!(header(&request, "authorization").is_none());
    assert_eq!(
        String::from_utf8(request.body).unwrap(),
        "grant_type=client_credentials&client_id=id%3Awith%2Bodd%26chars\
         &client_secret=p%3Aa%2Bs%25s%26w%3Do%2Fr+d+%C3%A9"
    );
}

#[tokio::test]
async fn a_public_client_sends_only_its_id() {
    let server = accepting_server().await;
    let endpoint = TokenEndpoint::builder(format!("{}/token", server.uri()))
        .client_id("public-app")
        .auth(ClientAuth::None)
        .build()
        .unwrap();
    ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap();
    let request = requests(&server).await.pop().unwrap();
    assert!(header(&request, "authorization").is_none());
    assert_eq!(
        String::from_utf8(request.body).unwrap(),
        "grant_type=client_credentials&client_id=public-app"
    );
}

/// A server that refuses Basic and accepts credentials in the body.
async fn body_only_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(header_exists("authorization"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Basic realm=\"x\"")
                .set_body_json(json!({"error": "invalid_client"})),
        )
        .mount(&server)
        .await;
    Mock::given(body_string_contains("client_secret=s3cret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("t", 60)))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn auto_detect_falls_back_to_the_body_once_and_remembers() {
    let server = body_only_server().await;
    let endpoint = endpoint(&server, ClientAuth::AutoDetect).build().unwrap();
    let source = ClientCredentials::new(endpoint.clone()).build_source();
    source.fetch().await.unwrap();
    assert_eq!(requests(&server).await.len(), 2, "Basic, then body");
    assert_eq!(endpoint.learned_auth(), Some(ClientAuth::RequestBody));
    source.fetch().await.unwrap();
    let received = requests(&server).await;
    assert_eq!(received.len(), 3, "the learned style is used straight away");
    assert!(header(&received[2], "authorization").is_none());
}

#[tokio::test]
async fn auto_detect_reports_both_answers_when_both_fail() {
    let server = MockServer::start().await;
    Mock::given(header_exists("authorization"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"error": "invalid_client", "error_description": "bad basic"}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_client", "error_description": "bad body"})),
        )
        .mount(&server)
        .await;
    let source = ClientCredentials::new(endpoint(&server, ClientAuth::AutoDetect).build().unwrap())
        .build_source();
    let err = source.fetch().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("bad basic") && text.contains("bad body"),
        "{text}"
    );
    assert!(
        err.hint()
            .unwrap()
            .contains("client id or secret is most likely wrong")
    );
    assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidClient);
    assert_eq!(requests(&server).await.len(), 2);
}

#[tokio::test]
async fn auto_detect_never_probes_with_a_single_use_grant() {
    let server = body_only_server().await;
    let endpoint = endpoint(&server, ClientAuth::AutoDetect).build().unwrap();
    let source = RefreshTokenGrant::new(endpoint, "rt-once").build_source();
    let err = source.fetch().await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(
        requests(&server).await.len(),
        1,
        "the refresh token was sent once"
    );
}

#[tokio::test]
async fn invalid_client_names_the_other_style() {
    let server = body_only_server().await;
    let source = ClientCredentials::new(endpoint(&server, ClientAuth::Basic).build().unwrap())
        .build_source();
    let err = source.fetch().await.unwrap_err();
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("client_secret_basic")
            && hint.contains("ClientAuth::RequestBody")
            && hint.contains("AutoDetect"),
        "{hint}"
    );
    assert_eq!(requests(&server).await.len(), 1, "401 is not retried");
}
