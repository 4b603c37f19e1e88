//! The bearer middleware: attaches a valid token to requests for the allowed origins.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use tokensmith_core::{AccessToken, Error, RequestAuth, TokenProvider};
use tokensmith_http::attach::RequestOrigin;
use tokensmith_http::{Attach, AttachBuilder, ChallengeHandler, Driver, Plan, Verdict};

use crate::AuthError;
use crate::redirect::MAX_REDIRECTS;

/// Attaches `Authorization: <type> <token>` (and any extra headers, such as an API key) to
/// requests for the allowed origins, and nowhere else.
///
/// On a 401 answer it calls [`TokenProvider::invalidate`] with the token it sent and retries
/// the request once with a fresh token, if the request body can be cloned. A second 401 is
/// returned as it is: it never loops.
///
/// # What keeps credentials on their origin
/// - Tokens and extra headers go only to the origins named with
///   [`for_origin`](BearerAuthBuilder::for_origin) (scheme, host and port), and only over
///   https, or to loopback; plain http elsewhere needs
///   [`danger_allow_insecure_http`](BearerAuthBuilder::danger_allow_insecure_http).
/// - The middleware comes only with the HTTP client it runs on
///   ([`into_client`](Self::into_client), [`into_client_builder`](Self::into_client_builder)):
///   whatever `reqwest::ClientBuilder` you hand in, that client follows redirects within the
///   origin only (a redirect to another origin is returned to you as the 3xx answer) and sends
///   no `Referer`. reqwest's own default would carry an API key, and a query string in the
///   `Referer`, to wherever a redirect points.
///
/// Not covered: headers you set yourself on a request, other middleware you add after this
/// one (it sees the request with its credentials), and a proxy you configure, which sees the
/// credentials of plain http requests (those to loopback, or allowed by a `danger_` opt-in).
///
/// ```
/// use tokensmith_core::StaticToken;
/// use tokensmith_reqwest::BearerAuth;
///
/// let client = BearerAuth::builder(std::sync::Arc::new(StaticToken::bearer("t")?))
///     .for_origin("https://api.example.com")
///     .header("x-api-key", "key")
///     .build()?
///     .into_client(None)?;
/// # let _ = client;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
pub struct BearerAuth {
    attach: Attach,
}

impl BearerAuth {
    /// Starts a middleware over `provider` (a [`Cached`](tokensmith_core::Cached) grant, a
    /// `StaticToken`, a mock, or an `Arc<dyn TokenProvider>` shared with others); name at least
    /// one origin with [`for_origin`](BearerAuthBuilder::for_origin).
    pub fn builder(provider: impl TokenProvider + 'static) -> BearerAuthBuilder {
        AttachBuilder::new(provider)
    }

    /// A middleware for the protected resource `handler` is for (a
    /// `tokensmith_oauth2::resource::ResourceAuth`): tokens go to its origin only; the first
    /// request goes without one, and the resource's challenges lead to the token (RFC 9728
    /// metadata, the server's metadata, the client's registration, a sign-in), with step-up
    /// when a 403 asks for more scope. Continue with the builder's settings, then `build`.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use tokensmith_oauth2::resource::ResourceAuth;
    /// use tokensmith_reqwest::BearerAuth;
    ///
    /// let auth = ResourceAuth::builder("https://mcp.example.com/mcp").build()?;
    /// let client = BearerAuth::discover(auth).build()?.into_client(None)?;
    /// let answer = client.post("https://mcp.example.com/mcp").body("{}").send().await?;
    /// # let _ = answer;
    /// # Ok(()) }
    /// ```
    pub fn discover(handler: impl TokenProvider + ChallengeHandler) -> BearerAuthBuilder {
        AttachBuilder::discover(handler)
    }

    /// A `reqwest-middleware` client with this middleware, on the HTTP client `http` describes
    /// (default settings when `None`), with redirects kept on the origin and no `Referer`.
    pub fn into_client(
        self,
        http: Option<reqwest::ClientBuilder>,
    ) -> Result<ClientWithMiddleware, Error> {
        Ok(self.into_client_builder(http)?.build())
    }

