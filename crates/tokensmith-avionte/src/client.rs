//! The Avionté client: its token provider, its API calls and their headers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use tokensmith_core::{Backoff, Error, RetryPolicy, TokenProvider};
use tokensmith_oauth2::{ClientAuth, ClientCredentials, ClientSecret, TokenEndpoint};
use tokensmith_reqwest::api::{ApiClient, ApiError, BaseUrl};
use tokensmith_reqwest::reqwest_middleware::ClientWithMiddleware;

use crate::error::{AvionteApi, AvionteToken, VENDOR};
use crate::{AvionteError, Talent, Tenant};

/// Avionté's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.avionte.com";
/// The scope Avionté's documentation asks for.
pub const DEFAULT_SCOPE: &str = "avionte.aero.compasintegrationservice";
/// The header that carries the API key, on the token request and every API call.
pub const API_KEY_HEADER: &str = "x-api-key";
/// The token endpoint's path under the base URL.
pub const TOKEN_PATH: &str = "authorize/token";
/// The largest page `talent_ids` may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

tokensmith_core::secret_string! {
    /// An Avionté API key (`x-api-key`).
    pub struct ApiKey;
}

/// How 429 answers are retried, as Avionté documents: 5 s, then 10 s, doubling, five tries in
/// all; a `Retry-After` header wins, up to 80 s.
pub fn documented_retry() -> RetryPolicy {
    RetryPolicy::default()
        .attempts(5)
        .backoff(Backoff::new(
            Duration::from_secs(5),
            Duration::from_secs(80),
        ))
        .max_retry_after(Duration::from_secs(80))
}

/// Configures an [`AvionteClient`].
pub struct AvionteBuilder {
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    api_key: Option<ApiKey>,
    scope: String,
    base_url: String,
    provider: Option<Arc<dyn TokenProvider>>,
    http: Option<reqwest::ClientBuilder>,
    requests_per_second: Option<f64>,
    retry: RetryPolicy,
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

    /// Another base URL (default [`DEFAULT_BASE_URL`]), for tests; a path prefix is kept.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Takes tokens from `provider` instead of the client credentials grant (a
    /// `StaticToken` or a mock in a unit test, a provider shared with other clients): no
    /// client id or secret needed; the API key still is.
    #[must_use]
    pub fn provider(mut self, provider: impl TokenProvider + 'static) -> Self {
        self.provider = Some(tokensmith_core::arc_provider(provider));
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

    /// How 429 answers are retried (default [`documented_retry`]).
    #[must_use]
    pub fn retry_on_rate_limit(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Checks the settings and builds the client; errors are [`Config`](tokensmith_reqwest::api::ApiErrorKind::Config)
    /// errors with a hint.
    pub fn build(self) -> Result<AvionteClient, AvionteError> {
        self.try_build().map_err(|e| ApiError::from_core(VENDOR, e))
    }

    fn try_build(self) -> Result<AvionteClient, Error> {
        let Some(api_key) = self.api_key.clone() else {
            return Err(Error::config("no Avionté API key").with_hint(
                "set `.api_key(..)`: Avionté wants x-api-key on the token request and every call",
            ));
        };
        let base = BaseUrl::parse(&self.base_url)?;
        let provider = match self.provider {
            Some(provider) => provider,
            None => {
                let (Some(id), Some(secret)) = (self.client_id, self.client_secret) else {
                    return Err(Error::config("no Avionté API client")
                        .with_hint("set `.client(id, secret)`, or `.provider(..)`"));
                };
                let endpoint = TokenEndpoint::builder(base.join(TOKEN_PATH)?)
                    .client_id(id)
                    .client_secret(secret)
                    .auth(ClientAuth::RequestBody)
                    .header(API_KEY_HEADER, api_key.expose_secret())
                    .vendor(AvionteToken)
                    .build()?;
                Arc::new(
                    ClientCredentials::new(endpoint)
                        .scope([self.scope.as_str()])
                        .build(),
                )
            }
        };
        let mut api = ApiClient::builder(base.to_string(), provider)
            .vendor(AvionteApi)
            .header(API_KEY_HEADER, api_key.expose_secret())
            .retry(self.retry);
        if let Some(http) = self.http {
            api = api.http_client(http);
        }
        if let Some(rate) = self.requests_per_second {
            api = api.rate_limit(rate);
        }
        Ok(AvionteClient { api: api.build()? })
    }
}

impl fmt::Debug for AvionteBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvionteBuilder")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("api_key", &self.api_key)
            .field("scope", &self.scope)
            .field(
                "base_url",
                &tokensmith_http::display_url_text(&self.base_url),
            )
            .finish_non_exhaustive()
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
/// # Ok::<(), tokensmith_avionte::AvionteError>(())
/// ```
#[derive(Clone)]
pub struct AvionteClient {
    api: ApiClient<AvionteApi>,
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
            provider: None,
            http: None,
            requests_per_second: None,
            retry: documented_retry(),
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
        self.api.provider()
    }

    /// The middleware-wrapped reqwest client, for calls this crate does not type: it adds the
    /// token and `x-api-key` to requests for Avionté's origin only.
    pub fn http(&self) -> &ClientWithMiddleware {
        self.api.http()
    }
}

impl fmt::Debug for AvionteClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AvionteClient")
            .field("base", self.api.base())
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
            return Err(ApiError::invalid_request(
                VENDOR,
                format!(
                    "pages start at 1 and hold 1 to {MAX_PAGE_SIZE} ids; got page {page} of size {page_size}"
                ),
            ));
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
        let request_id = match request_id {
            Some(id) => id.to_owned(),
            None => {
                new_request_id().map_err(|e| ApiError::invalid_request(VENDOR, e.to_string()))?
            }
        };
        let (tenant_header, tenant_value) = self.tenant.header();
        let api = &self.client.api;
        let request = api
            .request(Method::GET, path)?
            .header(tenant_header, tenant_value)
            .header("RequestId", request_id);
        api.send_json(request).await
    }
}

/// A random (version 4) GUID for the `RequestId` header.
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
        assert_eq!(
            no_key.kind(),
            tokensmith_reqwest::api::ApiErrorKind::Config,
            "the builder's errors are the calls' error type"
        );
        assert!(
            no_key
                .to_string()
                .starts_with("Avionté client: invalid configuration"),
            "{no_key}"
        );
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
