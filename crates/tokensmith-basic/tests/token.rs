//! The generic Basic-client vendor (Deyel style) end to end, against a server on 127.0.0.1.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use tokensmith_basic::BasicClient;
use tokensmith_core::{ErrorCode, TokenSource};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

fn grant_type(request: &Request) -> String {
    url::form_urlencoded::parse(&request.body)
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

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
    let hint = err.hint().unwrap();
    assert!(hint.contains("client id/secret pair is wrong"), "{hint}");
}

#[tokio::test]
async fn the_errors_array_and_error_object_shapes_map_to_rfc_codes() {
    let server = MockServer::start().await;
    Mock::given(header(
        "authorization",
        format!("Basic {}", STANDARD.encode("app:bad-secret")).as_str(),
    ))
    .respond_with(ResponseTemplate::new(401).set_body_json(json!({
        "errors": [{"message": "Bad credentials.", "attribute-name": "client_secret"}]
    })))
    .mount(&server)
    .await;
    Mock::given(header(
        "authorization",
        format!("Basic {}", STANDARD.encode("app:gateway")).as_str(),
    ))
    .respond_with(ResponseTemplate::new(403).set_body_json(json!({
        "error": {"code": "Forbidden", "message": "subscription disabled"}
    })))
    .mount(&server)
    .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [
                {"message": "Unknown scope.", "attribute-name": "scope"},
                {"message": "Also this.", "attribute-name": "other"}
            ]
        })))
        .mount(&server)
        .await;

    let fetch = |secret: &'static str| {
        let vendor = BasicClient::new(server.uri(), "app", secret).unwrap();
        async move {
            vendor
                .client_credentials()
                .scope(["orders"])
                .build_source()
                .fetch()
                .await
                .unwrap_err()
        }
    };
    let err = fetch("bad-secret").await;
    assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidClient);
    assert!(
        err.hint().unwrap().contains("ClientAuth::RequestBody"),
        "{err}"
    );
    let err = fetch("gateway").await;
    let oauth = err.oauth().unwrap();
    assert_eq!(
        (oauth.original_code.as_str(), oauth.description.as_deref()),
        ("Forbidden", Some("subscription disabled"))
    );
    let err = fetch("third-secret").await;
    let oauth = err.oauth().unwrap();
    assert_eq!(oauth.code, ErrorCode::InvalidScope);
    assert_eq!(
        oauth.description.as_deref(),
        Some("Unknown scope. (scope); Also this. (other)")
    );
    assert!(err.hint().unwrap().contains("`orders`"), "{err}");
}

#[tokio::test]
async fn bearer_spellings_are_bearer_and_the_api_gets_the_token() {
    let server = MockServer::start().await;
    Mock::given(path("/tenant-1/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "tok-77", "token_type": "BearerToken", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/tenant-1/api/orders"))
        .and(header("authorization", "Bearer tok-77"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&server)
        .await;
    let vendor = BasicClient::new(format!("{}/tenant-1", server.uri()), "app", "secret").unwrap();
    let api = vendor.api(vendor.client_credentials().build()).unwrap();
    let orders: serde_json::Value = api.get_json("api/orders").await.unwrap();
    assert_eq!(orders[0]["id"], 1);
    let err = api
        .get_json::<serde_json::Value>("api/missing")
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
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
    let grants: Vec<String> = requests(&server).await.iter().map(grant_type).collect();
    assert_eq!(
        grants,
        ["password", "refresh_token", "refresh_token", "password"]
    );
}

/// Against the simulator: its shapes, read by the crate's quirks, end to end.
mod simulator {
    use tokensmith_basic::{BasicClient, testing};
    use tokensmith_core::TokenSource;
    use tokensmith_testkit::{
        DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_USERNAME,
    };

    #[tokio::test]
    async fn a_wrong_secret_and_a_dead_refresh_token_in_the_vendor_s_shapes() {
        let server = testing::start().await.unwrap();
        assert!(server.token_url().ends_with("/oauth/token"));
        let wrong = BasicClient::new(server.url(), DEFAULT_CLIENT_ID, "wrong").unwrap();
        let err = wrong
            .client_credentials()
            .build_source()
            .fetch()
            .await
            .unwrap_err();
        assert_eq!(err.oauth().unwrap().original_code, "Invalid_request");
        assert!(
            err.hint()
                .unwrap()
                .contains("client id/secret pair is wrong"),
            "{err}"
        );

        let vendor =
            BasicClient::new(server.url(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).unwrap();
        let source = vendor
            .password(DEFAULT_USERNAME, DEFAULT_PASSWORD)
            .build_source();
        source.fetch().await.unwrap();
        let refresh = source.refresh_token().unwrap().expose_secret().to_owned();
        source.fetch().await.unwrap();
        assert_eq!(
            source.refresh_token().unwrap().expose_secret(),
            refresh,
            "refresh keeps the same refresh token"
        );
        server.revoke_refresh_tokens();
        let refreshes_before = server.counters().token_requests;
        source.fetch().await.unwrap();
        assert_eq!(
            server.counters().token_requests - refreshes_before,
            2,
            "the dead refresh token, read as invalid_grant from the `errors` shape, then the password again"
        );
    }
}
