//! User-delegated grants against the embedded server: the code flow with PKCE, the device
//! flow, and refresh tokens kept in a store.

use std::time::Duration;
use tokensmith_core::ErrorKind;

use tokensmith_core::ErrorCode;
use tokensmith_oauth2::{
    AuthorizationCode, Callback, ClientAuth, DeviceAuthorization, FileStore, GrantRequest,
    PendingAuthorization, RefreshTokenGrant, TokenEndpoint,
};
use tokensmith_testkit::{
    DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_REDIRECT_URI, Endpoint, Fault, Target, TestServer,
};

fn public_endpoint(server: &TestServer) -> TokenEndpoint {
    TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_PUBLIC_CLIENT_ID)
        .auth(ClientAuth::None)
        .build()
        .unwrap()
}

fn code_flow(server: &TestServer) -> AuthorizationCode {
    AuthorizationCode::new(
        public_endpoint(server),
        server.authorize_url(),
        DEFAULT_REDIRECT_URI,
    )
    .unwrap()
    .scope(["profile"])
}

/// Plays the browser: follows the authorization URL and returns where it was sent back to.
async fn user_agent(pending: &PendingAuthorization) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = browser.get(pending.url().clone()).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 302);
    answer.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_full_code_flow_with_pkce_feeds_a_refreshing_provider() {
    let server = TestServer::start().await.unwrap();
    let pending = code_flow(&server).start().unwrap();
    let url = pending.url().as_str().to_owned();
    assert!(url.contains("code_challenge_method=S256") && url.contains("state="));
    let callback = user_agent(&pending).await;
    let tokens = pending.finish_url(&callback).await.unwrap();
    assert!(tokens.refresh_token().is_some());

    let exchange = &server.requests_to(Endpoint::Token)[0];
    for key in [
        "grant_type",
        "code",
        "redirect_uri",
        "code_verifier",
        "client_id",
    ] {
        assert!(exchange.has_form_key(key), "{key} in the exchange body");
    }
    let provider = RefreshTokenGrant::from_response(public_endpoint(&server), tokens)
        .unwrap()
        .build();
    let first = provider.token().await.unwrap();
    assert_eq!(
        server.counters().token_requests,
        1,
        "the flow's access token is used first"
    );
    provider.invalidate(&first);
    let second = provider.token().await.unwrap();
    assert_ne!(
        first.secret().expose_secret(),
        second.secret().expose_secret()
    );
    assert!(server.requests_to(Endpoint::Token)[1].has_form_key("refresh_token"));
}

#[tokio::test]
async fn a_state_mismatch_is_refused_before_any_request() {
    let server = TestServer::start().await.unwrap();
    let pending = code_flow(&server).start().unwrap();
    let callback = Callback::from_url(&user_agent(&pending).await).unwrap();
    let other = code_flow(&server).start().unwrap();
    let err = other.finish(callback).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Refused { .. }), "{err}");
    assert!(err.to_string().contains("`state` does not match"), "{err}");
    assert!(err.hint().unwrap().contains("another sign-in attempt"));
    assert_eq!(server.counters().token_requests, 0);
}

#[tokio::test]
async fn an_error_in_the_callback_is_a_typed_error() {
    let server = TestServer::start().await.unwrap();
    let pending = code_flow(&server).start().unwrap();
    let query = format!(
        "error=access_denied&error_description=user+said+no&state={}",
        pending.state()
    );
    let err = pending
        .finish(Callback::from_query(&query))
        .await
        .unwrap_err();
    let oauth = err.oauth().unwrap();
    assert_eq!(oauth.code, ErrorCode::AccessDenied);
    assert_eq!(oauth.description.as_deref(), Some("user said no"));
    assert!(err.hint().unwrap().contains("declined"));
}

#[tokio::test]
async fn a_reused_code_or_another_redirect_uri_gets_the_redirect_hint() {
    let server = TestServer::start().await.unwrap();
    let pending = code_flow(&server).start().unwrap();
    let callback_url = user_agent(&pending).await;
    let code = url::Url::parse(&callback_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    pending.finish_url(&callback_url).await.unwrap();

    let endpoint = public_endpoint(&server);
    let reuse = GrantRequest::new("authorization_code")
        .secret_param("code", &code)
        .param("redirect_uri", DEFAULT_REDIRECT_URI)
        .single_use();
    let err = endpoint.exchange(&reuse).await.unwrap_err();
    assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidGrant);
    assert!(err.hint().unwrap().contains("single-use"), "{err}");

    let pending = code_flow(&server).start().unwrap();
    let callback_url = user_agent(&pending).await;
    let code = url::Url::parse(&callback_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let elsewhere = GrantRequest::new("authorization_code")
        .secret_param("code", &code)
        .param("redirect_uri", "http://127.0.0.1/elsewhere")
        .single_use();
    let err = endpoint.exchange(&elsewhere).await.unwrap_err();
    assert!(
        err.oauth()
            .unwrap()
            .description
            .as_deref()
            .unwrap()
            .contains("redirect_uri")
    );
    assert!(
        err.hint()
            .unwrap()
            .contains("redirect_uri of the code exchange must be identical")
    );
}

fn device_flow(server: &TestServer) -> DeviceAuthorization {
    DeviceAuthorization::new(public_endpoint(server), server.device_authorization_url())
        .unwrap()
        .scope(["profile"])
}

// Real time on a real socket: a 1 s interval, then the 5 s a slow_down adds (RFC 8628 §3.5).
#[tokio::test]
async fn device_flow_pending_then_slow_down_then_success() {
    let server = TestServer::builder()
        .device_timing(Duration::from_secs(1), Duration::from_secs(600))
        .start()
        .await
        .unwrap();
    server.fail_next(
        Target::Token,
        1,
        Fault::Status {
            status: 400,
            content_type: "application/json".into(),
            body: r#"{"error":"slow_down"}"#.into(),
            retry_after: None,
        },
    );
    let flow = device_flow(&server);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        flow.run(move |prompt| {
            let _ = tx.send(prompt.user_code.clone());
        })
        .await
    });
    let user_code = rx.await.unwrap();
    let started = std::time::Instant::now();
    for _ in 0..300 {
        if server.counters().token_requests >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Polls at 1 s (slow_down), then 6 s later (pending).
    assert_eq!(server.counters().token_requests, 2);
    assert!(started.elapsed() >= Duration::from_secs(6));
    assert!(server.approve_device(&user_code, "alice"));
    let tokens = task.await.unwrap().unwrap();
    assert!(tokens.refresh_token().is_some());
    assert_eq!(server.counters().token_requests, 3);
    let device_request = &server.requests_to(Endpoint::DeviceAuthorization)[0];
    assert!(!device_request.has_form_key("grant_type"));
    assert!(device_request.has_form_key("client_id"));
}

