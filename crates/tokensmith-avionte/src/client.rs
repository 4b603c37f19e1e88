//! The Avionté client: its token provider, its API calls, 429 backoff and rate limiting.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, RETRY_AFTER};
use reqwest_middleware::ClientWithMiddleware;
use serde::de::DeserializeOwned;
use tokensmith_core::{AccessToken, Cached, Error, TokenProvider, TokenSource, scrub_excerpt};
use tokensmith_oauth2::{
    BodyError, ClientAuth, ClientCredentials, ClientSecret, GrantSource, TokenEndpoint,
    read_limited,
};
use tokensmith_reqwest::{BearerAuth, auth_error};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::error::{api_hint, token_hint};
use crate::{AvionteError, Talent, Tenant};

/// Avionté's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.avionte.com";
/// The scope Avionté's documentation asks for.
pub const DEFAULT_SCOPE: &str = "avionte.aero.compasintegrationservice";
/// The header that carries the API key, on the token request and every API call.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The largest page `talent_ids` may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;
/// The widest spacing a client-side rate limit may ask for.
const MAX_SPACING: Duration = Duration::from_secs(24 * 3600);

/// Largest API answer read.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

tokensmith_core::secret_string! {
    /// An Avionté API key (`x-api-key`).
    pub struct ApiKey;
}

/// How 429 answers are retried: Avionté asks for 5 s, then 10 s, doubling, up to five tries;
/// a `Retry-After` header wins (up to the longest delay).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitRetry {
    /// Tries in all, the first included.
    pub tries: u32,
    /// The first delay.
    pub first_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Default for RateLimitRetry {
    fn default() -> Self {
        Self {
            tries: 5,
            first_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(80),
        }
    }
}

/// Configures an [`AvionteClient`].
pub struct AvionteBuilder {
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    api_key: Option<ApiKey>,
    scope: String,
    base_url: String,
    http: Option<reqwest::ClientBuilder>,
    requests_per_second: Option<f64>,
    retry: RateLimitRetry,
}

impl AvionteBuilder {
    /// The API client's id and secret.
    #[must_use]
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<ClientSecret>) -> Self {
        self.client_id = Some(id.into());
        self.client_secret = Some(secret.into());
        self
    }

    /// The API key, sent as `x-api-key` on the token request and on every API call.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The scope (default [`DEFAULT_SCOPE`]).
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// Another base URL (default [`DEFAULT_BASE_URL`]), for tests.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Builds the API calls' HTTP client from `builder` (proxies, certificates, timeouts).
    /// Whatever it says, the client follows no redirect to another origin and sends no
    /// `Referer`, so the token and `x-api-key` stay with Avionté.
    #[must_use]
    pub fn http_client(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http = Some(builder);
        self
    }

    /// Spaces API calls so that at most this many start per second (for bulk endpoints).
    #[must_use]
    pub fn rate_limit(mut self, requests_per_second: f64) -> Self {
        self.requests_per_second = Some(requests_per_second);
        self
    }

    /// How 429 answers are retried (default [`RateLimitRetry::default`]).
    #[must_use]
    pub fn retry_on_rate_limit(mut self, retry: RateLimitRetry) -> Self {
        self.retry = retry;
        self
    }

    fn base(&self) -> Result<Url, Error> {
        let mut base = Url::parse(self.base_url.trim())
            .map_err(|e| Error::config(format!("Avionté base URL is not a URL: {e}")))?;
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(base)
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<AvionteClient, Error> {
        let (Some(id), Some(secret)) = (self.client_id.clone(), self.client_secret.clone()) else {
            return Err(
                Error::config("no Avionté API client").with_hint("set `.client(id, secret)`")
            );
        };
        let Some(api_key) = self.api_key.clone() else {
            return Err(Error::config("no Avionté API key").with_hint(
                "set `.api_key(..)`: Avionté wants x-api-key on the token request and every call",
            ));
        };
        let base = self.base()?;
        let endpoint = TokenEndpoint::builder(
            base.join("authorize/token")
                .map_err(|e| Error::config(e.to_string()))?,
        )
        .client_id(id)
        .client_secret(secret)
        .auth(ClientAuth::RequestBody)
        .header(API_KEY_HEADER, api_key.expose_secret())
        .build()?;
        let source = ClientCredentials::new(endpoint)
            .scope([self.scope.as_str()])
            .build_source();
        self.build_with_provider(Arc::new(Cached::new(AvionteSource(source))))
    }

    /// A client over any token provider (a `StaticToken` or a mock in a unit test, a provider
    /// shared with other clients): no client id or secret needed, the API key still is.
    pub fn build_with_provider(
        self,
        provider: Arc<dyn TokenProvider>,
    ) -> Result<AvionteClient, Error> {
        let Some(api_key) = self.api_key.clone() else {
            return Err(Error::config("no Avionté API key").with_hint(
                "set `.api_key(..)`: Avionté wants x-api-key on the token request and every call",
            ));
        };
        let base = self.base()?;
        let http = BearerAuth::new(Arc::clone(&provider))
            .for_origin(base.as_str())
            .header(API_KEY_HEADER, api_key.expose_secret())
            .build()?
            .into_client(self.http)?;
        let limiter = match self.requests_per_second {
            Some(rate) if rate.is_finite() && rate > 0.0 => {
                // A rate so low that its spacing does not fit a `Duration` (1e-20 per second)
                // is refused, not a panic.
                let spacing = Duration::try_from_secs_f64(1.0 / rate)
                    .ok()
                    .filter(|spacing| *spacing <= MAX_SPACING)
                    .ok_or_else(|| {
                        Error::config(format!(
                            "rate limit {rate} per second spaces calls more than a day apart"
                        ))
                    })?;
                Some(Arc::new(Limiter {
                    spacing,
                    next: Mutex::new(None),
                }))
            }
            Some(rate) => {
                return Err(Error::config(format!(
                    "rate limit must be above zero, got {rate}"
                )));
            }
            None => None,
        };
        Ok(AvionteClient {
            base,
            http,
            provider,
            limiter,
            retry: self.retry,
        })
    }
}

