//! `BearerAuth::discover` against the embedded server's protected resource: from its 401 to a
//! token (metadata, registration, a loopback sign-in), step-up, the store, and refusals.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokensmith_oauth2::MemoryStore;
use tokensmith_oauth2::resource::{ClientMetadata, LoopbackRedirect, ResourceAuth};
use tokensmith_reqwest::reqwest_middleware::ClientWithMiddleware;
use tokensmith_reqwest::{BearerAuth, auth_error};
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint, TestServer};
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, Respond, ResponseTemplate};

/// Stands in for the user's browser: opens the authorization URL and follows the server's
/// redirect to the loopback redirect URI.
fn browser() -> LoopbackRedirect {
    LoopbackRedirect::new()
        .timeout(Duration::from_secs(20))
        .open_with(|url| {
            let url = url.clone();
            tokio::spawn(async move {
                let _ = reqwest::Client::new().get(url).send().await;
            });
            Ok(())
        })
}

fn user(server: &TestServer) -> tokensmith_oauth2::resource::ResourceAuthBuilder {
    ResourceAuth::builder(server.url_of("/resource"))
        .loopback(browser())
        .registration(ClientMetadata::new("discover test"))
}

/// The discovering middleware's client for `auth`.
fn discovering(auth: ResourceAuth) -> ClientWithMiddleware {
    BearerAuth::discover(auth)
        .build()
        .unwrap()
        .into_client(None)
        .unwrap()
}

/// A `GET` that must succeed, and its JSON.
async fn get_json(client: &ClientWithMiddleware, url: impl AsRef<str>) -> Value {
    json(client.get(url.as_ref()).send().await.unwrap()).await
}

async fn json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test]
async fn a_401_leads_to_registration_sign_in_and_a_token_for_that_resource() {
    let server = TestServer::start().await.unwrap();
    let client = discovering(user(&server).build().unwrap());
    let answer = get_json(&client, server.url_of("/resource/files")).await;
    assert_eq!(answer["resource"], server.url_of("/resource"));
    assert_eq!(answer["scope"], "files:read");
    assert!(answer["client_id"].as_str().unwrap().starts_with("client"));
    // The chain, once: a request without a token, the resource's metadata, the server's
    // metadata, one registration, one sign-in, one token request that names the resource.
    assert_eq!(server.requests_to(Endpoint::Registration).len(), 1);
    assert_eq!(server.requests_to(Endpoint::Discovery).len(), 1);
    let authorize = server.requests_to(Endpoint::Authorize);
    assert_eq!(authorize.len(), 1);
    for key in ["resource", "code_challenge", "scope"] {
        assert!(authorize[0].query_keys.iter().any(|k| k == key), "{key}");
    }
    let token = server.requests_to(Endpoint::Token);
    assert_eq!(token.len(), 1);
    assert!(token[0].has_form_key("resource") && token[0].has_form_key("code_verifier"));
    let resource = server.requests_to(Endpoint::Resource);
    assert!(resource[0].header("authorization").is_none());

    // The next request carries the cached token at once.
    get_json(&client, server.url_of("/resource/other")).await;
    assert_eq!(server.requests_to(Endpoint::Token).len(), 1);
    let last = server.requests_to(Endpoint::Resource).pop().unwrap();
    assert_eq!(last.header("authorization"), Some("Bearer [masked]"));
}

#[tokio::test]
async fn a_403_for_more_scope_authorizes_again_with_the_union_once() {
    let server = TestServer::start().await.unwrap();
    let client = discovering(user(&server).build().unwrap());
    get_json(&client, server.url_of("/resource/files")).await;
    let answer = json(
        client
            .post(server.url_of("/resource/files"))
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer["scope"], "files:read files:write");
    assert_eq!(server.requests_to(Endpoint::Authorize).len(), 2);
    // Reads work with the wider token; nothing more is asked.
    get_json(&client, server.url_of("/resource/files")).await;
    assert_eq!(server.requests_to(Endpoint::Authorize).len(), 2);
    assert_eq!(server.requests_to(Endpoint::Registration).len(), 1);
}

