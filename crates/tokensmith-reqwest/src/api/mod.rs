//! The API client layer that vendor clients are built on: a base URL joined safely, the bearer
//! middleware, retries of rate-limited answers honouring `Retry-After`, an optional
//! client-side rate limit, capped JSON decoding, and one error shape, [`ApiError`], carrying
//! the vendor's error payload and a hint.
//!
//! A vendor client is then its constants, an [`ApiVendor`] that reads its error bodies, and
//! typed methods that name a path:
//!
//! ```
//! use serde::Deserialize;
//! use tokensmith_core::StaticToken;
//! use tokensmith_reqwest::api::{ApiClient, ApiError, Opaque};
//!
//! #[derive(Deserialize)]
//! struct Order { id: u64 }
//!
//! struct Shop(ApiClient<Opaque>);
//!
//! impl Shop {
//!     async fn order(&self, id: u64) -> Result<Order, ApiError> {
//!         self.0.get_json(&format!("v1/orders/{id}")).await
//!     }
//! }
//!
//! let shop = Shop(
//!     ApiClient::builder("https://api.shop.example/base", StaticToken::bearer("t")?)
//!         .vendor(Opaque::new("Shop"))
//!         .build()?,
//! );
//! assert_eq!(shop.0.base().join("v1/orders/7")?.as_str(), "https://api.shop.example/base/v1/orders/7");
//! # Ok::<(), tokensmith_core::Error>(())
//! ```

mod base_url;
mod error;
#[cfg(feature = "rate-limit")]
mod rate_limit;
mod retry;

use std::fmt;
use std::sync::Arc;

use reqwest::Method;
use reqwest::header::{ACCEPT, HeaderValue};
use reqwest_middleware::{ClientWithMiddleware, RequestBuilder};
use serde::de::DeserializeOwned;
use tokensmith_core::arc_provider;
use tokensmith_core::{Error, RetryPolicy, SecretString, TokenProvider};
use tokensmith_http::{BodyError, read_limited};

pub use self::base_url::BaseUrl;
pub use self::error::{ApiError, ApiErrorKind, ApiVendor, NoPayload, Opaque};
use crate::BearerAuth;

/// The largest API answer read by default.
pub const DEFAULT_MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Rate-limited API answers: the token endpoint's schedule, with `Retry-After` honoured up to
/// 60 s (Entra ID asks for 60).
fn default_retry() -> RetryPolicy {
    RetryPolicy::default().max_retry_after(std::time::Duration::from_secs(60))
}

/// A vendor's API: its base URL, the HTTP client that attaches the token (and any API key) to
/// requests for the base URL's origin only, and how its errors read. Cloning is cheap.
pub struct ApiClient<V: ApiVendor = Opaque> {
    inner: Arc<Inner<V>>,
}

struct Inner<V> {
    base: BaseUrl,
    http: ClientWithMiddleware,
    provider: Arc<dyn TokenProvider>,
    vendor: V,
    max_answer: usize,
}

impl<V: ApiVendor> Clone for ApiClient<V> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl ApiClient<Opaque> {
    /// Starts a client for the API at `base_url` (a path prefix is kept: `https://h/api`
    /// joins `v1/x` as `https://h/api/v1/x`), authenticating with `provider`.
    pub fn builder(
        base_url: impl AsRef<str>,
        provider: impl TokenProvider + 'static,
    ) -> ApiClientBuilder<Opaque> {
        ApiClientBuilder {
            base: base_url.as_ref().to_owned(),
            provider: arc_provider(provider),
            vendor: Opaque::new("the API"),
            headers: Vec::new(),
            http: None,
            retry: default_retry(),
            rate_limit: None,
            max_answer: DEFAULT_MAX_ANSWER_BYTES,
            allow_http: false,
            #[cfg(feature = "dpop")]
            dpop: None,
        }
    }
}

impl<V: ApiVendor> ApiClient<V> {
    /// The base URL.
    pub fn base(&self) -> &BaseUrl {
        &self.inner.base
    }

    /// The token provider.
    pub fn provider(&self) -> Arc<dyn TokenProvider> {
        Arc::clone(&self.inner.provider)
    }

    /// The vendor's error reader.
    pub fn vendor(&self) -> &V {
        &self.inner.vendor
    }

    /// The middleware-wrapped client, for calls the vendor crate does not type: it attaches
    /// the token and extra headers to requests for the base URL's origin only, retries and
    /// rate-limits like the typed calls.
    pub fn http(&self) -> &ClientWithMiddleware {
        &self.inner.http
    }

    /// A request for `path` under the base URL, asking for JSON.
    pub fn request(
        &self,
        method: Method,
        path: &str,
    ) -> Result<RequestBuilder, ApiError<V::Payload>> {
        self.request_with_query(method, path, &[])
    }

    /// A request for `path` under the base URL with `query` appended (encoded), asking for
    /// JSON.
    pub fn request_with_query(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<RequestBuilder, ApiError<V::Payload>> {
        let mut url = self
            .inner
            .base
            .join(path)
            .map_err(|e| ApiError::invalid_request(self.inner.vendor.name(), e.to_string()))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(self
            .inner
            .http
            .request(method, url)
            .header(ACCEPT, HeaderValue::from_static("application/json")))
    }

    /// `GET path` and decode the JSON answer.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ApiError<V::Payload>> {
        self.send_json(self.request(Method::GET, path)?).await
    }

