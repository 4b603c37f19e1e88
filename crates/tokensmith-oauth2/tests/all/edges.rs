//! Where credentials could escape or servers bend the rules: redirects with a user's own
//! client, URLs that carry secrets over plain http, servers that refuse a client
//! authentication style with an empty 403, echoed Basic credentials.

use std::time::Duration;
use tokensmith_core::RetryPolicy;

use serde_json::json;
use tokensmith_core::{Error, TokenSource};
use tokensmith_oauth2::{
    AuthorizationCode, Callback, ClientAuth, ClientCredentials, DeviceAuthorization, TokenEndpoint,
};
use wiremock::matchers::{body_string_contains, header_exists, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    CLIENT_SECRET, client_credentials_error, endpoint, form_value, header, requests, token_body,
};

#[tokio::test]
async fn a_users_own_client_builder_never_replays_the_form_to_a_redirect() {
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("stolen", 60)))
        .mount(&elsewhere)
        .await;
    let server = MockServer::start().await;
    for status in [301, 302, 303, 307, 308] {
        server.reset().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("location", format!("{}/collect", elsewhere.uri())),
            )
            .mount(&server)
            .await;
        // reqwest's default builder follows redirects and sends a Referer; the transport
        // made from it does neither.
        let transport =
            tokensmith_http::transport::ReqwestTransport::from_builder(reqwest::Client::builder())
                .unwrap();
        let endpoint = endpoint(&server, ClientAuth::RequestBody)
            .transport(transport)
            .build()
            .unwrap();
        let err = client_credentials_error(endpoint).await;
        assert!(err.to_string().contains("not followed"), "{status}: {err}");
        assert!(!err.to_string().contains(CLIENT_SECRET));
    }
    assert!(
        requests(&elsewhere).await.is_empty(),
        "the form body reached another origin"
    );
}

#[test]
fn every_url_that_carries_a_secret_is_https_or_loopback() {
    let endpoint = |url: &str| {
        TokenEndpoint::builder(url)
            .client_id("app")
            .auth(ClientAuth::None)
            .build()
            .unwrap()
    };
    let remote = endpoint("https://auth.example.com/token");
    let refused = |result: Result<(), Error>| {
        let err = result.unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        assert!(err.hint().unwrap().contains("danger_allow_insecure_http"));
    };
    refused(DeviceAuthorization::new(remote.clone(), "http://auth.example.com/device").map(drop));
    refused(
        AuthorizationCode::new(
            remote.clone(),
            "http://auth.example.com/authorize",
            "https://app.example.com/cb",
        )
        .map(drop),
    );
    refused(
        AuthorizationCode::new(
            remote.clone(),
            "https://auth.example.com/authorize",
            "http://app.example.com/cb",
        )
        .map(drop),
    );
    // Loopback redirect URIs (RFC 8252 §7.3) and private-use schemes (§7.1) are for native apps.
    for redirect in [
        "http://127.0.0.1:8080/cb",
        "http://[::1]/cb",
        "http://localhost/cb",
        "com.example.app:/cb",
    ] {
        AuthorizationCode::new(
            remote.clone(),
            "https://auth.example.com/authorize",
            redirect,
        )
        .unwrap_or_else(|e| panic!("{redirect}: {e}"));
    }
    DeviceAuthorization::new(remote, "https://auth.example.com/device").unwrap();
    let opted_in = TokenEndpoint::builder("http://auth.test/token")
        .client_id("app")
        .auth(ClientAuth::None)
        .danger_allow_insecure_http()
        .build()
        .unwrap();
    DeviceAuthorization::new(opted_in, "http://auth.test/device").unwrap();
}

