//! The secret-leak sweep: canary client secret, password, API key, access token and refresh
//! token; every crate's success and error paths driven under a TRACE subscriber; every error
//! and value formatted with `{}`, `{:?}` and `{:#?}`; no canary anywhere.

use std::sync::Arc;
use std::time::Duration;
use tokensmith::RetryPolicy;

use serde_json::json;
use tokensmith::oauth2::{
    AuthorizationCode, ClientAuth, ClientCredentials, DeviceAuthorization, FileStore, MemoryStore,
    Password, RefreshTokenGrant, StoredTokens, TokenEndpoint, TokenStore,
};
use tokensmith::reqwest::BearerAuth;
use tokensmith::{TokenProvider, TokenSource};
use tokensmith_airvantage::{AirVantageClient, Region, SystemsQuery};
use tokensmith_avionte::{AvionteClient, Tenant};
use tokensmith_testkit::{ClientConfig, Fault, Target, TestServer, TraceCapture};
use wiremock::matchers::{body_string_contains, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "canary-secret-0a1";
const PASSWORD: &str = "canary-password-0b2";
const API_KEY: &str = "canary-apikey-0c3";
const ACCESS: &str = "canary-access-0d4";
const REFRESH: &str = "canary-refresh-0e5";
const CANARIES: [&str; 5] = [SECRET, PASSWORD, API_KEY, ACCESS, REFRESH];

/// Everything formatted or logged during the sweep.
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn all<T: std::fmt::Debug + std::fmt::Display>(&mut self, value: &T) {
        self.0.push(format!("{value} {value:?} {value:#?}"));
    }

    fn debug<T: std::fmt::Debug>(&mut self, value: &T) {
        self.0.push(format!("{value:?} {value:#?}"));
    }
}