    /// Like [`into_client`](Self::into_client), for adding more middleware after this one.
    pub fn into_client_builder(
        self,
        http: Option<reqwest::ClientBuilder>,
    ) -> Result<reqwest_middleware::ClientBuilder, Error> {
        // With DPoP, each request needs its own proof (`htu` names its URL, `jti` is used
        // once): the middleware follows redirects itself, so that each hop passes through it.
        let redirects = if self.attach.proves_possession() {
            reqwest::redirect::Policy::none()
        } else {
            crate::same_origin_redirects()
        };
        let http = http
            .unwrap_or_else(crate::client_builder)
            .redirect(redirects)
            .referer(false)
            .build()
            .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))?;
        Ok(reqwest_middleware::ClientBuilder::new(http).with(Middle(self)))
    }

    fn attach(
        &self,
        request: &mut Request,
        token: Option<&AccessToken>,
    ) -> Result<(), reqwest_middleware::Error> {
        // The URL is copied only for a DPoP proof, which names it.
        let method = request.method().clone();
        let htu = self
            .attach
            .proves_possession()
            .then(|| request.url().clone());
        self.attach
            .sign(method.as_str(), htu.as_ref(), request.headers_mut(), token)
            .map_err(auth_failed)
    }
}

impl Driver for BearerAuth {
    const NAME: &'static str = "BearerAuth";
    const LAYER: &'static str = "reqwest";

    fn from_attach(attach: Attach) -> Self {
        Self { attach }
    }
}

/// Builds a [`BearerAuth`]: the origins its tokens may go to, extra headers, DPoP; `build`
/// checks them. The same settings as the tower layer's builder.
pub type BearerAuthBuilder = AttachBuilder<BearerAuth>;

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.attach.fmt(f)
    }
}

/// A copy of `request` to send again after a refusal, or `None` when its body streams.
///
/// `Request::try_clone` also builds and drops the request's option map for every copy; a
/// request without a body is copied field by field instead (method, URL, headers, version
/// and the per-request timeout, which is all a reqwest request carries besides its body).
fn replay_copy(request: &Request) -> Option<Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = Request::new(request.method().clone(), request.url().clone());
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    Some(copy)
}

fn auth_failed(error: Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(AuthError::new(error))
}

struct Middle(BearerAuth);

/// The future a middleware returns.
type Handled<'a> = Pin<Box<dyn Future<Output = reqwest_middleware::Result<Response>> + Send + 'a>>;

/// What a refused request leaves for [`BearerAuth::after_refusal`].
struct Refused<'a> {
    provider: &'a dyn TokenProvider,
    token: AccessToken,
    retry: Option<Request>,
    response: Response,
    verdict: Verdict,
}

// Written out rather than with `#[async_trait]`: its wrapper future would hold a second copy
// of the request around `BearerAuth::handle`'s future, and this future is allocated per request.
impl Middleware for Middle {
    fn handle<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        request: Request,
        extensions: &'life1 mut Extensions,
        next: Next<'life2>,
    ) -> Handled<'async_trait>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        if self.0.attach.proves_possession() {
            return Box::pin(self.0.follow(request, extensions, next));
        }
        self.0.handle(request, extensions, next)
    }
}

impl BearerAuth {
    /// Sends `request` and follows redirects within its origin, each hop a request of its
    /// own through [`handle`](Self::handle): a new DPoP proof for the hop's URL, the token
    /// attached by the origin rules. What the same-origin policy does for clients without
    /// DPoP: a redirect to another origin is returned as the 3xx answer; 301, 302 and 303
    /// turn a POST into a GET without body (303 any method); a body that streams is not
    /// sent twice, so its 307 or 308 is returned as is.
    async fn follow(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        for _ in 0..=MAX_REDIRECTS {
            let copy = replay_copy(&request);
            let response = self.handle(request, extensions, next.clone()).await?;
            let Some(redirected) = copy.and_then(|copy| redirected(copy, &response)) else {
                return Ok(response);
            };
            tracing::debug!(
                target: "tokensmith::reqwest",
                status = response.status().as_u16(),
                "following a redirect within the origin with a new request"
            );
            request = redirected;
        }
        Err(auth_failed(Error::other(format!(
            "more than {MAX_REDIRECTS} redirects in a row"
        ))))
    }
}

/// The request to send after `response`, when it is a redirect to the same origin.
fn redirected(mut copy: Request, response: &Response) -> Option<Request> {
    use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION, TRANSFER_ENCODING};
    let status = response.status();
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    let target = copy.url().join(location).ok()?;
    if target.origin() != copy.url().origin() {
        return None;
    }
    let to_get = status == StatusCode::SEE_OTHER
        || (matches!(status.as_u16(), 301 | 302) && copy.method() == reqwest::Method::POST);
    if to_get {
        *copy.method_mut() = reqwest::Method::GET;
        *copy.body_mut() = None;
        for name in [CONTENT_TYPE, CONTENT_LENGTH, TRANSFER_ENCODING] {
            copy.headers_mut().remove(name);
        }
    }
    *copy.url_mut() = target;
    Some(copy)
}

