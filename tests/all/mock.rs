//! `MockTokenProvider` where users put it: behind the middleware of each vendor client, with
//! no expectation but `expect_token`.

use tokensmith::airvantage::{AirVantageClient, Region};
use tokensmith::avionte::{AvionteClient, Tenant};
use tokensmith::{AccessToken, MockTokenProvider};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn mock_issuing(token: &'static str) -> MockTokenProvider {
    let mut mock = MockTokenProvider::new();
    mock.expect_token()
        .returning(move || AccessToken::bearer(token));
    mock
}

#[tokio::test]
async fn a_mock_with_only_expect_token_drives_the_vendor_clients() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/front-office/v1/talent/7"))
        .and(header("authorization", "Bearer mocked-avionte"))
        .and(header("x-api-key", "key-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": 7, "lastName": "Seven"})),
        )
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/users/current"))
        .and(header("authorization", "Bearer mocked-airvantage"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"uid": "u-1"})))
        .mount(&api)
        .await;

    let avionte = AvionteClient::builder()
        .api_key("key-1")
        .base_url(api.uri())
        .provider(mock_issuing("mocked-avionte"))
        .build()
        .unwrap();
    let talent = avionte
        .tenant(Tenant::front_office_id("42"))
        .talent(7)
        .await
        .unwrap();
    assert_eq!(talent.last_name.as_deref(), Some("Seven"));

    let region: Region = api.uri().parse().unwrap();
    let airvantage = AirVantageClient::builder(region)
        .provider(mock_issuing("mocked-airvantage"))
        .build()
        .unwrap();
    assert_eq!(airvantage.current_user().await.unwrap().uid, "u-1");
}
