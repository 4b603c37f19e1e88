//! A [`tower`](https://docs.rs/tower) layer that attaches tokensmith tokens to
//! `http::Request`s: for hyper clients (`hyper_util::client::legacy::Client`), tonic channels,
//! and any other `tower::Service` over `http`.
//!
//! The rules are those of the reqwest middleware (`tokensmith-reqwest`):
//! - tokens (and extra headers, such as an API key) go only to the origins named with
//!   [`AuthLayerBuilder::for_origin`], over https or to loopback;
//! - a 401 answer (or a gRPC `Unauthenticated` status in the answer's headers) invalidates the
//!   token it answered; the request is sent once more with a fresh token when its body can be
//!   replayed ([`Full<Bytes>`](http_body_util::Full), `Empty<Bytes>`, `Bytes`, `String`,
//!   `Vec<u8>`); a streaming body (a tonic call) cannot be, so its caller gets the refusal and
//!   the next call a fresh token;
//! - [`RequestAuth`] in the request's extensions skips the token or picks another provider;
//! - with feature `dpop`, DPoP-bound tokens go with a proof per request (RFC 9449).
//!
//! A request whose URI has no scheme and authority (what a tonic `Channel` is handed; the
//! channel adds its own endpoint) is taken to go to the layer's origin when exactly one is
//! named, and gets no token otherwise.
//!
//! ```no_run
//! # async fn demo(provider: tokensmith_core::StaticToken) -> Result<(), Box<dyn std::error::Error>> {
//! use tokensmith_tower::AuthLayer;
//! use tower_layer::Layer;
//!
//! let layer = AuthLayer::builder(provider).for_origin("https://api.example.com").build()?;
//! // let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https);
//! // let service = layer.layer(client);
//! // let channel = layer.layer(tonic::transport::Channel::from_static("https://api.example.com").connect_lazy());
//! # let _ = layer;
//! # Ok(()) }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Empty, Full};
use tokensmith_core::{AccessToken, Error, TokenProvider};
use tokensmith_http::attach::RequestOrigin;
use tokensmith_http::{Attach, AttachBuilder, ChallengeHandler, Driver, Origins, Plan, Verdict};
use tower_layer::Layer;
use tower_service::Service;
use url::Url;

pub use tokensmith_core::RequestAuth;

/// The error of an [`Auth`] service: the inner service's, or a [`tokensmith_core::Error`]
/// (no token, an origin refused), boxed; downcast to tell them apart.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The `grpc-status` of `Unauthenticated` (gRPC status code 16).
const GRPC_UNAUTHENTICATED: &[u8] = b"16";

/// Builds [`Auth`] services around inner services. Cloning is cheap.
#[derive(Clone)]
pub struct AuthLayer {
    config: Arc<Attach>,
}

impl AuthLayer {
    /// A layer that attaches `provider`'s tokens; name the origins before building.
    pub fn builder(provider: impl TokenProvider + 'static) -> AuthLayerBuilder {
        AttachBuilder::new(provider)
    }

    /// A layer for the protected resource `handler` is for (a
    /// `tokensmith_oauth2::resource::ResourceAuth`): tokens go to its origin only; a request
    /// goes without one until the resource has challenged, and its challenges lead to the
    /// token (RFC 9728 metadata, the server's metadata, the client's registration, a sign-in),
    /// with step-up when a 403 asks for more scope. Bodies that can be copied
    /// (`Full<Bytes>`, `String`, …) are sent again after a challenge.
    pub fn discover(handler: impl TokenProvider + ChallengeHandler) -> AuthLayerBuilder {
        AttachBuilder::discover(handler)
    }
}

impl Driver for AuthLayer {
    const NAME: &'static str = "AuthLayer";
    const LAYER: &'static str = "tower";

    fn from_attach(attach: Attach) -> Self {
        Self {
            config: Arc::new(attach),
        }
    }
}

/// Settings of an [`AuthLayer`]: the origins its tokens may go to, extra headers, DPoP;
/// `build` checks them. The same settings as the reqwest middleware's builder.
pub type AuthLayerBuilder = AttachBuilder<AuthLayer>;

impl<S> Layer<S> for AuthLayer {
    type Service = Auth<S>;