/// A token endpoint that issues the canary tokens, and rejects the canary refresh token.
async fn canary_issuer() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(body_string_contains("grant_type=refresh_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": format!("refresh token {REFRESH} is revoked")
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": ACCESS, "token_type": "bearer", "expires_in": 3600,
            "refresh_token": REFRESH, "id_token": ACCESS,
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!("bad token {ACCESS}")))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn no_canary_reaches_logs_errors_or_debug_output() {
    let capture = TraceCapture::global();
    let mut seen = Seen::default();

    // tokensmith-oauth2 against a server that issues and echoes the canaries.
    let issuer = canary_issuer().await;
    let endpoint = TokenEndpoint::builder(format!("{}/token", issuer.uri()))
        .client_id("client")
        .client_secret(SECRET)
        .header("x-api-key", API_KEY)
        .auth(ClientAuth::AutoDetect)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    seen.debug(&endpoint);
    let password = Password::new(endpoint.clone(), "alice", PASSWORD).build_source();
    let token = password.fetch().await.unwrap();
    seen.debug(&token);
    seen.debug(&password);
    // The second fetch refreshes with the canary refresh token, is refused, falls back.
    password.fetch().await.unwrap();
    let refresh_only = RefreshTokenGrant::new(endpoint.clone(), REFRESH);
    seen.debug(&refresh_only);
    let err = refresh_only.build_source().fetch().await.unwrap_err();
    seen.all(&err);
    let cached = Password::new(endpoint.clone(), "alice", PASSWORD).build();
    let token = cached.token().await.unwrap();
    cached.invalidate(&token);
    seen.debug(&cached);

    // The middleware, over a canary provider, against an API that echoes and refuses.
    let shared: Arc<dyn TokenProvider> = Arc::new(cached.clone());
    let builder = BearerAuth::builder(Arc::clone(&shared))
        .for_origin(issuer.uri())
        .header("x-api-key", API_KEY);
    seen.debug(&builder);
    let auth = builder.build().unwrap();
    seen.debug(&auth);
    let client = auth.into_client(None).unwrap();
    let answer = client
        .get(format!("{}/api", issuer.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);

    // Error paths against the testkit: wrong secret, HTML echo, timeouts, closed connections.
    let server = TestServer::builder()
        .client(ClientConfig::confidential("canary-client", SECRET))
        .user("bob", PASSWORD)
        .start()
        .await
        .unwrap();
    let at = |auth, secret: &str, retry| {
        TokenEndpoint::builder(server.token_url())
            .client_id("canary-client")
            .client_secret(secret)
            .auth(auth)
            .retry(retry)
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap()
    };
    for auth in [
        ClientAuth::Basic,
        ClientAuth::RequestBody,
        ClientAuth::AutoDetect,
        ClientAuth::BasicUnencoded,
    ] {
        let err = ClientCredentials::new(at(auth, "wrong", RetryPolicy::none()))
            .build_source()
            .fetch()
            .await
            .unwrap_err();
        seen.all(&err);
    }
    let html = format!("<html>client_secret={SECRET} password={PASSWORD}</html>");
    for fault in [
        Fault::Status {
            status: 500,
            content_type: "text/html".into(),
            body: html,
            retry_after: None,
        },
        Fault::Delay(Duration::from_secs(2)),
        Fault::CloseConnection,
        Fault::TruncatedJson,
    ] {
        server.fail_next(Target::Token, 1, fault);
        let err = Password::new(
            at(ClientAuth::Basic, SECRET, RetryPolicy::none()),
            "bob",
            PASSWORD,
        )
        .build_source()
        .fetch()
        .await
        .unwrap_err();
        seen.all(&err);
    }
    let err = Password::new(
        at(ClientAuth::Basic, SECRET, RetryPolicy::none()),
        "bob",
        "wrong",
    )
    .build_source()
    .fetch()
    .await
    .unwrap_err();
    seen.all(&err);

    // User-delegated flows and stores.
    let flow = AuthorizationCode::new(
        at(ClientAuth::Basic, SECRET, RetryPolicy::none()),
        server.authorize_url(),
        tokensmith_testkit::DEFAULT_REDIRECT_URI,
    )
    .unwrap();
    let pending = flow.start().unwrap();
    seen.debug(&pending);
    seen.debug(&flow);
    let device = DeviceAuthorization::new(
        at(ClientAuth::Basic, SECRET, RetryPolicy::none()),
        server.device_authorization_url(),
    )
    .unwrap();
    seen.debug(&device);
    let store = MemoryStore::new();
    store
        .save(&StoredTokens::new(REFRESH.into(), Some(&token)))
        .await
        .unwrap();
    seen.debug(&store);
    seen.debug(&store.load().await.unwrap());
    seen.debug(&FileStore::new("/nonexistent/tokens.json"));

    // AirVantage: a wrong password, API errors, logout.
    let airvantage = tokensmith_airvantage::testing::Simulator::new("eu")
        .server()
        .client(ClientConfig::confidential("av-client", SECRET))
        .user("carol", PASSWORD)
        .start()
        .await
        .unwrap();
    let region: Region = airvantage.url().parse().unwrap();
    let av_builder = AirVantageClient::builder(region.clone())
        .client("av-client", SECRET)
        .password("carol", PASSWORD);
    seen.debug(&av_builder);
    let av = av_builder.build().unwrap();
    av.systems(&SystemsQuery::new()).await.unwrap();
    seen.debug(&av);
    av.logout().await.unwrap();
    let wrong = AirVantageClient::builder(region)
        .client("av-client", SECRET)
        .password("carol", "nope")
        .build()
        .unwrap();
    let err = wrong.current_user().await.unwrap_err();
    seen.all(&err);

    // Avionté: the canary API key, right and wrong.
    let avionte = tokensmith_avionte::testing::server()
        .gateway_key("x-api-key", API_KEY)
        .client(ClientConfig::confidential("avi-client", SECRET).body_only())
        .start()
        .await
        .unwrap();
    let avi_builder = AvionteClient::builder()
        .client("avi-client", SECRET)
        .api_key(API_KEY)
        .base_url(avionte.url());
    seen.debug(&avi_builder);
    let avi = avi_builder.build().unwrap();
    let talent = avi
        .tenant(Tenant::front_office_id("42"))
        .talent(3)
        .await
        .unwrap();
    seen.debug(&talent);
    seen.debug(&avi);
    let wrong = AvionteClient::builder()
        .client("avi-client", SECRET)
        .api_key("nope")
        .base_url(avionte.url())
        .build()
        .unwrap();
    let err = wrong
        .tenant(Tenant::short_code("x"))
        .talent(1)
        .await
        .unwrap_err();
    seen.all(&err);
    avionte.fail_next(Target::Api, 1, Fault::html_error(502));
    let err = avi
        .tenant(Tenant::front_office_id("42"))
        .talent(4)
        .await
        .unwrap_err();
    seen.all(&err);

    // And the testkit's own request log.
    seen.debug(&server.requests());
    seen.debug(&avionte.requests());

    let logs = capture.text();
    let issuer_at = issuer.address().to_string();
    assert!(
        logs.lines().any(|l| l.contains("TRACE")
            && l.contains("tokensmith.token_request")
            && l.contains(&issuer_at)),
        "TRACE output of this test's requests was captured"
    );
    seen.0.push(logs);
    for text in &seen.0 {
        for canary in CANARIES {
            assert!(
                !text.contains(canary),
                "{canary} leaked in: {}",
                excerpt_around(text, canary)
            );
        }
    }
}

fn excerpt_around(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(200)
        .map_or(0, |(i, _)| i);
    text[start..(at + needle.len()).min(text.len())].to_owned()
}
