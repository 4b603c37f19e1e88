//! The layer on a hyper-util client, against the embedded server (axum) on 127.0.0.1.

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokensmith_core::{RequestAuth, StaticToken};
use tokensmith_oauth2::{ClientCredentials, TokenEndpoint};
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint, TestServer};
use tokensmith_tower::AuthLayer;
use tower::ServiceExt;
use tower_layer::Layer;

fn get(url: String) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test]
async fn tokens_go_to_the_named_origin_and_a_401_gets_a_fresh_one() {
    let server = TestServer::start().await.unwrap();
    let elsewhere = TestServer::start().await.unwrap();
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .build()
        .unwrap();
    let tokens = ClientCredentials::new(endpoint).build();
    let layer = AuthLayer::builder(tokens.clone())
        .for_origin(server.url())
        .header("x-api-key", "key-1")
        .build()
        .unwrap();
    let client = layer.layer(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());

    let answer = client
        .clone()
        .oneshot(get(server.url_of("/api/orders")))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let seen = &server.requests_to(Endpoint::Api)[0];
    assert_eq!(seen.header("authorization"), Some("Bearer [masked]"));
    assert!(seen.header("x-api-key").is_some());

    // The server revokes the token: the POST is refused, replayed once with a fresh token.
    let token = tokens.token().await.unwrap();
    assert!(server.revoke(token.secret().expose_secret()));
    let post = Request::post(server.url_of("/api/orders"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{\"item\":1}")))
        .unwrap();
    let answer = client.clone().oneshot(post).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(server.requests_to(Endpoint::Token).len(), 2);
    assert_eq!(
        server.requests_to(Endpoint::Api).len(),
        3,
        "the refused try and the retry"
    );

    // Another origin gets neither the token nor the key; a request may opt out.
    let answer = client
        .clone()
        .oneshot(get(elsewhere.url_of("/api/x")))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let seen = &elsewhere.requests_to(Endpoint::Api)[0];
    assert!(seen.header("authorization").is_none() && seen.header("x-api-key").is_none());
    let mut skip = get(server.url_of("/api/public"));
    skip.extensions_mut().insert(RequestAuth::Skip);
    let answer = client.clone().oneshot(skip).await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_that_cannot_be_replaced_returns_the_401() {
    let server = TestServer::start().await.unwrap();
    let layer = AuthLayer::builder(StaticToken::bearer("not-issued-here").unwrap())
        .for_origin(server.url())
        .build()
        .unwrap();
    let client = layer.layer(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let answer = client.oneshot(get(server.url_of("/api/x"))).await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        server.requests_to(Endpoint::Api).len(),
        1,
        "no retry with the same token"
    );
}

#[tokio::test]
async fn a_provider_error_is_the_services_error() {
    let server = TestServer::start().await.unwrap();
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret("canary-wrong-secret")
        .build()
        .unwrap();
    let layer = AuthLayer::builder(ClientCredentials::new(endpoint).build())
        .for_origin(server.url())
        .build()
        .unwrap();
    let client = layer.layer(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let err = client
        .oneshot(get(server.url_of("/api/x")))
        .await
        .unwrap_err();
    let err = err.downcast::<tokensmith_core::Error>().unwrap();
    assert!(err.oauth().is_some(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("canary-wrong-secret"));
    assert_eq!(server.requests_to(Endpoint::Api).len(), 0);
}

/// The embedded server requiring DPoP nonces, a key, and the cache of the DPoP-bound tokens
/// the server issues for it.
#[cfg(feature = "dpop")]
async fn dpop_setup(
    nonces: bool,
) -> (
    TestServer,
    tokensmith_http::dpop::DpopKey,
    tokensmith_core::Cached<tokensmith_oauth2::GrantSource>,
) {
    let mut server = TestServer::builder();
    if nonces {
        server = server.require_dpop_nonce();
    }
    let server = server.start().await.unwrap();
    let key = tokensmith_http::dpop::DpopKey::generate().unwrap();
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .dpop(key.clone())
        .build()
        .unwrap();
    let tokens = ClientCredentials::new(endpoint).build();
    (server, key, tokens)
}

#[cfg(feature = "dpop")]
#[tokio::test]
async fn dpop_bound_tokens_go_with_a_proof_per_request() {
    let (server, key, tokens) = dpop_setup(true).await;
    let with_key = AuthLayer::builder(tokens.clone())
        .for_origin(server.url())
        .dpop(key)
        .build()
        .unwrap()
        .layer(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    for path in ["/api/a?x=1", "/api/b"] {
        let answer = with_key
            .clone()
            .oneshot(get(server.url_of(path)))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
    }
    let keyless = AuthLayer::builder(tokens)
        .for_origin(server.url())
        .build()
        .unwrap()
        .layer(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let err = keyless
        .oneshot(get(server.url_of("/api/c")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("DPoP"), "{err}");
}

/// A DPoP nonce challenge to a request whose body streams: the token stays cached, the nonce
/// is kept, the refusal is the answer, and the next request carries the new nonce.
#[cfg(feature = "dpop")]
#[tokio::test]
async fn a_nonce_challenge_to_a_streaming_body_keeps_the_token() {
    use http_body_util::BodyExt;
    use http_body_util::combinators::BoxBody;
    type Streamed = BoxBody<Bytes, std::convert::Infallible>;
    let (server, key, tokens) = dpop_setup(true).await;
    let client = AuthLayer::builder(tokens.clone())
        .for_origin(server.url())
        .dpop(key)
        .build()
        .unwrap()
        .layer(Client::builder(TokioExecutor::new()).build_http::<Streamed>());
    let post = |n: u8| {
        Request::post(server.url_of("/api/upload"))
            .body(Full::new(Bytes::from(vec![n; 4])).boxed())
            .unwrap()
    };
    let answer = client.clone().oneshot(post(1)).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let first = tokens.token().await.unwrap();
    // The token endpoint's own nonce round is counted here.
    let token_requests = server.requests_to(Endpoint::Token).len();

    server.rotate_dpop_nonce();
    let answer = client.clone().oneshot(post(2)).await.unwrap();
    assert_eq!(
        answer.status(),
        StatusCode::UNAUTHORIZED,
        "a stream is not sent twice"
    );
    let kept = tokens.current().expect("the token stays cached");
    assert!(kept.same_as(&first));

    let answer = client.clone().oneshot(post(3)).await.unwrap();
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "the next request has the new nonce"
    );
    assert_eq!(
        server.requests_to(Endpoint::Token).len(),
        token_requests,
        "no token fetched again"
    );
    assert!(tokens.token().await.unwrap().same_as(&first));
}

/// A `CONNECT` to another host through a layer with one origin: hyper-util sends it to that
/// host, so it must carry neither the token nor the API key.
#[tokio::test]
async fn a_connect_request_carries_no_credentials() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let api = TestServer::start().await.unwrap();
    let evil = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let evil_at = evil.local_addr().unwrap();
    let received = tokio::spawn(async move {
        let (mut socket, _) = evil.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 16 * 1024 {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        socket
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8_lossy(&seen).into_owned()
    });
    let client = AuthLayer::builder(StaticToken::bearer("canary-connect-token").unwrap())
        .for_origin(api.url())
        .header("x-api-key", "canary-connect-key")
        .build()
        .unwrap()
        .layer(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let connect = Request::connect(evil_at.to_string())
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), client.oneshot(connect))
        .await
        .expect("the tunnel answers")
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .unwrap()
        .unwrap();
    assert!(seen.starts_with("CONNECT "), "{seen}");
    assert!(!seen.contains("canary-connect"), "{seen}");
    assert!(
        !seen.to_ascii_lowercase().contains("authorization"),
        "{seen}"
    );
}

/// What a redirect follower outside the layer (tower-http's `FollowRedirect`) sends for the
/// next hop: the first request's headers, DPoP proof included. The hop gets a proof of its
/// own, for its own URL.
#[cfg(feature = "dpop")]
#[tokio::test]
async fn a_hop_with_a_copied_dpop_proof_gets_a_new_one() {
    let (server, key, tokens) = dpop_setup(false).await;
    let token = tokens.token().await.unwrap();
    let first_url = url::Url::parse(&server.url_of("/api/old")).unwrap();
    let copied_proof = key
        .proof("GET", &first_url, Some(token.secret().expose_secret()))
        .unwrap();
    let client = AuthLayer::builder(tokens)
        .for_origin(server.url())
        .dpop(key)
        .build()
        .unwrap()
        .layer(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());
    let hop = Request::get(server.url_of("/api/new"))
        .header("authorization", token.authorization_header())
        .header("dpop", copied_proof)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = client.oneshot(hop).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
}

#[tokio::test]
async fn discovery_leads_from_the_401_to_a_token_and_steps_up_for_a_write() {
    use tokensmith_oauth2::resource::ResourceAuth;

    let server = TestServer::start().await.unwrap();
    let auth = ResourceAuth::builder(server.url_of("/resource"))
        .client_credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .build()
        .unwrap();
    let layer = AuthLayer::discover(auth).build().unwrap();
    let client = layer.layer(Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>());

    let answer = client
        .clone()
        .oneshot(get(server.url_of("/resource/files")))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let seen = server.requests_to(Endpoint::Resource);
    // Without a token, the metadata, then with the token.
    assert!(seen[0].header("authorization").is_none());
    assert_eq!(
        seen.last().unwrap().header("authorization"),
        Some("Bearer [masked]")
    );
    assert_eq!(server.requests_to(Endpoint::Token).len(), 1);

    // A write wants one more scope: one more token, with both.
    let post = Request::post(server.url_of("/resource/files"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let answer = client.clone().oneshot(post).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(server.requests_to(Endpoint::Token).len(), 2);
    let body = http_body_util::BodyExt::collect(answer.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["scope"], "files:read files:write");

    // Another origin gets no token.
    let elsewhere = TestServer::start().await.unwrap();
    let answer = client
        .clone()
        .oneshot(get(elsewhere.url_of("/api/x")))
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    assert!(
        elsewhere.requests_to(Endpoint::Api)[0]
            .header("authorization")
            .is_none()
    );
}
