//! The bearer middleware: attaches a valid token to requests for the allowed origins.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::Extensions;
use reqwest::header::AUTHORIZATION;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{ClientWithMiddleware, Middleware, Next};
use tokensmith_core::internal::{Attach, AttachSettings, is_dpop, is_loopback, shared_provider};
use tokensmith_core::{AccessToken, Error, RequestAuth, TokenProvider};
use url::Url;

use crate::AuthError;

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
        BearerAuthBuilder {
            settings: AttachSettings::new(shared_provider(provider)),
        }
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
        let http = http
            .unwrap_or_else(crate::client_builder)
            .redirect(crate::same_origin_redirects())
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
        let proof = self
            .attach
            .proof(request.method().as_str(), request.url(), token)
            .map_err(auth_failed)?;
        self.attach.apply(request.headers_mut(), token, proof);
        Ok(())
    }
}

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.attach.fmt(f)
    }
}

fn auth_failed(error: Error) -> reqwest_middleware::Error {
    reqwest_middleware::Error::middleware(AuthError::new(error))
}

struct Middle(BearerAuth);

#[async_trait]
impl Middleware for Middle {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.0.handle(request, extensions, next).await
    }
}

impl BearerAuth {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let attach = &self.attach;
        if !attach.allows(request.url()).map_err(auth_failed)? {
            return next.run(request, extensions).await;
        }
        // Only a per-request provider is cloned out of the extensions (they are lent to the
        // next middleware); the usual one is borrowed, sparing a shared reference count.
        let per_request = match extensions.get::<RequestAuth>() {
            Some(RequestAuth::Skip) => return next.run(request, extensions).await,
            Some(RequestAuth::With(other)) => Some(Arc::clone(other)),
            _ => None,
        };
        let provider: &dyn TokenProvider = per_request.as_deref().unwrap_or(&*attach.provider);
        if request.headers().contains_key(AUTHORIZATION) && !attach.replace_authorization {
            self.attach(&mut request, None)?;
            return next.run(request, extensions).await;
        }

        let token = Attach::valid_token(provider).await.map_err(auth_failed)?;
        let mut retry = if attach.retry_unauthorized || is_dpop(&token) {
            request.try_clone()
        } else {
            None
        };
        self.attach(&mut request, Some(&token))?;
        tracing::debug!(
            target: "tokensmith::reqwest",
            origin = %request.url().origin().ascii_serialization(),
            token_type = %token.token_type(),
            "attached access token"
        );
        let response = next.clone().run(request, extensions).await?;
        if attach.wants_new_nonce(
            &token,
            response.url(),
            response.status(),
            response.headers(),
        ) && let Some(mut again) = retry.take()
        {
            // RFC 9449 §9: the same token, a proof with the nonce just given; once.
            drop(response);
            self.attach(&mut again, Some(&token))?;
            tracing::debug!(target: "tokensmith::reqwest", "the resource server asked for a DPoP nonce; retrying once with it");
            tokensmith_core::internal::count_dpop_nonce_retry("reqwest");
            let response = next.run(again, extensions).await?;
            attach.wants_new_nonce(
                &token,
                response.url(),
                response.status(),
                response.headers(),
            );
            return Ok(response);
        }
        if response.status() != StatusCode::UNAUTHORIZED || !attach.retry_unauthorized {
            return Ok(response);
        }

        provider.invalidate(&token);
        let Some(mut retry) = retry else {
            tracing::debug!(
                target: "tokensmith::reqwest",
                origin = %response.url().origin().ascii_serialization(),
                "401 for a request whose body cannot be replayed; returning it"
            );
            return Ok(response);
        };
        let fresh = match Attach::valid_token(provider).await {
            Ok(fresh) => fresh,
            Err(error) => {
                // The server's 401 says more than "no new token yet" (a backoff, say).
                tracing::debug!(target: "tokensmith::reqwest", error = %error, "no fresh token for the retry; returning the 401");
                return Ok(response);
            }
        };
        if fresh.same_as(&token) {
            // The provider cannot replace the token (a static one): the 401 is the answer.
            return Ok(response);
        }
        drop(response);
        self.attach(&mut retry, Some(&fresh))?;
        tracing::debug!(
            target: "tokensmith::reqwest",
            origin = %retry.url().origin().ascii_serialization(),
            "401 answered; retrying once with a fresh token"
        );
        tokensmith_core::internal::count_unauthorized_retry("reqwest");
        next.run(retry, extensions).await
    }
}

/// Builds a [`BearerAuth`]; `build` checks the origins and headers.
pub struct BearerAuthBuilder {
    settings: AttachSettings,
}

impl BearerAuthBuilder {
    /// Attaches tokens to requests for this origin (`https://api.example.com`; only the
    /// scheme, host and port count). May be called more than once.
    #[must_use]
    pub fn for_origin(mut self, origin: impl AsRef<str>) -> Self {
        self.settings.origins.push(origin.as_ref().to_owned());
        self
    }

    /// Attaches tokens to every request (https, or loopback), whatever its origin. Only for
    /// a client that talks to one API.
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
    /// printed, sent to the allowed origins only.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.headers.push((
            name.into(),
            tokensmith_core::SecretString::from(value.into()),
        ));
        self
    }

    /// Replace an `Authorization` header the caller already set (default: leave it alone).
    #[must_use]
    pub fn replace_existing_authorization(mut self, replace: bool) -> Self {
        self.settings.replace_authorization = replace;
        self
    }

    /// The DPoP key of the token endpoint whose tokens this middleware attaches (RFC 9449):
    /// a DPoP-bound token goes as `Authorization: DPoP …` with a proof for each request
    /// (`htm`, `htu`, `ath`, the origin's nonce). A 401 asking for a nonce
    /// (`use_dpop_nonce`) is retried once with it.
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    #[must_use]
    pub fn dpop(mut self, key: tokensmith_core::dpop::DpopKey) -> Self {
        self.settings.dpop = Some(key);
        self
    }

    /// Do not invalidate and retry on 401 answers.
    #[must_use]
    pub fn no_retry_on_unauthorized(mut self) -> Self {
        self.settings.retry_unauthorized = false;
        self
    }

    /// Checks the origins and headers.
    pub fn build(self) -> Result<BearerAuth, Error> {
        Ok(BearerAuth {
            attach: self.settings.build("BearerAuth")?,
        })
    }
}

impl fmt::Debug for BearerAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.debug(f, "BearerAuthBuilder")
    }
}

/// Whether `url` is https, or goes to this machine.
pub(crate) fn secure_or_loopback(url: &Url) -> bool {
    url.scheme() == "https" || is_loopback(url)
}
