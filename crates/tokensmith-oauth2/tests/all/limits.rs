//! Bounds on what comes from outside: answer size, redirects.

use tokensmith_core::{Error, TokenSource};
use tokensmith_oauth2::{ClientAuth, ClientCredentials, RetryPolicy};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

#[tokio::test]
async fn an_answer_over_the_cap_is_refused() {
    let server = MockServer::start().await;
    let huge = format!(
        r#"{{"access_token":"t","pad":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(huge, "application/json"))
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::Basic)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    match ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap_err()
    {
        Error::UnexpectedResponse(answer) => {
            assert!(
                answer.reason.contains("larger than the 1048576 byte limit"),
                "{}",
                answer.reason
            );
        }
        other => panic!("{other:?}"),
    }

    let endpoint = crate::support::endpoint(&server, ClientAuth::Basic)
        .max_response_bytes(4 * 1024 * 1024)
        .build()
        .unwrap();
    ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap();
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("stolen", 60)))
        .mount(&elsewhere)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/token?x=1", elsewhere.uri())),
        )
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::Basic).build().unwrap();
    let err = ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "redirected to {}/token; not followed",
            elsewhere.uri()
        )),
        "{text}"
    );
    assert!(err.hint().unwrap().contains("redirect"));
    assert!(
        requests(&elsewhere).await.is_empty(),
        "no credentials went to the other server"
    );
}