/// Serves `metadata` at `at` on `server` (a resource's RFC 9728 document).
async fn publish(server: &MockServer, at: &str, metadata: Value) {
    Mock::given(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_json(metadata))
        .mount(server)
        .await;
}

/// A resource that wants one more scope each time it is asked.
struct Escalating(AtomicUsize);

impl Respond for Escalating {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        if !request.headers.contains_key("authorization") {
            return ResponseTemplate::new(401)
                .insert_header("www-authenticate", "Bearer scope=\"s0\"");
        }
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(403).insert_header(
            "www-authenticate",
            format!("Bearer error=\"insufficient_scope\", scope=\"s{n}\"").as_str(),
        )
    }
}

#[tokio::test]
async fn step_ups_are_bounded_whatever_the_resource_asks() {
    let resource = MockServer::start().await;
    let authority = TestServer::start().await.unwrap();
    publish(
        &resource,
        "/.well-known/oauth-protected-resource/mcp",
        serde_json::json!({
        "resource": format!("{}/mcp", resource.uri()),
        "authorization_servers": [authority.url()],
        }),
    )
    .await;
    Mock::given(path("/mcp"))
        .respond_with(Escalating(AtomicUsize::new(0)))
        .mount(&resource)
        .await;
    let auth = ResourceAuth::builder(format!("{}/mcp", resource.uri()))
        .client_credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .max_step_ups(2)
        .build()
        .unwrap();
    let client = discovering(auth);
    for _ in 0..3 {
        let answer = client
            .post(format!("{}/mcp", resource.uri()))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403);
    }
    // The first token, then two step-ups; after that the refusals are the answers.
    assert_eq!(authority.requests_to(Endpoint::Token).len(), 3);
    // A 403 asking only for what the token has is the answer at once.
    let same = MockServer::start().await;
    publish(
        &same,
        "/.well-known/oauth-protected-resource",
        serde_json::json!({
        "resource": same.uri(),
        "authorization_servers": [authority.url()],
        }),
    )
    .await;
    Mock::given(path("/api"))
        .respond_with(ResponseTemplate::new(403).insert_header(
            "www-authenticate",
            "Bearer error=\"insufficient_scope\", scope=\"admin\"",
        ))
        .mount(&same)
        .await;
    let auth = ResourceAuth::builder(format!("{}/api", same.uri()))
        .client_credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .scope(["admin"])
        .build()
        .unwrap();
    let second = discovering(auth);
    let before = authority.requests_to(Endpoint::Token).len();
    let answer = second
        .get(format!("{}/api", same.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403);
    assert_eq!(authority.requests_to(Endpoint::Token).len(), before + 1);
}

#[tokio::test]
async fn a_registration_and_refresh_token_in_the_store_spare_the_next_process_a_sign_in() {
    let server = TestServer::start().await.unwrap();
    let store = Arc::new(MemoryStore::new());
    let first = discovering(user(&server).store(Arc::clone(&store)).build().unwrap());
    get_json(&first, server.url_of("/resource/x")).await;
    // A second provider over the same store (a process started again): its first request
    // carries the stored session's token, with no registration and no sign-in.
    let auth = ResourceAuth::builder(server.url_of("/resource"))
        .loopback(LoopbackRedirect::new().open_with(|_| {
            Err(tokensmith_core::Error::other(
                "no sign-in expected: the stored session should be used",
            ))
        }))
        .store(Arc::clone(&store))
        .build()
        .unwrap();
    let second = discovering(auth);
    get_json(&second, server.url_of("/resource/x")).await;
    assert_eq!(server.requests_to(Endpoint::Registration).len(), 1);
    assert_eq!(server.requests_to(Endpoint::Authorize).len(), 1);
    // The first process: without a token, then with one; the second: with one at once.
    let calls: Vec<Option<String>> = server
        .requests_to(Endpoint::Resource)
        .iter()
        .filter(|r| r.path == "/resource/x")
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    let bearer = Some("Bearer [masked]".to_owned());
    assert_eq!(calls, [None, bearer.clone(), bearer]);
}

