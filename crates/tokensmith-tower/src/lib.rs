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
use http::header::AUTHORIZATION;
use http::{Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Empty, Full};
use tokensmith_core::internal::{Attach, AttachSettings, Origins, is_dpop, shared_provider};
use tokensmith_core::{AccessToken, Error, TokenProvider};
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
        AuthLayerBuilder {
            settings: AttachSettings::new(shared_provider(provider)),
        }
    }
}

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

/// Settings of an [`AuthLayer`].
pub struct AuthLayerBuilder {
    settings: AttachSettings,
}

impl AuthLayerBuilder {
    /// Attaches tokens to requests for this origin (`https://api.example.com`; only the
    /// scheme, host and port count). May be called more than once.
    #[must_use]
    pub fn for_origin(mut self, origin: impl AsRef<str>) -> Self {
        self.settings.origins.push(origin.as_ref().to_owned());
        self
    }

    /// Attaches tokens to every request (https, or loopback), whatever its origin.
    #[must_use]
    pub fn danger_allow_any_origin(mut self) -> Self {
        self.settings.any_origin = true;
        self
    }

    /// Allows plain http to hosts that are not loopback. Only for closed test networks.
    #[must_use]
    pub fn danger_allow_insecure_http(mut self) -> Self {
        self.settings.allow_http = true;
        self
    }

    /// A header for every request that carries the token (an API key): a secret, never
    /// printed.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.headers.push((
            name.into(),
            tokensmith_core::SecretString::from(value.into()),
        ));
        self
    }

    /// Replaces an `Authorization` header the caller already set (default: leave it).
    #[must_use]
    pub fn replace_existing_authorization(mut self, replace: bool) -> Self {
        self.settings.replace_authorization = replace;
        self
    }

    /// Neither invalidates nor retries on 401 answers.
    #[must_use]
    pub fn no_retry_on_unauthorized(mut self) -> Self {
        self.settings.retry_unauthorized = false;
        self
    }

    /// The DPoP key of the token endpoint whose tokens the layer attaches (RFC 9449): a
    /// DPoP-bound token goes as `Authorization: DPoP …` with a proof per request; a 401 that
    /// asks for a nonce is retried once with it (for replayable bodies).
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    #[must_use]
    pub fn dpop(mut self, key: tokensmith_core::dpop::DpopKey) -> Self {
        self.settings.dpop = Some(key);
        self
    }

    /// Checks the origins and headers.
    pub fn build(self) -> Result<AuthLayer, Error> {
        Ok(AuthLayer {
            config: Arc::new(self.settings.build("AuthLayer")?),
        })
    }
}

impl fmt::Debug for AuthLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.debug(f, "AuthLayerBuilder")
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
            .field("origins", &self.config.origins.serialised())
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
fn target(method: &Method, uri: &Uri, origins: &Origins) -> Option<Url> {
    if method == Method::CONNECT {
        return None;
    }
    match (uri.scheme_str(), uri.authority()) {
        (Some(_), Some(_)) => Url::parse(&uri.to_string()).ok(),
        (None, None) if uri.path().starts_with('/') => origins.single().and_then(|base| {
            base.join(uri.path_and_query().map_or("/", |p| p.as_str()))
                .ok()
        }),
        _ => None,
    }
}

