//! The simulator itself, over raw HTTP: what it wants on the token request and on API calls.

use serde_json::Value;
use tokensmith_avionte::{DEFAULT_SCOPE, testing};
use tokensmith_testkit::TestServer;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn token_request(server: &TestServer, api_key: Option<&str>, body: &str) -> (u16, Value) {
    let mut request = http()
        .post(server.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body.to_owned());
    if let Some(key) = api_key {
        request = request.header("x-api-key", key);
    }
    json(request.send().await.unwrap()).await
}

#[tokio::test]
async fn the_simulator_wants_the_api_key_scope_and_tenant() {
    let server = testing::start().await.unwrap();
    assert!(server.token_url().ends_with("/authorize/token"));
    let form = format!(
        "grant_type=client_credentials&client_id=test-client&client_secret=test-secret&scope={DEFAULT_SCOPE}"
    );
    assert_eq!(token_request(&server, None, &form).await.0, 403);
    assert_eq!(token_request(&server, Some("wrong"), &form).await.0, 403);
    let no_scope = "grant_type=client_credentials&client_id=test-client&client_secret=test-secret";
    assert_eq!(
        token_request(&server, Some(testing::API_KEY), no_scope)
            .await
            .1["error"],
        "invalid_scope"
    );
    let (status, body) = token_request(&server, Some(testing::API_KEY), &form).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();

    let api = |path: &str, key: Option<&str>, tenant: Option<(&str, &str)>, scheme: &str| {
        let mut request = http()
            .get(server.url_of(path))
            .header("authorization", format!("{scheme} {token}"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        if let Some((name, value)) = tenant {
            request = request.header(name, value);
        }
        async move { json(request.send().await.unwrap()).await }
    };
    let key = Some(testing::API_KEY);
    let (status, body) = api(
        "/front-office/v1/talent/7",
        key,
        Some(("FrontOfficeTenantId", "42")),
        "Bearer",
    )
    .await;
    assert_eq!((status, body["id"].as_u64()), (200, Some(7)));
    assert_eq!(body["frontOfficeTenantId"], "42");
    let acme = Some(("Tenant", "acme"));
    assert_eq!(
        api("/front-office/v1/talent/7", key, acme, "Bearer")
            .await
            .0,
        200
    );
    assert_eq!(
        api("/front-office/v1/talent/7", None, acme, "Bearer")
            .await
            .0,
        403
    );
    assert_eq!(
        api("/front-office/v1/talent/7", key, None, "Bearer")
            .await
            .0,
        400
    );
    assert_eq!(
        api("/front-office/v1/talent/7", key, acme, "bearer")
            .await
            .0,
        401
    );
    let (status, ids) = api("/front-office/v1/talent/ids/3/100", key, acme, "Bearer").await;
    assert_eq!(status, 200);
    assert_eq!(
        ids.as_array().unwrap().len(),
        50,
        "250 talents: the third page of 100 has 50"
    );
    assert_eq!(
        api("/front-office/v1/talent/ids/1/101", key, acme, "Bearer")
            .await
            .0,
        400
    );
    assert_eq!(
        api("/front-office/v1/nothing", key, acme, "Bearer").await.0,
        404
    );
    assert_eq!(server.counters().api_rejections, 1, "the lower-case scheme");
}
