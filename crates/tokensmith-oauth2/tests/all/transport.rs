//! The transport seam: token requests and discovery through a hyper-util client instead of
//! reqwest, against the embedded authorization server on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokensmith_core::{ErrorCode, ErrorKind, TokenSource};
use tokensmith_http::transport::{Sending, Transport, TransportError, box_body};
use tokensmith_oauth2::{ClientAuth, ClientCredentials, Issuer, TokenEndpoint};
use tokensmith_testkit::{ClientConfig, Endpoint, TestServer};

/// A transport over hyper-util's client, counting what it sends.
struct Hyper {
    client: Client<HttpConnector, Full<Bytes>>,
    sent: Arc<AtomicUsize>,
}

impl Hyper {
    fn new() -> (Self, Arc<AtomicUsize>) {
        let sent = Arc::new(AtomicUsize::new(0));
        let client = Client::builder(TokioExecutor::new()).build_http();
        (
            Self {
                client,
                sent: Arc::clone(&sent),
            },
            sent,
        )
    }
}

impl Transport for Hyper {
    fn send(&self, request: http::Request<Bytes>) -> Sending<'_> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        let request = request.map(Full::new);
        Box::pin(async move {
            let response = self.client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    TransportError::connect(Box::new(e))
                } else {
                    TransportError::other(Box::new(e))
                }
            })?;
            Ok(response.map(box_body))
        })
    }
}

#[tokio::test]
async fn token_requests_go_through_a_hyper_transport() {
    let server = TestServer::builder()
        .client(ClientConfig::confidential("hyper-client", "canary-hyper-secret").basic_only())
        .start()
        .await
        .unwrap();
    let (transport, sent) = Hyper::new();
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id("hyper-client")
        .client_secret("canary-hyper-secret")
        .auth(ClientAuth::Basic)
        .transport(transport)
        .build()
        .unwrap();
    let token = ClientCredentials::new(endpoint.clone())
        .scope(["read"])
        .build_source()
        .fetch()
        .await
        .unwrap();
    assert!(!token.secret().expose_secret().is_empty());
    assert_eq!(sent.load(Ordering::SeqCst), 1);
    let logged = server.requests_to(Endpoint::Token);
    assert_eq!(logged.len(), 1);
    assert!(logged[0].has_form_key("grant_type"), "{:?}", logged[0]);
    assert_eq!(logged[0].header("authorization"), Some("Basic [masked]"));

    // A refusal read from the hyper answer is the same typed error as through reqwest.
    let wrong = TokenEndpoint::builder(server.token_url())
        .client_id("hyper-client")
        .client_secret("wrong-secret")
        .auth(ClientAuth::Basic)
        .transport(Hyper::new().0)
        .build()
        .unwrap();
    let err = ClientCredentials::new(wrong)
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth().unwrap().code,
        ErrorCode::InvalidClient,
        "{err:?}"
    );
}

#[tokio::test]
async fn a_transport_that_cannot_connect_is_a_transport_error_naming_the_endpoint() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = TokenEndpoint::builder(format!("http://127.0.0.1:{port}/token"))
        .client_id("c")
        .client_secret("canary-unreached")
        .retry(tokensmith_core::RetryPolicy::none())
        .transport(Hyper::new().0)
        .build()
        .unwrap();
    let err = ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    assert!(!format!("{err:?}").contains("canary-unreached"));
}

#[tokio::test]
async fn discovery_goes_through_the_issuers_transport() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    let issuer_url = server.uri();
    Mock::given(method("GET"))
        .and(path("/.well-known/oauth-authorization-server"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "issuer": issuer_url,
            "token_endpoint": format!("{issuer_url}/token"),
        })))
        .mount(&server)
        .await;
    let (transport, sent) = Hyper::new();
    let issuer = Issuer::builder(&issuer_url)
        .transport(transport)
        .build()
        .unwrap();
    let metadata = issuer.metadata().await.unwrap();
    assert_eq!(metadata.issuer, issuer_url);
    assert_eq!(sent.load(Ordering::SeqCst), 1);
}