impl fmt::Debug for AvionteBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvionteBuilder")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("api_key", &self.api_key)
            .field("scope", &self.scope)
            .field("base_url", &shown_url(&self.base_url))
            .finish_non_exhaustive()
    }
}

/// The client credentials source, with Avionté's hints on its errors.
struct AvionteSource(GrantSource);

#[async_trait]
impl TokenSource for AvionteSource {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        self.0.fetch().await.map_err(|e| match token_hint(&e) {
            Some(hint) => e.with_hint(hint),
            None => e,
        })
    }

    fn name(&self) -> &str {
        "avionte_client_credentials"
    }
}

/// Spaces request starts by a fixed interval.
struct Limiter {
    spacing: Duration,
    next: Mutex<Option<Instant>>,
}

impl Limiter {
    async fn wait(&self) {
        let mut next = self.next.lock().await;
        let now = Instant::now();
        let start = match *next {
            Some(at) if at > now => at,
            _ => now,
        };
        *next = Some(start + self.spacing);
        drop(next);
        tokio::time::sleep_until(start).await;
    }
}

/// An Avionté BOLD Front Office client. Every call carries the bearer token, `x-api-key`,
/// `Accept: application/json`, a tenant header and a `RequestId`; the key and token go to
/// Avionté's origin only. Cloning is cheap.
///
/// ```
/// use tokensmith_avionte::{AvionteClient, Tenant};
///
/// let client = AvionteClient::builder()
///     .client("client-id", "client-secret")
///     .api_key("api-key")
///     .build()?;
/// let acme = client.tenant(Tenant::front_office_id("42"));
/// // let talent = acme.talent(7).await?;
/// # let _ = acme;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone)]
pub struct AvionteClient {
    base: Url,
    http: ClientWithMiddleware,
    provider: Arc<dyn TokenProvider>,
    limiter: Option<Arc<Limiter>>,
    retry: RateLimitRetry,
}

impl AvionteClient {
    /// Starts a client.
    pub fn builder() -> AvionteBuilder {
        AvionteBuilder {
            client_id: None,
            client_secret: None,
            api_key: None,
            scope: DEFAULT_SCOPE.to_owned(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            http: None,
            requests_per_second: None,
            retry: RateLimitRetry::default(),
        }
    }

    /// Calls on behalf of `tenant`.
    pub fn tenant(&self, tenant: Tenant) -> TenantClient {
        TenantClient {
            client: self.clone(),
            tenant,
        }
    }

    /// The token provider.
    pub fn provider(&self) -> Arc<dyn TokenProvider> {
        Arc::clone(&self.provider)
    }

    /// The middleware-wrapped reqwest client, for calls this crate does not type: it adds the
    /// token and `x-api-key` to requests for Avionté's origin only.
    pub fn http(&self) -> &ClientWithMiddleware {
        &self.http
    }
}

impl fmt::Debug for AvionteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvionteClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

/// An [`AvionteClient`] acting for one tenant.
#[derive(Clone, Debug)]
pub struct TenantClient {
    client: AvionteClient,
    tenant: Tenant,
}

impl TenantClient {
    /// `GET /front-office/v1/talent/{id}`.
    pub async fn talent(&self, id: u64) -> Result<Talent, AvionteError> {
        self.get(&format!("front-office/v1/talent/{id}"), None)
            .await
    }