    fn layer(&self, inner: S) -> Auth<S> {
        Auth {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.config.fmt(f)
    }
}

/// The service an [`AuthLayer`] wraps around `S`.
#[derive(Clone)]
pub struct Auth<S> {
    inner: S,
    config: Arc<Attach>,
}

impl<S: fmt::Debug> fmt::Debug for Auth<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("inner", &self.inner)
            .field("origins", &self.config.origins().serialised())
            .finish_non_exhaustive()
    }
}

impl<S, B, R> Service<Request<B>> for Auth<S>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Send + 'static,
{
    type Response = Response<AuthBody<R>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<AuthBody<R>>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The ready service handles this call; a fresh clone takes its place (tower's rule).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        Box::pin(call(config, inner, request))
    }
}

/// Where a request goes, for the origin rules and DPoP's `htu`: an absolute URI as it is; a
/// path without an authority (origin-form, what a tonic channel is handed) on the layer's one
/// origin. A `CONNECT` and any other request with an authority but no scheme (authority-form)
/// goes wherever its authority says, which is never taken for the layer's origin: they get no
/// credentials.
fn target<'a>(method: &Method, uri: &'a Uri, origins: &'a Origins) -> Option<RequestOrigin<'a>> {
    if method == Method::CONNECT {
        return None;
    }
    match (uri.scheme_str(), uri.authority()) {
        (Some(_), Some(_)) => RequestOrigin::of_uri(uri),
        (None, None) if uri.path().starts_with('/') => origins.single_origin(),
        _ => None,
    }
}

/// The request's URL: an absolute URI as it is, a path on the layer's one origin.
fn url_of(uri: &Uri, origins: &Origins) -> Option<Url> {
    match (uri.scheme_str(), uri.authority()) {
        (Some(_), Some(_)) => Url::parse(&uri.to_string()).ok(),
        _ => origins.single().and_then(|base| {
            base.join(uri.path_and_query().map_or("/", |p| p.as_str()))
                .ok()
        }),
    }
}

/// The request's URL for a DPoP proof's `htu`: made only when the layer has a DPoP key.
fn htu(config: &Attach, uri: &Uri) -> Option<Url> {
    config
        .proves_possession()
        .then(|| url_of(uri, config.origins()))
        .flatten()
}

/// Whether a request carries credentials, and its URL: the rules `call` applies.
#[cfg(test)]
fn allowed(config: &Attach, method: &Method, uri: &Uri) -> Result<Option<Url>, Error> {
    match target(method, uri, config.origins()) {
        Some(origin) if config.allows_origin(&origin)? => Ok(url_of(uri, config.origins())),
        _ => Ok(None),
    }
}

async fn call<S, B, R>(
    config: Arc<Attach>,
    mut inner: S,
    mut request: Request<B>,
) -> Result<Response<AuthBody<R>>, BoxError>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    let Some(origin) = target(request.method(), request.uri(), config.origins()) else {
        return answer(inner.call(request).await);
    };
    let plan = config.plan(
        &origin,
        request.headers(),
        request.extensions().get::<RequestAuth>(),
    )?;
    let per_request = match plan {
        Plan::Pass => return answer(inner.call(request).await),
        Plan::HeadersOnly => {
            // No token, so no proof and no URL for one.
            attach(&config, &mut request, None, None)?;
            return answer(inner.call(request).await);
        }
        Plan::Token(None) if config.challenges().is_some() => {
            return discover::discovering(config, inner, request).await;
        }
        Plan::Token(per_request) => per_request,
    };
    let url = htu(&config, request.uri());
    let url = url.as_ref();
    let provider = config.provider(&per_request);
    let token = Attach::token(provider).await?;
    let mut copy = if config.keeps_copy(&token) {
        try_clone(&request)
    } else {
        None
    };
    attach(&config, &mut request, url, Some(&token))?;
    let response = inner.call(request).await.map_err(Into::into)?;
    let verdict = config.judge(
        &token,
        url,
        response.status(),
        response.headers(),
        refused(&response),
        copy.is_some(),
    );
    let (token, again) = match verdict {
        Verdict::Accept => return Ok(watched(response, &config, per_request, token)),
        Verdict::SendWithNonce => match copy.take() {
            Some(again) => (token, again),
            None => return Ok(watched(response, &config, per_request, token)),
        },
        Verdict::Refused => {
            let has_copy = copy.is_some();
            match (config.replacement(provider, &token, has_copy).await, copy) {
                (Some(fresh), Some(again)) => (fresh, again),
                _ => return Ok(response.map(AuthBody::plain)),
            }
        }
    };
    drop(response);
    let mut again = again;
    attach(&config, &mut again, url, Some(&token))?;
    let response = inner.call(again).await.map_err(Into::into)?;
    if verdict == Verdict::SendWithNonce {
        config.observe(&token, url, response.status(), response.headers());
    }
    Ok(watched(response, &config, per_request, token))
}

