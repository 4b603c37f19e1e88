//! Canary secrets never appear in errors, `Debug` output or logs.

use serde_json::json;
use tokensmith_core::TokenSource;
use tokensmith_oauth2::{ClientAuth, Password, TokenEndpoint};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

const SECRET: &str = "canary-client-secret-d41";
const PASSWORD: &str = "canary-password-a77";
const ACCESS: &str = "canary-access-token-c09";
const REFRESH: &str = "canary-refresh-token-e52";
const API_KEY: &str = "canary-api-key-b38";
const CANARIES: [&str; 5] = [SECRET, PASSWORD, ACCESS, REFRESH, API_KEY];

fn endpoint_at(server: &MockServer, auth: ClientAuth) -> TokenEndpoint {
    TokenEndpoint::builder(format!("{}/token", server.uri()))
        .client_id("client")
        .client_secret(SECRET)
        .header("x-api-key", API_KEY)
        .auth(auth)
        .retry(fast_retries(2))
        .build()
        .unwrap()
}

fn assert_clean(text: &str) {
    for canary in CANARIES {
        assert!(!text.contains(canary), "{canary} leaked in: {text}");
    }
}

#[tokio::test]
async fn canaries_never_reach_errors_debug_or_traces() {
    let capture = tokensmith_testkit::TraceCapture::global();
    let mut seen = Vec::new();

    // Success, with a refresh token and rotation.
    let server = MockServer::start().await;
    Mock::given(body_string_contains("grant_type=password"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS, "expires_in": 3600, "refresh_token": REFRESH, "id_token": ACCESS
        })))
        .mount(&server)
        .await;
    Mock::given(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "bad", "echo": REFRESH
        })))
        .mount(&server)
        .await;
    let endpoint = endpoint_at(&server, ClientAuth::AutoDetect);
    let source = Password::new(endpoint.clone(), "alice", PASSWORD).build_source();
    let token = source.fetch().await.unwrap();
    let again = source.fetch().await.unwrap();
    seen.push(format!(
        "{token:?} {again:#?} {source:?} {source:#?} {endpoint:?}"
    ));
    let provider = Password::new(endpoint, "alice", PASSWORD).build();
    let token = provider.token().await.unwrap();
    provider.invalidate(&token);
    seen.push(format!("{provider:?} {:?}", provider.stats()));

    // Error answers that echo the secrets back.
    let echo = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_raw(
            format!("<html>client_secret={SECRET} password={PASSWORD} key {API_KEY}</html>"),
            "text/html",
        ))
        .mount(&echo)
        .await;
    for auth in [
        ClientAuth::Basic,
        ClientAuth::RequestBody,
        ClientAuth::AutoDetect,
    ] {
        let err = Password::new(endpoint_at(&echo, auth), "alice", PASSWORD)
            .build_source()
            .fetch()
            .await
            .unwrap_err();
        seen.push(format!("{err} {err:?} {err:#?}"));
    }
    let unauthorized = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client", "error_description": format!("wrong secret {SECRET}")
        })))
        .mount(&unauthorized)
        .await;
    let err = client_credentials_error(endpoint_at(&unauthorized, ClientAuth::AutoDetect)).await;
    seen.push(format!("{err} {err:?} {err:#?}"));

    // Transport failure.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let closed = TokenEndpoint::builder(format!("http://127.0.0.1:{port}/token"))
        .client_id("client")
        .client_secret(SECRET)
        .retry(fast_retries(1))
        .build()
        .unwrap();
    let err = Password::new(closed, "alice", PASSWORD)
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    seen.push(format!("{err} {err:?} {err:#?}"));

    let logs = capture.text();
    // Lines that name this test's own servers, which listen on ports no other test has.
    let echo_at = echo.address().to_string();
    let closed_at = format!("127.0.0.1:{port}");
    assert!(
        logs.lines()
            .any(|l| l.contains("tokensmith.token_request") && l.contains(&closed_at)),
        "TRACE output captured: {logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains(&echo_at) && l.contains("[redacted]")),
        "the echoed secrets were masked: {logs}"
    );
    seen.push(logs);
    for text in &seen {
        assert_clean(text);
    }
}