    /// `GET /front-office/v1/talent/ids/{page}/{pageSize}`: one page of talent ids (pages
    /// start at 1; at most [`MAX_PAGE_SIZE`] per page).
    pub async fn talent_ids(&self, page: u32, page_size: u32) -> Result<Vec<u64>, AvionteError> {
        if page == 0 || page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(AvionteError::InvalidRequest(format!(
                "pages start at 1 and hold 1 to {MAX_PAGE_SIZE} ids; got page {page} of size {page_size}"
            )));
        }
        self.get(
            &format!("front-office/v1/talent/ids/{page}/{page_size}"),
            None,
        )
        .await
    }

    /// `GET` any path under the base URL (`front-office/v1/…`), with a chosen `RequestId`
    /// or a fresh one.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        request_id: Option<&str>,
    ) -> Result<T, AvionteError> {
        let client = &self.client;
        let url = client
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| AvionteError::InvalidRequest(format!("bad path `{path}`: {e}")))?;
        let request_id = match request_id {
            Some(id) => id.to_owned(),
            None => new_request_id().map_err(|e| AvionteError::InvalidRequest(e.to_string()))?,
        };
        let (tenant_header, tenant_value) = self.tenant.header();
        let retry = client.retry;
        let mut attempt = 1;
        loop {
            if let Some(limiter) = &client.limiter {
                limiter.wait().await;
            }
            let response = client
                .http
                .get(url.clone())
                .header(ACCEPT, "application/json")
                .header(tenant_header, tenant_value)
                .header("RequestId", &request_id)
                .send()
                .await
                .map_err(|e| match auth_error(&e) {
                    Some(auth) => AvionteError::Auth(auth.clone()),
                    None => AvionteError::Transport(e),
                })?;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS && attempt < retry.tries {
                let delay = retry_after(&response).unwrap_or_else(|| {
                    retry.first_delay.saturating_mul(1 << (attempt - 1).min(16))
                });
                let delay = delay.min(retry.max_delay);
                tracing::warn!(
                    target: "tokensmith::avionte",
                    attempt,
                    delay_ms = delay.as_millis() as u64,
                    "Avionté answered 429; waiting before the next try"
                );
                drop(response);
                tokio::time::sleep(delay).await;
                attempt += 1;
                continue;
            }
            let body = read_limited(response, MAX_ANSWER_BYTES)
                .await
                .map_err(|e| match e {
                    BodyError::Transport(e) => AvionteError::Transport(e.into()),
                    _ => AvionteError::Decode(format!(
                        "the answer is larger than {MAX_ANSWER_BYTES} bytes"
                    )),
                })?;
            if status.is_success() {
                return serde_json::from_slice(&body)
                    .map_err(|e| AvionteError::Decode(e.to_string()));
            }
            return Err(AvionteError::Api {
                status,
                excerpt: scrub_excerpt(&body, &[]),
                hint: api_hint(status).map(str::to_owned),
            });
        }
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds = response
        .headers()
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Duration::from_secs(seconds))
}

/// A random (version 4) GUID for the `RequestId` header.
/// `url` without user info, query or fragment, for `Debug`.
fn shown_url(url: &str) -> String {
    match Url::parse(url.trim()) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

pub(crate) fn new_request_id() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::other(format!("no random bytes for a RequestId: {e}")))?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_v4_guids_and_unique() {
        let a = new_request_id().unwrap();
        let b = new_request_id().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let builder = AvionteClient::builder()
            .client("id", "canary-secret-5")
            .api_key("canary-key-6")
            .base_url("https://user:canary-pw@api.example.com/?api_key=canary-q");
        let text = format!("{builder:?}");
        assert!(!text.contains("canary-"), "{text}");
        assert!(text.contains("ApiKey([redacted])"));
    }

    #[test]
    fn missing_settings_are_typed_errors() {
        let no_key = AvionteClient::builder()
            .client("id", "s")
            .build()
            .unwrap_err();
        assert!(no_key.hint().unwrap().contains("x-api-key"));
        assert!(AvionteClient::builder().api_key("k").build().is_err());
        for tiny in [1e-20, 1e-300, f64::MIN_POSITIVE] {
            let refused = AvionteClient::builder()
                .client("id", "secret")
                .api_key("key")
                .rate_limit(tiny)
                .build();
            assert!(refused.is_err(), "{tiny}");
        }
        let bad_rate = AvionteClient::builder()
            .client("id", "s")
            .api_key("k")
            .rate_limit(0.0)
            .build();
        assert!(bad_rate.is_err());
    }
}
