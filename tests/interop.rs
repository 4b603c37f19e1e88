//! Interop: tokensmith's public API against a real authorization server (oidc-provider).
//!
//! These tests are ignored by `cargo test`; `cargo xtask interop` (part of `cargo xtask ci`)
//! starts the server and runs them with `--ignored`.

use std::sync::Arc;

#[path = "interop_support/mod.rs"]
mod support;
use support::user_agent;

use tokensmith::oauth2::{
    AuthorizationCode, ClientAuth, ClientCredentials, GrantRequest, RefreshTokenGrant,
    TokenEndpoint,
};
use tokensmith::reqwest::BearerAuth;
use tokensmith::{ErrorCode, TokenProvider, TokenSource};

const WHY: &str = "needs the interop server: run `cargo xtask interop`";

struct Server {
    issuer: String,
    resource: String,
    secret: String,
    redirect_uri: String,
}

fn server() -> Server {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run these tests through `cargo xtask interop`")
        })
    };
    Server {
        issuer: var("TOKENSMITH_INTEROP_ISSUER"),
        resource: var("TOKENSMITH_INTEROP_RESOURCE"),
        secret: var("TOKENSMITH_INTEROP_SECRET"),
        redirect_uri: var("TOKENSMITH_INTEROP_REDIRECT_URI"),
    }
}

