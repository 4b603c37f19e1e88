//! No token or extra header reaches another origin through a redirect.

use tokensmith_reqwest::BearerAuth;
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// Another origin that answers anything, and an API whose `/moved` answers `status` with a
/// redirect there.
async fn api_moved_elsewhere(status: u16) -> (MockServer, MockServer) {
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    let api = MockServer::start().await;
    Mock::given(path("/moved"))
        .respond_with(
            ResponseTemplate::new(status)
                .insert_header("location", format!("{}/landing", elsewhere.uri())),
        )
        .mount(&api)
        .await;
    (api, elsewhere)
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let (api, elsewhere) = api_moved_elsewhere(302).await;
    let cache = cached_issuer();
    let client = client_with(
        BearerAuth::builder(provider(&cache))
            .for_origin(api.uri())
            .header("x-api-key", "secret-key"),
    );
    let response = client
        .get(format!("{}/moved", api.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        302,
        "the caller gets the redirect"
    );
    assert!(
        requests(&elsewhere).await.is_empty(),
        "nothing reached the other origin"
    );
    assert_eq!(
        authorization(&requests(&api).await[0]).as_deref(),
        Some("Bearer token-1")
    );
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed_with_the_token() {
    let api = MockServer::start().await;
    Mock::given(path("/old"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/new"))
        .mount(&api)
        .await;
    Mock::given(path("/new"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    let cache = cached_issuer();
    let client = client_with(
        BearerAuth::builder(provider(&cache))
            .for_origin(api.uri())
            .header("x-api-key", "k"),
    );
    let response = client
        .get(format!("{}/old", api.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let seen = requests(&api).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(authorization(&seen[1]).as_deref(), Some("Bearer token-1"));
    assert_eq!(seen[1].headers.get("x-api-key").unwrap(), "k");
}

#[tokio::test]
async fn a_users_own_client_builder_keeps_credentials_and_referer_home() {
    let (api, elsewhere) = api_moved_elsewhere(307).await;
    Mock::given(path("/hop"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/home"))
        .mount(&api)
        .await;
    Mock::given(path("/home"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    let cache = cached_issuer();
    // reqwest's default builder follows any redirect and sends a Referer.
    let client = BearerAuth::builder(provider(&cache))
        .for_origin(api.uri())
        .header("x-api-key", "secret-key")
        .build()
        .unwrap()
        .into_client(Some(reqwest::Client::builder()))
        .unwrap();
    let response = client
        .post(format!("{}/moved?access_token=canary-query", api.uri()))
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 307);
    assert!(requests(&elsewhere).await.is_empty());
    client
        .get(format!("{}/hop?access_token=canary-query", api.uri()))
        .send()
        .await
        .unwrap();
    let home = requests(&api).await;
    let landed = home.iter().find(|r| r.url.path() == "/home").unwrap();
    assert!(landed.headers.get("referer").is_none(), "no Referer");
}
