//! Signing in: the exact token request, refresh, wrong passwords, the code flow, logout.

use tokensmith_airvantage::SystemsQuery;
use tokensmith_oauth2::ClientAuth;
use tokensmith_testkit::{DEFAULT_REDIRECT_URI, Endpoint, TraceCapture};

use crate::{airvantage, builder, signed_in};

#[tokio::test]
async fn the_password_grant_goes_in_the_form_body_with_client_credentials() {
    let server = airvantage("eu").await;
    let client = signed_in(&server);
    client.current_user().await.unwrap();
    let token_requests = server.requests_to(Endpoint::Token);
    assert_eq!(token_requests.len(), 1);
    let request = &token_requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/api/oauth/token")
    );
    assert!(request.query_keys.is_empty(), "nothing in the query string");
    assert_eq!(
        request.form_keys,
        [
            "grant_type",
            "username",
            "password",
            "client_id",
            "client_secret"
        ]
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.header("authorization"),
        None,
        "credentials in the body by default"
    );

    let basic = builder(&server)
        .client_auth(ClientAuth::Basic)
        .password("alice", "wonderland")
        .build()
        .unwrap();
    basic.current_user().await.unwrap();
    let request = server.requests_to(Endpoint::Token).pop().unwrap();
    assert_eq!(request.header("authorization"), Some("Basic [masked]"));
    assert_eq!(request.form_keys, ["grant_type", "username", "password"]);
}

#[tokio::test]
async fn the_refresh_token_is_used_after_expiry() {
    let server = airvantage("na").await;
    let client = signed_in(&server);
    client.systems(&SystemsQuery::new()).await.unwrap();
    server.expire_all_tokens();
    client.systems(&SystemsQuery::new()).await.unwrap();
    let grants: Vec<bool> = server
        .requests_to(Endpoint::Token)
        .iter()
        .map(|r| r.has_form_key("refresh_token"))
        .collect();
    assert_eq!(
        grants,
        [false, true],
        "the 401 made the client refresh, not sign in again"
    );
}

#[tokio::test]
async fn a_wrong_password_explains_itself() {
    let server = airvantage("eu").await;
    let client = builder(&server)
        .password("alice", "not-her-password")
        .build()
        .unwrap();
    let err = client.current_user().await.unwrap_err();
    let hint = err.hint().unwrap();
    assert!(hint.contains("username or password"), "{err}");
    assert_eq!(
        server.counters().api_requests,
        0,
        "no API call without a token"
    );
}

#[tokio::test]
async fn the_code_flow_uses_the_same_region() {
    let server = airvantage("eu").await;
    let flow = builder(&server)
        .authorization_code(DEFAULT_REDIRECT_URI)
        .unwrap();
    let pending = flow.start().unwrap();
    assert!(
        pending
            .url()
            .as_str()
            .starts_with(&format!("{}/api/oauth/authorize?", server.url()))
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(pending.url().clone()).send().await.unwrap();
    let callback = answer.headers()["location"].to_str().unwrap().to_owned();
    let tokens = pending.finish_url(&callback).await.unwrap();
    let client = builder(&server).tokens(tokens).build().unwrap();
    assert_eq!(client.current_user().await.unwrap().uid, "user-1");
    let exchange = &server.requests_to(Endpoint::Token)[0];
    assert!(exchange.has_form_key("redirect_uri") && exchange.has_form_key("code_verifier"));
}

#[tokio::test]
async fn logout_revokes_the_token_and_never_logs_it() {
    let capture = TraceCapture::global();
    let server = airvantage("eu").await;
    let client = signed_in(&server);
    client.current_user().await.unwrap();
    let token = client.provider().current().unwrap();
    client.logout().await.unwrap();
    assert_eq!(
        server.requests_to(Endpoint::Logout)[0].query_keys,
        ["access_token"]
    );
    assert!(
        client.provider().current().is_none(),
        "the revoked token is dropped"
    );
    client.current_user().await.unwrap();
    assert_eq!(
        server.counters().token_requests,
        2,
        "a new sign-in after logout"
    );
    let secret = token.secret().expose_secret().to_owned();
    assert!(!capture.text().contains(&secret));
    assert!(!format!("{client:?}").contains(&secret));
}
