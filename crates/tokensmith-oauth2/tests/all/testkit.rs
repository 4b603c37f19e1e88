//! Against the embedded authorization server: a server that checks RFC 6749 for real.

use tokensmith_core::ErrorKind;
use tokensmith_core::RetryPolicy;
use tokensmith_core::{ErrorCode, TokenSource};
use tokensmith_oauth2::{ClientAuth, ClientCredentials, Password, TokenEndpoint};
use tokensmith_testkit::{ClientConfig, Endpoint, Fault, Target, TestServer};

use crate::support::fast_retries;

const ODD_SECRET: &str = "p:a+s%s&w=o/r d é@";

fn endpoint(server: &TestServer, id: &str, secret: &str, auth: ClientAuth) -> TokenEndpoint {
    TokenEndpoint::builder(server.token_url())
        .client_id(id)
        .client_secret(secret)
        .auth(auth)
        .retry(fast_retries(3))
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_client_authentication_style_against_a_checking_server() {
    let server = TestServer::builder()
        .client(ClientConfig::confidential("basic:client", ODD_SECRET).basic_only())
        .client(ClientConfig::confidential("body-client", ODD_SECRET).body_only())
        .client(
            ClientConfig::confidential("raw-client", ODD_SECRET)
                .basic_only()
                .basic_without_decoding(),
        )
        .start()
        .await
        .unwrap();
    let fetch = |id: &'static str, auth| {
        let source = ClientCredentials::new(endpoint(&server, id, ODD_SECRET, auth)).build_source();
        async move { source.fetch().await }
    };
    fetch("basic:client", ClientAuth::Basic).await.unwrap();
    fetch("body-client", ClientAuth::RequestBody).await.unwrap();
    fetch("raw-client", ClientAuth::BasicUnencoded)
        .await
        .unwrap();
    let err = fetch("raw-client", ClientAuth::Basic).await.unwrap_err();
    assert_eq!(
        err.oauth().unwrap().code,
        ErrorCode::InvalidClient,
        "encoded Basic fails where the server does not decode"
    );

    let auto = endpoint(&server, "body-client", ODD_SECRET, ClientAuth::AutoDetect);
    ClientCredentials::new(auto.clone())
        .build_source()
        .fetch()
        .await
        .unwrap();
    assert_eq!(auto.learned_auth(), Some(ClientAuth::RequestBody));
    let logged = server.requests_to(Endpoint::Token);
    assert!(
        logged
            .iter()
            .all(|r| r.has_form_key("grant_type") && r.query_keys.is_empty())
    );
}

#[tokio::test]
async fn password_grant_then_rotating_refresh() {
    let server = TestServer::start().await.unwrap();
    let source = Password::new(
        endpoint(&server, "test-client", "test-secret", ClientAuth::Basic),
        "alice",
        "wonderland",
    )
    .build_source();
    source.fetch().await.unwrap();
    let first = source.refresh_token().unwrap().expose_secret().to_owned();
    source.fetch().await.unwrap();
    let second = source.refresh_token().unwrap().expose_secret().to_owned();
    assert_ne!(first, second, "rotated");
    server.revoke_refresh_tokens();
    source.fetch().await.unwrap();
    let grants: Vec<bool> = server
        .requests_to(Endpoint::Token)
        .iter()
        .map(|r| r.has_form_key("refresh_token"))
        .collect();
    assert_eq!(
        grants,
        [false, true, true, false],
        "a dead refresh token falls back to the password"
    );
    let err = Password::new(
        endpoint(&server, "test-client", "test-secret", ClientAuth::Basic),
        "alice",
        "wrong",
    )
    .build_source()
    .fetch()
    .await
    .unwrap_err();
    assert!(err.hint().unwrap().contains("username or password"));
}

#[tokio::test]
async fn injected_faults_become_typed_errors_or_tolerated_answers() {
    let server = TestServer::start().await.unwrap();
    let source = |retry: RetryPolicy| {
        let endpoint = TokenEndpoint::builder(server.token_url())
            .client_id("test-client")
            .client_secret("test-secret")
            .retry(retry)
            .build()
            .unwrap();
        ClientCredentials::new(endpoint).build_source()
    };
    server.fail_next(Target::Token, 1, Fault::ExpiresInAsString);
    let token = source(RetryPolicy::none()).fetch().await.unwrap();
    assert_eq!(token.lifetime().unwrap().as_secs(), 3600);
    server.fail_next(Target::Token, 1, Fault::FormEncodedSuccess);
    source(RetryPolicy::none()).fetch().await.unwrap();

    server.fail_next(Target::Token, 1, Fault::CloseConnection);
    let err = source(RetryPolicy::none()).fetch().await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Transport { .. }), "{err:?}");
    server.fail_next(Target::Token, 1, Fault::TruncatedJson);
    let err = source(RetryPolicy::none()).fetch().await.unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");

    server.fail_next(Target::Token, 2, Fault::service_unavailable());
    source(fast_retries(3)).fetch().await.unwrap();
}