fn allowed(config: &Attach, method: &Method, uri: &Uri) -> Result<Option<Url>, Error> {
    match target(method, uri, &config.origins) {
        Some(url) if config.allows(&url)? => Ok(Some(url)),
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
    let Some(url) = allowed(&config, request.method(), request.uri())? else {
        return answer(inner.call(request).await);
    };
    let per_request = match request.extensions().get::<RequestAuth>() {
        Some(RequestAuth::Skip) => return answer(inner.call(request).await),
        Some(RequestAuth::With(other)) => Some(Arc::clone(other)),
        _ => None,
    };
    let provider: &dyn TokenProvider = per_request.as_deref().unwrap_or(&*config.provider);
    if request.headers().contains_key(AUTHORIZATION)
        && !config.replace_authorization
        && !carries_copied_proof(request.headers())
    {
        attach(&config, &mut request, &url, None)?;
        return answer(inner.call(request).await);
    }
    let token = Attach::valid_token(provider).await?;
    let mut replay = if config.retry_unauthorized || is_dpop(&token) {
        try_clone(&request)
    } else {
        None
    };
    attach(&config, &mut request, &url, Some(&token))?;
    let response = inner.call(request).await.map_err(Into::into)?;

    if config.wants_new_nonce(&token, &url, response.status(), response.headers())
        && let Some(mut again) = replay.take()
    {
        drop(response);
        attach(&config, &mut again, &url, Some(&token))?;
        tracing::debug!(target: "tokensmith::tower", "the server asked for a DPoP nonce; retrying once with it");
        tokensmith_core::internal::count_dpop_nonce_retry("tower");
        let response = inner.call(again).await.map_err(Into::into)?;
        return Ok(watched(response, &config, per_request, token));
    }
    if !config.retry_unauthorized
        || !refused(&response)
        || config.is_nonce_challenge(&token, response.headers())
    {
        // A nonce challenge wants the nonce (now kept), not another token.
        return Ok(watched(response, &config, per_request, token));
    }
    provider.invalidate(&token);
    let Some(mut again) = replay else {
        tracing::debug!(target: "tokensmith::tower", "refused; the body cannot be replayed, so the refusal is the answer");
        return Ok(response.map(AuthBody::plain));
    };
    let fresh = match Attach::valid_token(provider).await {
        Ok(fresh) if !fresh.same_as(&token) => fresh,
        _ => return Ok(response.map(AuthBody::plain)),
    };
    drop(response);
    attach(&config, &mut again, &url, Some(&fresh))?;
    tracing::debug!(target: "tokensmith::tower", "refused; retrying once with a fresh token");
    tokensmith_core::internal::count_unauthorized_retry("tower");
    let response = inner.call(again).await.map_err(Into::into)?;
    Ok(watched(response, &config, per_request, fresh))
}

/// Whether the request carries a DPoP token with a proof: what this layer attached to an
/// earlier request, copied by a redirect follower (tower-http's `FollowRedirect` copies the
/// headers to each hop). A proof is good for one URL and one use, so the hop gets the token
/// and a proof of its own.
fn carries_copied_proof(headers: &http::HeaderMap) -> bool {
    headers.contains_key("dpop")
        && headers.get(AUTHORIZATION).is_some_and(|value| {
            value
                .as_bytes()
                .get(..5)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"dpop "))
        })
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
    if !config.retry_unauthorized {
        return response.map(AuthBody::plain);
    }
    let provider = per_request.unwrap_or_else(|| Arc::clone(&config.provider));
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
    url: &Url,
    token: Option<&AccessToken>,
) -> Result<(), Error> {
    let proof = config.proof(request.method().as_str(), url, token)?;
    config.apply(request.headers_mut(), token, proof);
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokensmith_core::StaticToken;

    fn layer(origin: &str) -> AuthLayer {
        AuthLayer::builder(StaticToken::bearer("canary-tower-token").unwrap())
            .for_origin(origin)
            .header("x-api-key", "canary-tower-key")
            .build()
            .unwrap()
    }

    #[test]
    fn origins_and_relative_uris() {
        let config = &layer("https://api.example.com").config;
        let allowed =
            |uri: &str| super::allowed(config, &Method::GET, &uri.parse().unwrap()).unwrap();
        assert!(allowed("https://api.example.com/v1").is_some());
        assert!(allowed("https://API.example.com:443/v1").is_some());
        assert!(allowed("https://api.example.com:8443/v1").is_none());
        assert!(allowed("http://api.example.com/v1").is_none());
        assert!(allowed("https://other.example.com/v1").is_none());
        assert_eq!(
            allowed("/pkg.Service/Call").unwrap().as_str(),
            "https://api.example.com/pkg.Service/Call",
            "a channel's request goes to the one origin"
        );
        let two = AuthLayer::builder(StaticToken::bearer("t").unwrap())
            .for_origin("https://a.example")
            .for_origin("https://b.example")
            .build()
            .unwrap();
        assert!(allowed_in(&two, "/pkg.Service/Call").is_none());
        assert!(
            AuthLayer::builder(StaticToken::bearer("t").unwrap())
                .for_origin("http://api.example.com")
                .build()
                .is_err()
        );
        assert!(
            AuthLayer::builder(StaticToken::bearer("t").unwrap())
                .build()
                .is_err()
        );
        let any = AuthLayer::builder(StaticToken::bearer("t").unwrap())
            .danger_allow_any_origin()
            .build()
            .unwrap();
        assert!(
            super::allowed(
                &any.config,
                &Method::GET,
                &"http://api.example.com/".parse().unwrap()
            )
            .is_err()
        );
        assert!(
            super::allowed(
                &any.config,
                &Method::GET,
                &"http://127.0.0.1:9/".parse().unwrap()
            )
            .unwrap()
            .is_some()
        );
    }

    fn allowed_in(layer: &AuthLayer, uri: &str) -> Option<Url> {
        allowed(&layer.config, &Method::GET, &uri.parse().unwrap()).unwrap()
    }

    #[test]
    fn connect_and_authority_form_requests_are_judged_by_their_own_authority() {
        let layer = layer("https://api.example.com");
        let judged = |method: Method, uri: &str| {
            allowed(&layer.config, &method, &uri.parse().unwrap()).unwrap()
        };
        // Neither goes to the layer's one origin, whatever its authority.
        assert!(judged(Method::CONNECT, "evil.example:443").is_none());
        assert!(judged(Method::CONNECT, "api.example.com:443").is_none());
        assert!(judged(Method::GET, "evil.example:443").is_none());
        assert!(judged(Method::OPTIONS, "*").is_none());
        // Absolute-form by its own authority, origin-form on the one origin.
        assert!(judged(Method::GET, "https://evil.example/x").is_none());
        assert!(judged(Method::GET, "https://api.example.com/x").is_some());
        assert!(judged(Method::POST, "/pkg.Service/Call").is_some());
    }

    #[test]
    fn bodies_that_hold_their_bytes_are_cloned_and_streams_are_not() {
        let request = Request::builder()
            .uri("https://api.example.com/")
            .header("x-a", "1")
            .body(Full::new(Bytes::from_static(b"payload")))
            .unwrap();
        let copy = try_clone(&request).unwrap();
        assert_eq!(copy.headers()["x-a"], "1");
        assert_eq!(copy.uri(), request.uri());
        assert!(try_clone(&Request::new(String::from("x"))).is_some());
        assert!(try_clone(&Request::new(Empty::<Bytes>::new())).is_some());
        struct Stream;
        assert!(try_clone(&Request::new(Stream)).is_none());
    }

    #[test]
    fn a_watched_body_shows_no_token() {
        let token = AccessToken::builder("canary-body-token").build().unwrap();
        let body = AuthBody {
            inner: Full::new(Bytes::from_static(b"x")),
            watch: Some(Watch {
                provider: shared_provider(StaticToken::bearer("canary-body-token").unwrap()),
                token,
            }),
        };
        let text = format!("{body:?} {body:#?}");
        assert!(!text.contains("canary-body"), "{text}");
        assert!(text.contains("watched: true"), "{text}");
    }

    #[test]
    fn debug_shows_no_secret() {
        let layer = layer("https://api.example.com");
        let text = format!(
            "{layer:?} {:?}",
            AuthLayer::builder(StaticToken::bearer("canary-tower-token").unwrap())
                .header("x-api-key", "canary-tower-key")
        );
        assert!(!text.contains("canary-tower"), "{text}");
        assert!(text.contains("x-api-key"));
    }
}
