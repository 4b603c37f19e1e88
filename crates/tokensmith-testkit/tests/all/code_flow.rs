//! The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tokensmith_testkit::{DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_REDIRECT_URI, TestServer};
use url::Url;

use crate::support::*;

const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9x5yh8ng6-fSlDlWqbRjCw_gk";

/// Runs `/authorize` and returns the redirect's query pairs.
async fn authorize(server: &TestServer, params: &[(&str, &str)]) -> (u16, Vec<(String, String)>) {
    let mut url = Url::parse(&server.authorize_url()).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    let response = http().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    let pairs = response
        .headers()
        .get("location")
        .map(|l| {
            Url::parse(l.to_str().unwrap())
                .unwrap()
                .query_pairs()
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    (status, pairs)
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

async fn exchange(
    server: &TestServer,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> (u16, serde_json::Value) {
    let body = format!(
        "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={verifier}&client_id={DEFAULT_PUBLIC_CLIENT_ID}",
        url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect::<String>()
    );
    json(post_form_as(server.token_url(), None, body).await).await
}

#[tokio::test]
async fn code_with_s256_pkce_then_single_use() {
    let server = TestServer::start().await.unwrap();
    let challenge = challenge();
    let (status, pairs) = authorize(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", DEFAULT_PUBLIC_CLIENT_ID),
            ("redirect_uri", DEFAULT_REDIRECT_URI),
            ("state", "xyz"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(status, 302);
    assert_eq!(get(&pairs, "state"), Some("xyz"));
    let code = get(&pairs, "code").unwrap().to_owned();

    let (status, body) = exchange(&server, &code, DEFAULT_REDIRECT_URI, VERIFIER).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get_with(&server.url_of("/api/me"), &token)
            .await
            .status()
            .as_u16(),
        200
    );

    let (status, body) = exchange(&server, &code, DEFAULT_REDIRECT_URI, VERIFIER).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(
        get_with(&server.url_of("/api/me"), &token)
            .await
            .status()
            .as_u16(),
        401,
        "a replayed code revokes what it issued"
    );
}

#[tokio::test]
async fn redirect_uri_and_verifier_must_match() {
    let server = TestServer::builder()
        .client(
            tokensmith_testkit::ClientConfig::public(DEFAULT_PUBLIC_CLIENT_ID)
                .redirect_uri("http://127.0.0.1/other"),
        )
        .start()
        .await
        .unwrap();
    let challenge = challenge();
    let params = [
        ("response_type", "code"),
        ("client_id", DEFAULT_PUBLIC_CLIENT_ID),
        ("redirect_uri", DEFAULT_REDIRECT_URI),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let (_, pairs) = authorize(&server, &params).await;
    let (status, body) = exchange(
        &server,
        get(&pairs, "code").unwrap(),
        "http://127.0.0.1/other",
        VERIFIER,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("redirect_uri")
    );

    let (_, pairs) = authorize(&server, &params).await;
    let (_, body) = exchange(
        &server,
        get(&pairs, "code").unwrap(),
        DEFAULT_REDIRECT_URI,
        "wrong-verifier",
    )
    .await;
    assert_eq!(body["error_description"], "PKCE verification failed");
}

#[tokio::test]
async fn authorize_refuses_what_it_must() {
    let server = TestServer::start().await.unwrap();
    let (status, _) = authorize(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", DEFAULT_PUBLIC_CLIENT_ID),
            ("redirect_uri", "http://evil.example/cb"),
        ],
    )
    .await;
    assert_eq!(
        status, 400,
        "an unregistered redirect_uri is never redirected to"
    );
    let (status, pairs) = authorize(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", DEFAULT_PUBLIC_CLIENT_ID),
            ("state", "s1"),
        ],
    )
    .await;
    assert_eq!(status, 302);
    assert_eq!(
        get(&pairs, "error"),
        Some("invalid_request"),
        "public clients need PKCE"
    );
    assert_eq!(get(&pairs, "state"), Some("s1"));
    let (_, pairs) = authorize(
        &server,
        &[("response_type", "token"), ("client_id", "test-client")],
    )
    .await;
    assert_eq!(get(&pairs, "error"), Some("unsupported_response_type"));
}