#[tokio::test]
async fn a_resource_that_takes_dpop_bound_tokens_only_gets_no_bearer_token_request() {
    let resource = MockServer::start().await;
    let authority = TestServer::start().await.unwrap();
    publish(
        &resource,
        "/.well-known/oauth-protected-resource/mcp",
        serde_json::json!({
        "resource": format!("{}/mcp", resource.uri()),
        "authorization_servers": [authority.url()],
        "dpop_bound_access_tokens_required": true,
        }),
    )
    .await;
    Mock::given(path("/mcp"))
        .respond_with(
            ResponseTemplate::new(401).insert_header("www-authenticate", "DPoP algs=\"ES256\""),
        )
        .mount(&resource)
        .await;
    let auth = ResourceAuth::builder(format!("{}/mcp", resource.uri()))
        .client_credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .build()
        .unwrap();
    let error = discovering(auth)
        .get(format!("{}/mcp", resource.uri()))
        .send()
        .await
        .unwrap_err();
    let error = auth_error(&error).expect("a tokensmith error");
    assert!(error.to_string().contains("DPoP-bound"), "{error}");
    assert!(authority.requests_to(Endpoint::Token).is_empty());
}

#[tokio::test]
async fn a_machine_client_gets_its_token_from_the_metadata_alone() {
    let server = TestServer::start().await.unwrap();
    let auth = ResourceAuth::builder(server.url_of("/resource"))
        .client_credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .build()
        .unwrap();
    let printed = format!("{auth:?}");
    assert!(!printed.contains(DEFAULT_CLIENT_SECRET), "{printed}");
    let client = discovering(auth);
    let answer = get_json(&client, server.url_of("/resource/report")).await;
    assert_eq!(answer["client_id"], DEFAULT_CLIENT_ID);
    assert_eq!(answer["scope"], "files:read");
    assert!(server.requests_to(Endpoint::Registration).is_empty());
    assert!(server.requests_to(Endpoint::Authorize).is_empty());
}

#[tokio::test]
async fn the_token_goes_to_the_resource_only() {
    let server = TestServer::start().await.unwrap();
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    let auth = ResourceAuth::builder(server.url_of("/resource"))
        .client_credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .build()
        .unwrap();
    let client = discovering(auth);
    get_json(&client, server.url_of("/resource/a")).await;
    client
        .get(format!("{}/collect", elsewhere.uri()))
        .send()
        .await
        .unwrap();
    let seen = elsewhere.received_requests().await.unwrap();
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].headers.contains_key("authorization"));
    // Another resource on the same origin: no token, and its 401 is the answer.
    let other = client.get(server.url_of("/api/a")).send().await.unwrap();
    assert_eq!(other.status(), 401);
    let api = server.requests_to(Endpoint::Api);
    assert_eq!(api.len(), 1);
    assert!(api[0].header("authorization").is_none());
    assert_eq!(server.requests_to(Endpoint::Token).len(), 1);
}

#[tokio::test]
async fn metadata_for_another_resource_is_refused_before_any_token_request() {
    let resource = MockServer::start().await;
    let authority = TestServer::start().await.unwrap();
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        resource.uri()
    );
    Mock::given(path("/mcp"))
        .respond_with(ResponseTemplate::new(401).insert_header(
            "www-authenticate",
            format!("Bearer resource_metadata=\"{metadata_url}\"").as_str(),
        ))
        .mount(&resource)
        .await;
    publish(
        &resource,
        "/.well-known/oauth-protected-resource/mcp",
        serde_json::json!({
        "resource": "https://evil.example.com/mcp",
        "authorization_servers": [authority.url()],
        }),
    )
    .await;
    let auth = ResourceAuth::builder(format!("{}/mcp", resource.uri()))
        .client_credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .build()
        .unwrap();
    let client = discovering(auth);
    let error = client
        .post(format!("{}/mcp", resource.uri()))
        .body("{}")
        .send()
        .await
        .unwrap_err();
    let error = auth_error(&error).expect("a tokensmith error");
    assert!(
        matches!(error.kind(), tokensmith_core::ErrorKind::Refused { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("evil.example.com"), "{error}");
    assert!(authority.requests().is_empty());
}