    /// Sends `request` and decodes a success answer as JSON, reading at most the answer cap;
    /// an error answer becomes an [`ApiError`] with the vendor's payload and hint.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<T, ApiError<V::Payload>> {
        let body = self.send(request).await?;
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::decode(self.inner.vendor.name(), e.to_string()))
    }

    /// Sends `request` and returns a success answer's body, read up to the answer cap; an
    /// error answer becomes an [`ApiError`] with the vendor's payload and hint.
    pub async fn send(&self, request: RequestBuilder) -> Result<Vec<u8>, ApiError<V::Payload>> {
        let vendor = &self.inner.vendor;
        let response = request
            .send()
            .await
            .map_err(|e| ApiError::from_send(vendor.name(), e))?;
        let status = response.status();
        let body = read_answer(vendor.name(), response, self.inner.max_answer).await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(ApiError::from_response(vendor, status, &body))
        }
    }
}

/// Reads an answer body up to `limit` bytes.
pub(crate) async fn read_answer<P>(
    vendor: &'static str,
    response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ApiError<P>> {
    let body = http::Response::from(response).into_body();
    read_limited(body, limit).await.map_err(|e| match e {
        BodyError::Transport(e) => ApiError::transport(vendor, e.into()),
        BodyError::TooLarge { .. } => {
            ApiError::decode(vendor, format!("the answer is larger than {limit} bytes"))
        }
    })
}

impl<V: ApiVendor> fmt::Debug for ApiClient<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("vendor", &self.inner.vendor.name())
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

/// Configures an [`ApiClient`]; `build` checks everything.
pub struct ApiClientBuilder<V> {
    base: String,
    provider: Arc<dyn TokenProvider>,
    vendor: V,
    headers: Vec<(String, SecretString)>,
    http: Option<reqwest::ClientBuilder>,
    retry: RetryPolicy,
    rate_limit: Option<f64>,
    max_answer: usize,
    allow_http: bool,
    #[cfg(feature = "dpop")]
    dpop: Option<tokensmith_http::dpop::DpopKey>,
}

impl<V: ApiVendor> ApiClientBuilder<V> {
    /// How the vendor's error answers read and which hints they get (default: [`Opaque`],
    /// status and a scrubbed excerpt).
    #[must_use]
    pub fn vendor<W: ApiVendor>(self, vendor: W) -> ApiClientBuilder<W> {
        ApiClientBuilder {
            base: self.base,
            provider: self.provider,
            vendor,
            headers: self.headers,
            http: self.http,
            retry: self.retry,
            rate_limit: self.rate_limit,
            max_answer: self.max_answer,
            allow_http: self.allow_http,
            #[cfg(feature = "dpop")]
            dpop: self.dpop,
        }
    }

    /// The DPoP key of the token endpoint, for DPoP-bound tokens (see
    /// [`BearerAuthBuilder::dpop`](crate::BearerAuthBuilder::dpop)).
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    #[must_use]
    pub fn dpop(mut self, key: tokensmith_http::dpop::DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// A header for every request to the API (an API key, say): a secret, never printed,
    /// sent to the base URL's origin only.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .push((name.into(), SecretString::from(value.into())));
        self
    }

    /// Builds the HTTP client from `builder` (proxies, certificates, timeouts). Whatever it
    /// says, the client follows no redirect to another origin and sends no `Referer`.
    #[must_use]
    pub fn http_client(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http = Some(builder);
        self
    }

    /// How rate-limited answers (429, and 503 with `Retry-After`) are retried (default:
    /// [`RetryPolicy::default`] with `Retry-After` honoured up to 60 s).
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Starts at most this many requests per second, spaced evenly (for bulk endpoints).
    #[cfg(feature = "rate-limit")]
    #[cfg_attr(docsrs, doc(cfg(feature = "rate-limit")))]
    #[must_use]
    pub fn rate_limit(mut self, requests_per_second: f64) -> Self {
        self.rate_limit = Some(requests_per_second);
        self
    }

    /// The largest answer read (default [`DEFAULT_MAX_ANSWER_BYTES`]).
    #[must_use]
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_answer = limit;
        self
    }

    /// Allows a plain `http://` base URL to a host that is not loopback. The token and extra
    /// headers then cross the network unencrypted: only for closed test networks.
    #[must_use]
    pub fn danger_allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<ApiClient<V>, Error> {
        let base = BaseUrl::parse(&self.base)?;
        if self.max_answer == 0 {
            return Err(Error::config("the answer size limit must be above zero"));
        }
        let mut auth =
            BearerAuth::builder(Arc::clone(&self.provider)).for_origin(base.as_url().as_str());
        if self.allow_http {
            auth = auth.danger_allow_insecure_http();
        }
        #[cfg(feature = "dpop")]
        if let Some(key) = self.dpop {
            auth = auth.dpop(key);
        }
        for (name, value) in &self.headers {
            auth = auth.header(
                name.clone(),
                tokensmith_core::ExposeSecret::expose_secret(value),
            );
        }
        let mut http = auth.build()?.into_client_builder(self.http)?;
        if self.retry.max_attempts() > 1 {
            http = http.with(retry::RetryMiddleware {
                policy: self.retry,
                vendor: self.vendor.name(),
            });
        }
        if let Some(rate) = self.rate_limit {
            #[cfg(feature = "rate-limit")]
            {
                http = http.with(rate_limit::RateLimit::new(rate)?);
            }
            #[cfg(not(feature = "rate-limit"))]
            let _ = rate;
        }
        Ok(ApiClient {
            inner: Arc::new(Inner {
                base,
                http: http.build(),
                provider: self.provider,
                vendor: self.vendor,
                max_answer: self.max_answer,
            }),
        })
    }
}

impl<V: ApiVendor> fmt::Debug for ApiClientBuilder<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClientBuilder")
            .field("vendor", &self.vendor.name())
            .field("base", &tokensmith_http::display_url_text(&self.base))
            .field(
                "extra_headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("retry", &self.retry)
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}
