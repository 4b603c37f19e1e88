//! The simulator itself, over raw HTTP: regions, paging, companies, rights, logout, and the
//! token endpoint over GET.

use serde_json::{Value, json};
use tokensmith_airvantage::testing::{self, Simulator};
use tokensmith_testkit::TestServer;

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn get_with(url: &str, token: &str) -> (u16, Value) {
    read(http().get(url).bearer_auth(token).send().await.unwrap()).await
}

async fn password_token(server: &TestServer) -> String {
    let (status, body) = read(
        http()
            .post(server.token_url())
            .basic_auth("test-client", Some("test-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=password&username=alice&password=wonderland")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn regions_reject_each_others_tokens() {
    let (na, eu) = testing::regions().await.unwrap();
    assert!(na.token_url().ends_with("/api/oauth/token"));
    let eu_token = password_token(&eu).await;
    let (status, body) = get_with(&eu.url_of("/api/v1/users/current"), &eu_token).await;
    assert_eq!((status, body["email"].as_str()), (200, Some("alice")));

    let (status, body) = get_with(&na.url_of("/api/v1/systems"), &eu_token).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "context.unknown");
    assert!(body["errorParameters"].is_array());

    let (status, _) = get_with(&na.url_of("/api/v1/systems"), "made-up").await;
    assert_eq!(status, 401, "a token nobody issued is just invalid");
}

#[tokio::test]
async fn paging_companies_rights_and_logout() {
    let server = testing::start("eu").await.unwrap();
    let token = password_token(&server).await;
    let (status, body) = get_with(
        &server.url_of("/api/v1/systems?offset=1&size=2&fields=uid,name"),
        &token,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 5);
    assert_eq!(
        body["items"],
        json!([{"uid": "sys-002", "name": "Pump station 2"}, {"uid": "sys-003", "name": "Cold store"}])
    );
    let (status, body) = get_with(&server.url_of("/api/v1/systems/sys-003"), &token).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Cold store")));
    let (status, body) = get_with(&server.url_of("/api/v1/systems?company=other"), &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("context.unknown"))
    );
    assert_eq!(body["errorParameters"][0], "other");

    let (status, body) = read(
        http()
            .get(server.url_of(&format!("/api/oauth/expire?access_token={token}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body), (200, json!("logout.successful")));
    assert_eq!(
        get_with(&server.url_of("/api/v1/systems"), &token).await.0,
        401
    );

    let denied = Simulator::new("na")
        .deny_right("entities.systems.view")
        .server()
        .start()
        .await
        .unwrap();
    let token = password_token(&denied).await;
    let (status, body) = get_with(&denied.url_of("/api/v1/systems"), &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("missing.rights"))
    );
    assert_eq!(body["errorParameters"][0], "entities.systems.view");
}

#[tokio::test]
async fn the_token_endpoint_also_answers_over_get() {
    let server = testing::start("na").await.unwrap();
    let url = format!(
        "{}?grant_type=password&username=alice&password=wonderland&client_id=test-client&client_secret=test-secret",
        server.token_url()
    );
    let (status, body) = read(http().get(url).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
}
