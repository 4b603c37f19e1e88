//! The layer on a tonic channel, against a tonic server on 127.0.0.1: the service is written
//! by hand over tonic's codec (no protoc), and accepts the tokens the embedded authorization
//! server issues until the test revokes one.

use std::collections::HashSet;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use tokensmith_core::Cached;
use tokensmith_oauth2::{ClientCredentials, GrantSource, TokenEndpoint};
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint, TestServer};
use tokensmith_tower::AuthLayer;
use tonic::body::Body;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use tower_layer::Layer;

#[derive(Clone, PartialEq, prost::Message)]
struct Ping {
    #[prost(string, tag = "1")]
    text: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Pong {
    #[prost(string, tag = "1")]
    text: String,
}

/// The gRPC server: `/test.Pinger/Ping`, for a bearer token that is not revoked.
#[derive(Clone, Default)]
struct Pinger {
    revoked: Arc<Mutex<HashSet<String>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl tonic::server::UnaryService<Ping> for Pinger {
    type Response = Pong;
    type Future = BoxFuture<Result<tonic::Response<Pong>, Status>>;

    fn call(&mut self, request: tonic::Request<Ping>) -> Self::Future {
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned);
        let me = self.clone();
        Box::pin(async move {
            let token = token.ok_or_else(|| Status::unauthenticated("no token"))?;
            me.seen.lock().unwrap().push(token.clone());
            if me.revoked.lock().unwrap().contains(&token) {
                return Err(Status::unauthenticated("token revoked"));
            }
            Ok(tonic::Response::new(Pong {
                text: format!("pong: {}", request.into_inner().text),
            }))
        })
    }
}

impl tower_service::Service<http::Request<Body>> for Pinger {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let me = self.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Pong, Ping>::default());
            Ok(grpc.unary(me, request).await)
        })
    }
}

async fn ping<S>(channel: &mut tonic::client::Grpc<S>, text: &str) -> Result<String, Status>
where
    S: tonic::client::GrpcService<Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <S::ResponseBody as http_body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    channel
        .ready()
        .await
        .map_err(|e| Status::unavailable(e.into().to_string()))?;
    let answer: tonic::Response<Pong> = channel
        .unary(
            tonic::Request::new(Ping { text: text.into() }),
            PathAndQuery::from_static("/test.Pinger/Ping"),
            ProstCodec::<Ping, Pong>::default(),
        )
        .await?;
    Ok(answer.into_inner().text)
}

/// A listener on 127.0.0.1 for a gRPC server, and the embedded authorization server with the
/// cache of its tokens and a gRPC client through the layer to that listener's address.
async fn through_layer() -> (
    tokio::net::TcpListener,
    TestServer,
    Cached<GrantSource>,
    tonic::client::Grpc<tokensmith_tower::Auth<tonic::transport::Channel>>,
) {
    let auth = TestServer::start().await.unwrap();
    let endpoint = TokenEndpoint::builder(auth.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .build()
        .unwrap();
    let tokens = ClientCredentials::new(endpoint).build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let channel = tonic::transport::Endpoint::from_shared(origin.clone())
        .unwrap()
        .connect_lazy();
    let layer = AuthLayer::builder(tokens.clone())
        .for_origin(&origin)
        .build()
        .unwrap();
    let client = tonic::client::Grpc::new(layer.layer(channel));
    (listener, auth, tokens, client)
}

#[tokio::test]
async fn a_channel_carries_the_token_and_unauthenticated_invalidates_it() {
    let (listener, auth, tokens, mut client) = through_layer().await;
    let pinger = Pinger::default();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .serve_with_incoming(pinger.clone(), TcpIncoming::from(listener)),
    );

    assert_eq!(ping(&mut client, "one").await.unwrap(), "pong: one");
    let first = tokens.token().await.unwrap();
    assert_eq!(
        pinger.seen.lock().unwrap()[0],
        first.secret().expose_secret()
    );

    // The server stops accepting the token: gRPC `Unauthenticated` invalidates it. A tonic
    // body streams, so this call gets the refusal; the next one goes with a fresh token.
    pinger
        .revoked
        .lock()
        .unwrap()
        .insert(first.secret().expose_secret().to_owned());
    let refused = ping(&mut client, "two").await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(ping(&mut client, "three").await.unwrap(), "pong: three");
    let second = tokens.token().await.unwrap();
    assert!(!second.same_as(&first));
    assert_eq!(auth.requests_to(Endpoint::Token).len(), 2);
    assert_eq!(
        pinger.seen.lock().unwrap().last().map(String::as_str),
        Some(second.secret().expose_secret())
    );
    server.abort();
}

/// A gRPC server that refuses a revoked token the way streaming servers do: headers, a
/// message, then `grpc-status: 16` in the trailers (not a trailers-only answer).
#[derive(Clone, Default)]
struct TrailerRefuser {
    revoked: Arc<Mutex<HashSet<String>>>,
}

impl tower_service::Service<http::Request<Body>> for TrailerRefuser {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        use http_body_util::BodyExt;
        use prost::Message;
        let token = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("")
            .to_owned();
        let refused = self.revoked.lock().unwrap().contains(&token);
        Box::pin(async move {
            // One message in gRPC framing: a compression flag, the length, the bytes.
            let message = Pong {
                text: "partial".into(),
            }
            .encode_to_vec();
            let mut frame = vec![0u8];
            frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
            frame.extend_from_slice(&message);
            let mut trailers = http::HeaderMap::new();
            let status = if refused { "16" } else { "0" };
            trailers.insert("grpc-status", http::HeaderValue::from_static(status));
            let body = http_body_util::Full::new(bytes::Bytes::from(frame))
                .map_err(|never| match never {})
                .with_trailers(async move { Some(Ok::<_, Infallible>(trailers)) });
            Ok(http::Response::builder()
                .header("content-type", "application/grpc")
                .body(Body::new(body))
                .unwrap())
        })
    }
}

#[tokio::test]
async fn unauthenticated_in_the_trailers_invalidates_the_token() {
    let (listener, auth, tokens, mut client) = through_layer().await;
    let refuser = TrailerRefuser::default();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .serve_with_incoming(refuser.clone(), TcpIncoming::from(listener)),
    );

    assert_eq!(ping(&mut client, "one").await.unwrap(), "partial");
    let first = tokens.token().await.unwrap();
    refuser
        .revoked
        .lock()
        .unwrap()
        .insert(first.secret().expose_secret().to_owned());
    let refused = ping(&mut client, "two").await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        tokens.current().is_none(),
        "the refused token is no longer served"
    );
    assert_eq!(ping(&mut client, "three").await.unwrap(), "partial");
    let second = tokens.token().await.unwrap();
    assert!(!second.same_as(&first));
    assert_eq!(auth.requests_to(Endpoint::Token).len(), 2);
    server.abort();
}