/// A server that answers Basic with an empty 403 (glewlwyd does, for a post-only client).
async fn empty_403_for_basic() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    Mock::given(body_string_contains("client_secret="))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("t", 60)))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn auto_detect_tries_the_body_after_an_empty_403_or_a_page() {
    let server = empty_403_for_basic().await;
    let learning = endpoint(&server, ClientAuth::AutoDetect).build().unwrap();
    ClientCredentials::new(learning.clone())
        .build_source()
        .fetch()
        .await
        .unwrap();
    assert_eq!(learning.learned_auth(), Some(ClientAuth::RequestBody));

    let paged = MockServer::start().await;
    Mock::given(header_exists("authorization"))
        .respond_with(
            ResponseTemplate::new(400).set_body_raw("<html>Bad Request</html>", "text/html"),
        )
        .mount(&paged)
        .await;
    Mock::given(body_string_contains("client_secret="))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("t", 60)))
        .mount(&paged)
        .await;
    let probing = endpoint(&paged, ClientAuth::AutoDetect).build().unwrap();
    ClientCredentials::new(probing.clone())
        .build_source()
        .fetch()
        .await
        .unwrap();
    assert_eq!(probing.learned_auth(), Some(ClientAuth::RequestBody));
}

#[tokio::test]
async fn invalid_code_gets_the_code_exchange_hint() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_code"})))
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::RequestBody).build().unwrap();
    let flow = AuthorizationCode::new(
        endpoint,
        format!("{}/authorize", server.uri()),
        "http://127.0.0.1:9/cb",
    )
    .unwrap();
    let pending = flow.start().unwrap();
    let state = pending.state().to_owned();
    let err = pending
        .finish(Callback::new("code-1", state))
        .await
        .unwrap_err();
    assert!(err.hint().unwrap().contains("redirect_uri"), "{err}");
    let sent = requests(&server).await;
    assert_eq!(form_value(&sent[0], "code").as_deref(), Some("code-1"));
}

#[tokio::test]
async fn an_echoed_basic_credential_is_masked_in_its_base64_form() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(move |request: &wiremock::Request| {
            let sent = header(request, "authorization").unwrap_or_default();
            ResponseTemplate::new(502).set_body_string(format!("upstream saw {sent}"))
        })
        .mount(&server)
        .await;
    let endpoint = endpoint(&server, ClientAuth::Basic)
        .client_secret("canary-basic-77")
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let err = client_credentials_error(endpoint).await;
    let encoded = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode("client-1:canary-basic-77")
    };
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(&encoded), "{text}");
        assert!(text.contains("upstream saw"), "{text}");
    }
}

/// A JWT (unsigned: only its claims are read) whose `exp` is `exp`.
fn jwt_expiring_at(exp: u64) -> String {
    use base64::Engine;
    let encode = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    format!(
        "{}.{}.c2lnbmF0dXJl",
        encode(r#"{"alg":"none"}"#),
        encode(&format!(r#"{{"sub":"svc","exp":{exp}}}"#))
    )
}

#[tokio::test]
async fn a_jwt_expired_at_the_answers_date_costs_one_fetch_not_one_per_call() {
    let server = MockServer::start().await;
    let date = "Sun, 22 Nov 2026 10:00:00 GMT";
    let at_date = 1_795_341_600; // the same instant as seconds since the epoch
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("date", date)
                .set_body_json(
                    json!({"access_token": jwt_expiring_at(at_date), "token_type": "Bearer"}),
                ),
        )
        .mount(&server)
        .await;
    let provider =
        ClientCredentials::new(endpoint(&server, ClientAuth::Basic).build().unwrap()).build();
    let err = provider.token().await.unwrap_err();
    assert!(err.to_string().contains("already expired"), "{err}");
    for _ in 0..10 {
        let again = provider.token().await.unwrap_err();
        assert!(again.retry_in().is_some(), "{again}");
    }
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn a_callbacks_error_text_is_scrubbed_and_bounded() {
    let server = MockServer::start().await;
    let flow = AuthorizationCode::new(
        endpoint(&server, ClientAuth::RequestBody).build().unwrap(),
        format!("{}/authorize", server.uri()),
        "http://127.0.0.1:9/cb",
    )
    .unwrap();
    let pending = flow.start().unwrap();
    let query = format!(
        "error=access_denied&error_description=access_token%3Dcanary-cb-1%20{}&error_uri={}&state={}",
        "z".repeat(50_000),
        "u".repeat(50_000),
        pending.state()
    );
    let err = pending
        .finish(Callback::from_query(&query))
        .await
        .unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(text.len() < 4096, "{} bytes", text.len());
        assert!(!text.contains("canary-cb-1"), "{text}");
    }
    assert!(requests(&server).await.is_empty(), "no code, no request");
}