/// The inner service's answer, its body passed through unwatched.
fn answer<R, E: Into<BoxError>>(
    result: Result<Response<R>, E>,
) -> Result<Response<AuthBody<R>>, BoxError> {
    result.map(|r| r.map(AuthBody::plain)).map_err(Into::into)
}

/// `response` to a request that carried `token`, its body watched for a gRPC
/// `Unauthenticated` in the trailers when refusals invalidate tokens.
fn watched<R>(
    response: Response<R>,
    config: &Attach,
    per_request: Option<Arc<dyn TokenProvider>>,
    token: AccessToken,
) -> Response<AuthBody<R>> {
    if !config.retries_unauthorized() {
        return response.map(AuthBody::plain);
    }
    let provider = per_request.unwrap_or_else(|| Arc::clone(config.usual_provider()));
    response.map(|body| AuthBody {
        inner: body,
        watch: Some(Watch { provider, token }),
    })
}

pin_project_lite::pin_project! {
    /// The body of an answer that passed through [`Auth`]: the inner body, frame for frame.
    /// A gRPC answer that carried the layer's token and ends with `grpc-status: 16`
    /// (`Unauthenticated`) in its trailers, after its messages, invalidates that token when
    /// the trailers arrive, as a trailers-only refusal does at once.
    pub struct AuthBody<B> {
        #[pin]
        inner: B,
        watch: Option<Watch>,
    }
}

/// The token a body's trailers may refuse, and whose cache to tell.
struct Watch {
    provider: Arc<dyn TokenProvider>,
    token: AccessToken,
}

impl<B> AuthBody<B> {
    fn plain(inner: B) -> Self {
        Self { inner, watch: None }
    }

    /// The inner body.
    pub fn into_inner(self) -> B {
        self.inner
    }
}

impl<B: fmt::Debug> fmt::Debug for AuthBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthBody")
            .field("inner", &self.inner)
            .field("watched", &self.watch.is_some())
            .finish()
    }
}

impl<B: Body> Body for AuthBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(trailers) = frame.trailers_ref()
            && unauthenticated(trailers)
            && let Some(watch) = this.watch.take()
        {
            tracing::debug!(target: "tokensmith::tower", "gRPC Unauthenticated in the trailers; the token is dropped");
            watch.provider.invalidate(&watch.token);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A 401, or a gRPC `Unauthenticated` status in the headers (a trailers-only answer).
fn refused<R>(response: &Response<R>) -> bool {
    response.status() == StatusCode::UNAUTHORIZED || unauthenticated(response.headers())
}

fn unauthenticated(headers: &http::HeaderMap) -> bool {
    headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes().trim_ascii() == GRPC_UNAUTHENTICATED)
}

fn attach<B>(
    config: &Attach,
    request: &mut Request<B>,
    url: Option<&Url>,
    token: Option<&AccessToken>,
) -> Result<(), Error> {
    let method = request.method().clone();
    config.sign(method.as_str(), url, request.headers_mut(), token)
}

/// A copy of the request for one more try, when its body is of a kind that can be copied.
fn try_clone<B: 'static>(request: &Request<B>) -> Option<Request<B>> {
    let body = clone_body(request.body())?;
    let mut copy = Request::new(body);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}

/// Clones the body types that hold their bytes: the body of a hyper client request usually is
/// one of these. Streaming bodies are not cloned.
fn clone_body<B: 'static>(body: &B) -> Option<B> {
    fn cloned<T: Clone + 'static, B: 'static>(body: &B) -> Option<B> {
        let copy: Box<dyn Any> = Box::new((body as &dyn Any).downcast_ref::<T>()?.clone());
        copy.downcast::<B>().ok().map(|b| *b)
    }
    cloned::<Full<Bytes>, B>(body)
        .or_else(|| cloned::<Empty<Bytes>, B>(body))
        .or_else(|| cloned::<Bytes, B>(body))
        .or_else(|| cloned::<String, B>(body))
        .or_else(|| cloned::<Vec<u8>, B>(body))
        .or_else(|| cloned::<(), B>(body))
}

mod discover;
#[cfg(test)]
mod tests;