fn endpoint(
    server: &Server,
    client: &str,
    secret: Option<&str>,
    auth: ClientAuth,
) -> TokenEndpoint {
    let mut builder = TokenEndpoint::builder(format!("{}/token", server.issuer))
        .client_id(client)
        .auth(auth);
    if let Some(secret) = secret {
        builder = builder.client_secret(secret);
    }
    builder.build().unwrap()
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn client_credentials_with_basic_encodes_an_odd_secret_correctly() {
    let s = server();
    assert!(
        s.secret.contains(':') && s.secret.contains('%') && s.secret.contains(' '),
        "{WHY}"
    );
    let token = ClientCredentials::new(endpoint(
        &s,
        "basic-client",
        Some(&s.secret),
        ClientAuth::Basic,
    ))
    .build_source()
    .fetch()
    .await
    .unwrap();
    assert!(token.lifetime().is_some());
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn client_credentials_with_body_authentication() {
    let s = server();
    ClientCredentials::new(endpoint(
        &s,
        "post-client",
        Some(&s.secret),
        ClientAuth::RequestBody,
    ))
    .build_source()
    .fetch()
    .await
    .unwrap();
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn auto_detect_settles_on_what_the_server_accepts() {
    // oidc-provider accepts client_secret_basic and client_secret_post alike for confidential
    // clients, so Basic, tried first, is what is learned; the fall back to the body is proven
    // against the testkit, whose clients can refuse Basic.
    let s = server();
    for client in ["post-client", "basic-client"] {
        let endpoint = endpoint(&s, client, Some(&s.secret), ClientAuth::AutoDetect);
        ClientCredentials::new(endpoint.clone())
            .build_source()
            .fetch()
            .await
            .unwrap();
        assert_eq!(endpoint.learned_auth(), Some(ClientAuth::Basic), "{client}");
    }
    let wrong = endpoint(&s, "post-client", Some("wrong"), ClientAuth::AutoDetect);
    let err = ClientCredentials::new(wrong)
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    assert!(
        err.hint()
            .unwrap()
            .contains("both client authentication styles were refused"),
        "{err}"
    );
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn a_wrong_secret_is_invalid_client_with_a_hint() {
    let s = server();
    let err = ClientCredentials::new(endpoint(
        &s,
        "basic-client",
        Some("wrong"),
        ClientAuth::Basic,
    ))
    .build_source()
    .fetch()
    .await
    .unwrap_err();
    assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidClient);
    assert!(err.hint().unwrap().contains("client id/secret"), "{err}");
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn a_jwt_for_a_resource_is_attached_by_the_middleware_and_validated_by_it() {
    let s = server();
    let provider = ClientCredentials::new(endpoint(
        &s,
        "basic-client",
        Some(&s.secret),
        ClientAuth::Basic,
    ))
    .scope(["api:read"])
    .resource(&s.resource)
    .build();
    let token = provider.token().await.unwrap();
    assert_eq!(
        token.secret().expose_secret().split('.').count(),
        3,
        "a JWT"
    );
    let shared: Arc<dyn TokenProvider> = Arc::new(provider);
    let client = BearerAuth::builder(shared)
        .for_origin(&s.resource)
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    let answer = client.get(&s.resource).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: serde_json::Value = serde_json::from_str(&answer.text().await.unwrap()).unwrap();
    assert_eq!(body["client_id"], "basic-client");
    assert_eq!(body["scope"], "api:read");
}

fn code_flow(s: &Server, endpoint: TokenEndpoint) -> AuthorizationCode {
    AuthorizationCode::new(endpoint, format!("{}/auth", s.issuer), &s.redirect_uri)
        .unwrap()
        .scope(["openid", "offline_access"])
        .param("prompt", "consent")
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn the_code_flow_with_pkce_end_to_end_then_refresh_without_rotation() {
    let s = server();
    let endpoint = endpoint(&s, "public-client", None, ClientAuth::None);
    let pending = code_flow(&s, endpoint.clone()).start().unwrap();
    let callback = user_agent(&pending, &s.redirect_uri).await;
    let tokens = pending.finish_url(&callback).await.unwrap();
    let first_refresh = tokens.refresh_token().unwrap().expose_secret().to_owned();
    let source = RefreshTokenGrant::from_response(endpoint, tokens)
        .unwrap()
        .build_source();
    source.fetch().await.unwrap();
    source.fetch().await.unwrap();
    assert_eq!(
        source.refresh_token().unwrap().expose_secret(),
        first_refresh,
        "no rotation"
    );
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn a_confidential_client_runs_the_code_flow_with_basic() {
    let s = server();
    let endpoint = endpoint(&s, "code-client", Some(&s.secret), ClientAuth::Basic);
    let pending = code_flow(&s, endpoint).start().unwrap();
    let callback = user_agent(&pending, &s.redirect_uri).await;
    let tokens = pending.finish_url(&callback).await.unwrap();
    assert!(tokens.refresh_token().is_some());
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn refresh_with_rotation_retires_the_old_refresh_token() {
    let s = server();
    let endpoint = endpoint(&s, "rotating-client", None, ClientAuth::None);
    let pending = code_flow(&s, endpoint.clone()).start().unwrap();
    let callback = user_agent(&pending, &s.redirect_uri).await;
    let tokens = pending.finish_url(&callback).await.unwrap();
    let first = tokens.refresh_token().unwrap().expose_secret().to_owned();
    let source = RefreshTokenGrant::from_response(endpoint.clone(), tokens)
        .unwrap()
        .build_source();
    source.fetch().await.unwrap();
    let second = source.refresh_token().unwrap().expose_secret().to_owned();
    assert_ne!(first, second, "rotated");
    let stale = GrantRequest::new("refresh_token")
        .secret_param("refresh_token", &first)
        .single_use();
    let err = endpoint.exchange(&stale).await.unwrap_err();
    assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidGrant);
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn a_reused_code_is_invalid_grant_with_the_redirect_and_code_hint() {
    let s = server();
    let endpoint = endpoint(&s, "public-client", None, ClientAuth::None);
    let pending = code_flow(&s, endpoint.clone()).start().unwrap();
    let callback = user_agent(&pending, &s.redirect_uri).await;
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    pending.finish_url(&callback).await.unwrap();
    let again = GrantRequest::new("authorization_code")
        .secret_param("code", &code)
        .param("redirect_uri", &s.redirect_uri)
        .single_use();
    let err = endpoint.exchange(&again).await.unwrap_err();
    assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidGrant);
    assert!(
        err.hint().unwrap().contains("redirect_uri") && err.hint().unwrap().contains("single-use")
    );
}
