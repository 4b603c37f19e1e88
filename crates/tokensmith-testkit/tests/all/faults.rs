//! Fault injection on the token endpoint and the API.

use std::time::{Duration, Instant};

use tokensmith_testkit::{Fault, Target, TestServer};

use crate::support::*;

const CC: &str = "grant_type=client_credentials";

#[tokio::test]
async fn status_faults_for_the_next_n_requests() {
    let server = TestServer::start().await.unwrap();
    server.fail_next(Target::Token, 2, Fault::too_many_requests(7));
    for _ in 0..2 {
        let response = post_form(&server.token_url(), CC).await;
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["retry-after"], "7");
    }
    assert_eq!(
        post_form(&server.token_url(), CC).await.status().as_u16(),
        200
    );
    server.fail_next(Target::Token, 1, Fault::html_error(502));
    let response = post_form(&server.token_url(), CC).await;
    assert_eq!(response.headers()["content-type"], "text/html");
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("<h1>502 Error</h1>")
    );
    assert_eq!(server.counters().faults, 3);
    assert_eq!(
        server.counters().tokens_issued,
        1,
        "no token behind a fault"
    );
}

#[tokio::test]
async fn body_rewriting_faults() {
    let server = TestServer::start().await.unwrap();
    server.fail_next(Target::Token, 1, Fault::FormEncodedSuccess);
    let response = post_form(&server.token_url(), CC).await;
    assert_eq!(
        response.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with("access_token=at_") && text.contains("expires_in=3600"),
        "{text}"
    );

    server.fail_next(Target::Token, 1, Fault::ExpiresInAsString);
    let (_, body) = json(post_form(&server.token_url(), CC).await).await;
    assert_eq!(body["expires_in"], "3600");

    server.fail_next(Target::Token, 1, Fault::TruncatedJson);
    let text = post_form(&server.token_url(), CC)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_err()
            .is_eof(),
        "{text}"
    );

    server.fail_next(Target::Token, 1, Fault::MalformedJson);
    let text = post_form(&server.token_url(), CC)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_err()
            .is_syntax()
    );
}

#[tokio::test]
async fn a_closed_connection_breaks_the_body() {
    let server = TestServer::start().await.unwrap();
    server.fail_next(Target::Token, 1, Fault::CloseConnection);
    let sent = http()
        .post(server.token_url())
        .basic_auth("test-client", Some("test-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(CC)
        .send()
        .await;
    // The connection drops before the answer is complete: the headers or the body fail.
    match sent {
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
        Ok(response) => assert!(response.text().await.is_err(), "the body never completes"),
    }
    assert_eq!(
        post_form(&server.token_url(), CC).await.status().as_u16(),
        200,
        "the server is fine after"
    );
}

#[tokio::test]
async fn delays_and_shares() {
    let server = TestServer::start().await.unwrap();
    server.fail_next(Target::Token, 1, Fault::Delay(Duration::from_millis(300)));
    let started = Instant::now();
    assert_eq!(
        post_form(&server.token_url(), CC).await.status().as_u16(),
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));

    let token = client_token(&server.token_url()).await;
    server.fail_share(Target::Api, 0.5, Fault::service_unavailable());
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            get_with(&server.url_of("/api/x"), &token)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 503, 200, 503, 200, 503]);
    server.clear_faults();
    assert_eq!(
        get_with(&server.url_of("/api/x"), &token)
            .await
            .status()
            .as_u16(),
        200
    );
}