impl BearerAuth {
    /// The checks that decide whether the request gets a token run before any future is
    /// made: a request that is not ours goes on with the next middleware's future as it is,
    /// and the future of one that is stays small (one is allocated per request).
    fn handle<'a>(
        &'a self,
        mut request: Request,
        extensions: &'a mut Extensions,
        next: Next<'a>,
    ) -> Handled<'a> {
        let attach = &self.attach;
        let Some(origin) = RequestOrigin::of(request.url()) else {
            return next.run(request, extensions);
        };
        let plan = attach.plan(&origin, request.headers(), extensions.get::<RequestAuth>());
        // Only a per-request provider is cloned out of the extensions (they are lent to the
        // next middleware); the usual one is borrowed, sparing a shared reference count.
        let per_request = match plan {
            Ok(Plan::Token(per_request)) => per_request,
            Ok(Plan::Pass) => return next.run(request, extensions),
            Ok(Plan::HeadersOnly) => {
                if let Err(error) = self.attach(&mut request, None) {
                    return Box::pin(std::future::ready(Err(error)));
                }
                return next.run(request, extensions);
            }
            Err(error) => return Box::pin(std::future::ready(Err(auth_failed(error)))),
        };
        if per_request.is_none() && attach.challenges().is_some() {
            return Box::pin(self.discovering(request, extensions, next));
        }
        match attach.provider(&per_request).current() {
            Some(token) => self.send(request, token, per_request, extensions, next),
            None => Box::pin(async move {
                let provider = attach.provider(&per_request);
                let token = provider.token().await.map_err(auth_failed)?;
                self.send(request, token, per_request, extensions, next)
                    .await
            }),
        }
    }

    /// Sends `request` with `token`; a refusal goes to [`after_refusal`](Self::after_refusal).
    fn send<'a>(
        &'a self,
        mut request: Request,
        token: AccessToken,
        per_request: Option<Arc<dyn TokenProvider>>,
        extensions: &'a mut Extensions,
        next: Next<'a>,
    ) -> Handled<'a> {
        let attach = &self.attach;
        let retry = if attach.keeps_copy(&token) {
            replay_copy(&request)
        } else {
            None
        };
        if let Err(error) = self.attach(&mut request, Some(&token)) {
            return Box::pin(std::future::ready(Err(error)));
        }
        tracing::debug!(
            target: "tokensmith::reqwest",
            origin = %request.url().origin().ascii_serialization(),
            token_type = %token.token_type(),
            "attached access token"
        );
        Box::pin(async move {
            let response = next.clone().run(request, extensions).await?;
            let verdict = attach.judge(
                &token,
                Some(response.url()),
                response.status(),
                response.headers(),
                response.status() == StatusCode::UNAUTHORIZED,
                retry.is_some(),
            );
            if verdict == Verdict::Accept {
                return Ok(response);
            }
            // The rare paths live in a future of their own, so that the one every request
            // allocates stays small.
            let refused = Refused {
                provider: attach.provider(&per_request),
                token,
                retry,
                response,
                verdict,
            };
            Box::pin(self.after_refusal(refused, extensions, next)).await
        })
    }

    /// A 401 or a DPoP nonce request: the one replay the engine allows, if any.
    #[cold]
    async fn after_refusal(
        &self,
        refused: Refused<'_>,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let attach = &self.attach;
        let Refused {
            provider,
            token,
            retry,
            response,
            verdict,
        } = refused;
        let Some(mut again) = retry else {
            // Refused, and nothing to send again: the engine still invalidates the token.
            attach.replacement(provider, &token, false).await;
            return Ok(response);
        };
        let token = match verdict {
            Verdict::SendWithNonce => token,
            _ => match attach.replacement(provider, &token, true).await {
                Some(fresh) => fresh,
                None => return Ok(response),
            },
        };
        drop(response);
        self.attach(&mut again, Some(&token))?;
        let response = next.run(again, extensions).await?;
        if verdict == Verdict::SendWithNonce {
            attach.observe(
                &token,
                Some(response.url()),
                response.status(),
                response.headers(),
            );
        }
        Ok(response)
    }
}

mod discover;
#[cfg(test)]
mod tests;