/// A server that echoes the client secret, the password, the API key and the Basic
/// credentials into every field of its answer: code, description, uri, content type,
/// `Location`, the body, each as sent and in its encoded forms.
#[tokio::test]
async fn no_field_of_any_error_repeats_an_echoed_secret() {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("client:{SECRET}"));
    let form_encoded =
        |text: &str| url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    // A secret with characters that change when encoded.
    let odd = "canary odd/secret+\"quoted\"&more-9f1";
    let odd_forms = [
        odd.to_owned(),
        form_encoded(odd),
        form_encoded(odd).replace('+', "%20"),
        odd.replace('"', "\\\"").replace('/', "\\/"),
    ];
    let answers: Vec<ResponseTemplate> = vec![
        ResponseTemplate::new(400).set_body_json(json!({"error": SECRET})),
        ResponseTemplate::new(400).set_body_json(json!({"error": SECRET.to_uppercase()})),
        ResponseTemplate::new(400).set_body_json(json!({"error": format!("bad_{PASSWORD}_x")})),
        ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": format!("you sent {basic} and {API_KEY}"),
            "error_uri": format!("https://docs.example/errors?secret={}", form_encoded(SECRET)),
        })),
        ResponseTemplate::new(400)
            .set_body_json(json!({"error": {"code": API_KEY, "message": PASSWORD}})),
        ResponseTemplate::new(400)
            .set_body_json(json!({"errors": [{"message": SECRET, "attribute-name": PASSWORD}]})),
        ResponseTemplate::new(403)
            .set_body_json(json!({"message": format!("key {API_KEY} refused")})),
        ResponseTemplate::new(200).set_body_raw(
            format!(
                "error={}&error_description={}",
                form_encoded(SECRET),
                form_encoded(PASSWORD)
            ),
            "application/x-www-form-urlencoded",
        ),
        ResponseTemplate::new(502)
            .set_body_raw(
                format!("<html>{}</html>", form_encoded(SECRET)),
                "text/html",
            )
            .insert_header("content-type", format!("text/html; echo={SECRET}").as_str()),
        ResponseTemplate::new(302).insert_header(
            "location",
            format!("https://elsewhere.example/{SECRET}?p={PASSWORD}").as_str(),
        ),
        ResponseTemplate::new(413)
            .set_body_raw(format!("{SECRET}{}", "x".repeat(200_000)), "text/plain"),
    ];
    for (n, answer) in answers.into_iter().enumerate() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&server)
            .await;
        for auth in [ClientAuth::Basic, ClientAuth::RequestBody] {
            let endpoint = TokenEndpoint::builder(format!("{}/token", server.uri()))
                .client_id("client")
                .client_secret(SECRET)
                .header("x-api-key", API_KEY)
                .auth(auth)
                .max_response_bytes(64 * 1024)
                .retry(fast_retries(1))
                .build()
                .unwrap();
            let err = Password::new(endpoint, "alice", PASSWORD)
                .build_source()
                .fetch()
                .await
                .unwrap_err();
            let text = format!("{err} {err:?} {err:#?}");
            assert_clean(&text);
            assert!(!text.contains(&basic), "answer {n}: {text}");
            if let Some(oauth) = err.oauth() {
                for field in [
                    oauth.code.as_str(),
                    oauth.original_code.as_str(),
                    oauth.description.as_deref().unwrap_or(""),
                    oauth.uri.as_deref().unwrap_or(""),
                ] {
                    assert_clean(field);
                    assert!(field.chars().count() <= 201, "answer {n}: {field}");
                }
            }
        }
    }
    // The odd secret, configured, with its encoded forms echoed.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client", "error_description": odd_forms.join(" | ")
        })))
        .mount(&server)
        .await;
    let endpoint = TokenEndpoint::builder(format!("{}/token", server.uri()))
        .client_id("client")
        .client_secret(odd)
        .auth(ClientAuth::RequestBody)
        .retry(fast_retries(1))
        .build()
        .unwrap();
    let err = client_credentials_error(endpoint).await;
    let text = format!("{err} {err:?}");
    for form in &odd_forms {
        assert!(!text.contains(form.as_str()), "{form} in {text}");
    }
    assert!(!text.contains("canary odd"), "{text}");
}
