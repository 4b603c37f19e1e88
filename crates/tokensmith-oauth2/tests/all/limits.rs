//! Bounds on what comes from outside: answer size, redirects.

use tokensmith_core::ErrorKind;
use tokensmith_core::RetryPolicy;
use tokensmith_core::TokenSource;
use tokensmith_oauth2::{ClientAuth, ClientCredentials};
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
    match client_credentials_error(endpoint).await.kind() {
        ErrorKind::UnexpectedResponse(answer) => {
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
    let err = client_credentials_error(endpoint).await;
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

/// A raw HTTP server on 127.0.0.1 that sends `head`, then `body_bytes` bytes of padding, then
/// holds the connection open without finishing, as a huge or endless answer would.
async fn endless_server(head: &'static str, body_bytes: usize) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let _ = socket.write_all(head.as_bytes()).await;
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < body_bytes {
            if socket.write_all(&chunk).await.is_err() {
                return;
            }
            sent += chunk.len();
        }
        // Never finish: a client that reads to the end waits here until the test's timeout.
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
    });
    addr
}

#[tokio::test]
async fn a_10_mib_answer_is_refused_at_the_cap_without_reading_it_all() {
    let cases = [
        // Content-Length says 10 MiB: refused before reading the body.
        (
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10485760\r\n\r\n",
            0,
        ),
        // No length (read to close): refused once 1 MiB has been read, with 2 MiB sent.
        (
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
            2 * 1024 * 1024,
        ),
    ];
    for (head, body_bytes) in cases {
        let addr = endless_server(head, body_bytes).await;
        let endpoint = tokensmith_oauth2::TokenEndpoint::builder(format!("http://{addr}/token"))
            .client_id("id")
            .client_secret("s")
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let fetch = ClientCredentials::new(endpoint).build_source();
        let result = tokio::time::timeout(std::time::Duration::from_secs(10), fetch.fetch())
            .await
            .expect("refused at the cap, not after reading to the end");
        match result.unwrap_err().kind() {
            ErrorKind::UnexpectedResponse(answer) => {
                assert!(answer.reason.contains("byte limit"), "{}", answer.reason)
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn errors_stay_small_whatever_the_server_sends() {
    let big = "y".repeat(100_000);
    let answers = [
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": big, "error_description": big, "error_uri": big,
        })),
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": {"code": big, "message": big},
        })),
        ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "errors": (0..200).map(|_| serde_json::json!({"message": big, "attribute-name": big}))
                .collect::<Vec<_>>(),
        })),
        ResponseTemplate::new(307).insert_header("location", format!("https://elsewhere/{big}")),
        ResponseTemplate::new(502).set_body_string(big.clone()),
    ];
    for answer in answers {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let endpoint = endpoint(&server, ClientAuth::AutoDetect)
            .retry(RetryPolicy::none())
            .build()
            .unwrap();
        let err = client_credentials_error(endpoint).await;
        for text in [err.to_string(), format!("{err:?}"), format!("{err:#?}")] {
            assert!(text.len() < 4096, "{} bytes: {}", text.len(), &text[..300]);
        }
        if let Some(oauth) = err.oauth() {
            assert!(oauth.code.as_str().len() <= tokensmith_core::MAX_CODE_CHARS);
        }
    }
}