#[tokio::test]
async fn device_flow_expiry_and_denial_are_typed_errors() {
    let server = TestServer::builder()
        .device_timing(Duration::from_secs(1), Duration::from_secs(4))
        .start()
        .await
        .unwrap();
    let err = device_flow(&server).run(|_| {}).await.unwrap_err();
    assert_eq!(err.oauth().unwrap().code, ErrorCode::ExpiredToken);
    assert!(err.hint().unwrap().contains("start the flow again"));
    let requests = server.counters().token_requests;
    assert!(
        (2..=4).contains(&requests),
        "bounded by the code's lifetime: {requests}"
    );

    let denier = TestServer::builder()
        .device_timing(Duration::from_secs(1), Duration::from_secs(60))
        .start()
        .await
        .unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let flow = device_flow(&denier);
    let task = tokio::spawn(async move {
        flow.run(move |p| {
            let _ = tx.send(p.user_code.clone());
        })
        .await
    });
    assert!(denier.deny_device(&rx.await.unwrap()));
    let err = task.await.unwrap().unwrap_err();
    assert_eq!(err.oauth().unwrap().code, ErrorCode::AccessDenied);
}

#[tokio::test]
async fn rotated_refresh_tokens_are_persisted_and_picked_up_by_a_second_provider() {
    let server = TestServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.json");

    let pending = code_flow(&server).start().unwrap();
    let callback = user_agent(&pending).await;
    let tokens = pending.finish_url(&callback).await.unwrap();
    let first_refresh = tokens.refresh_token().unwrap().expose_secret().to_owned();
    let provider = RefreshTokenGrant::from_response(public_endpoint(&server), tokens)
        .unwrap()
        .store(FileStore::new(&path))
        .build_persisted()
        .await
        .unwrap();
    let token = provider.token().await.unwrap();
    provider.invalidate(&token);
    provider.token().await.unwrap();
    let saved = std::fs::read_to_string(&path).unwrap();
    assert!(
        !saved.contains(&first_refresh),
        "the rotated refresh token replaced the first"
    );

    // A second process: loads the store, serves the stored access token, refreshes with the
    // rotated refresh token (the first one was retired by rotation).
    let second = RefreshTokenGrant::load(public_endpoint(&server), FileStore::new(&path))
        .await
        .unwrap()
        .expect("tokens were stored")
        .build();
    let requests_before = server.counters().token_requests;
    let stored = second.token().await.unwrap();
    assert_eq!(
        server.counters().token_requests,
        requests_before,
        "the stored access token is used"
    );
    second.invalidate(&stored);
    second.token().await.unwrap();
    let last = server.requests_to(Endpoint::Token).pop().unwrap();
    assert!(last.has_form_key("refresh_token"));
    assert_eq!(server.counters().tokens_issued, 3);

    std::fs::write(&path, "{ corrupt").unwrap();
    let err = RefreshTokenGrant::load(public_endpoint(&server), FileStore::new(&path))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}

/// The server has already answered a refresh with a new refresh token when the user signs
/// out, and the answer arrives after: it is revoked and dropped, never kept in memory or the
/// store.
#[tokio::test]
async fn a_refresh_answered_after_sign_out_is_revoked_and_dropped() {
    use std::sync::Arc;
    use tokensmith_oauth2::{MemoryStore, RefreshTokenGrant, TokenStore};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({
                    "access_token": "at-2", "expires_in": 60, "refresh_token": "rt-late"
                }))
                .set_delay(std::time::Duration::from_millis(400)),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/revoke"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let endpoint = crate::support::endpoint(&server, ClientAuth::Basic)
        .revocation_url(format!("{}/revoke", server.uri()))
        .build()
        .unwrap();
    let store = Arc::new(MemoryStore::default());
    let source = Arc::new(
        RefreshTokenGrant::new(endpoint, "rt-1")
            .store(Arc::clone(&store))
            .build_source(),
    );
    let in_flight = {
        let source = Arc::clone(&source);
        tokio::spawn(async move { tokensmith_core::TokenSource::fetch(&*source).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    source.sign_out().await.unwrap();
    let err = in_flight.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("signed out"), "{err}");
    assert!(source.refresh_token().is_none(), "none in memory");
    assert!(store.load().await.unwrap().is_none(), "none in the store");
    let revoked: Vec<String> = crate::support::requests(&server)
        .await
        .iter()
        .filter(|r| r.url.path() == "/revoke")
        .filter_map(|r| crate::support::form_value(r, "token"))
        .collect();
    assert!(revoked.contains(&"rt-1".to_owned()), "{revoked:?}");
    assert!(
        revoked.contains(&"rt-late".to_owned()),
        "the late one too: {revoked:?}"
    );
}
