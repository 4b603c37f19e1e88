//! The typed AirVantage client and its builder.

use std::fmt;
use std::sync::Arc;

use reqwest::header::ACCEPT;
use reqwest_middleware::ClientWithMiddleware;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokensmith_core::{Error, ExposeSecret, TokenProvider, scrub_excerpt};
use tokensmith_oauth2::{
    AuthorizationCode, BodyError, ClientAuth, ClientSecret, Password, RefreshTokenGrant,
    TokenEndpoint, TokenResponse, UserPassword, read_limited,
};
use tokensmith_reqwest::{BearerAuth, auth_error};
use url::Url;

use crate::error::hint_for;
use crate::{AirVantageError, ApiError, Page, Region, System, SystemsQuery, User};

/// The most `errorParameters` an error keeps.
const MAX_ERROR_PARAMETERS: usize = 8;

/// Largest API answer read.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// Token endpoint path on every region.
const TOKEN_PATH: &str = "api/oauth/token";
/// Authorization endpoint path.
const AUTHORIZE_PATH: &str = "api/oauth/authorize";
/// Logout path (`?access_token=…`).
const EXPIRE_PATH: &str = "api/oauth/expire";

/// Configures an [`AirVantageClient`]: region, API client, and how the user signs in.
pub struct AirVantageBuilder {
    region: Region,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    auth: ClientAuth,
    user: Option<(String, UserPassword)>,
    company: Option<String>,
    http: Option<reqwest::ClientBuilder>,
}

impl AirVantageBuilder {
    /// The API client's id and secret (AirVantage: Develop › API clients).
    #[must_use]
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<ClientSecret>) -> Self {
        self.client_id = Some(id.into());
        self.client_secret = Some(secret.into());
        self
    }

    /// How the client authenticates at the token endpoint (default: id and secret as form
    /// parameters, as AirVantage documents; Basic also works).
    #[must_use]
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Signs in as this user with the password grant (the usual choice for server-side code).
    #[must_use]
    pub fn password(
        mut self,
        username: impl Into<String>,
        password: impl Into<UserPassword>,
    ) -> Self {
        self.user = Some((username.into(), password.into()));
        self
    }

    /// Adds `company=<uid>` to every API call, to act in that company.
    #[must_use]
    pub fn company(mut self, uid: impl Into<String>) -> Self {
        self.company = Some(uid.into());
        self
    }

    /// Builds the API calls' HTTP client from `builder` (proxies, certificates, timeouts).
    /// Whatever it says, the client follows no redirect to another origin and sends no
    /// `Referer` (a logout URL carries the token in its query), so the token stays in its
    /// region.
    #[must_use]
    pub fn http_client(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http = Some(builder);
        self
    }

    /// The region's token endpoint with this client's credentials.
    pub fn token_endpoint(&self) -> Result<TokenEndpoint, Error> {
        let (Some(id), Some(secret)) = (&self.client_id, &self.client_secret) else {
            return Err(Error::config("no AirVantage API client")
                .with_hint("set `.client(id, secret)` with the API client created in AirVantage"));
        };
        TokenEndpoint::builder(join(&self.region, TOKEN_PATH)?)
            .client_id(id.clone())
            .client_secret(secret.clone())
            .auth(self.auth)
            .build()
    }

    /// The authorization code flow at the region's authorization endpoint. AirVantage wants
    /// the same `redirect_uri` again at the exchange, which the flow guarantees.
    pub fn authorization_code(
        &self,
        redirect_uri: impl Into<String>,
    ) -> Result<AuthorizationCode, Error> {
        AuthorizationCode::new(
            self.token_endpoint()?,
            join(&self.region, AUTHORIZE_PATH)?,
            redirect_uri,
        )
    }

    /// A client that signs in with the password grant (refreshing with the refresh token it
    /// gets, falling back to the password when that is refused).
    pub fn build(self) -> Result<AirVantageClient, Error> {
        let Some((username, password)) = self.user.clone() else {
            return Err(Error::config("no AirVantage user to sign in as").with_hint(
                "set `.password(username, password)`, or run `.authorization_code(..)` and \
                 finish with `.build_with_tokens(..)`",
            ));
        };
        let provider = Password::new(self.token_endpoint()?, username, password).build();
        self.build_with_provider(Arc::new(provider))
    }

    /// A client that continues from an authorization code flow's tokens.
    pub fn build_with_tokens(self, tokens: TokenResponse) -> Result<AirVantageClient, Error> {
        let provider = RefreshTokenGrant::from_response(self.token_endpoint()?, tokens)?.build();
        self.build_with_provider(Arc::new(provider))
    }

    /// A client over any token provider (one must be for this region).
    pub fn build_with_provider(
        self,
        provider: Arc<dyn TokenProvider>,
    ) -> Result<AirVantageClient, Error> {
        let base = self.region.base_url();
        let http = BearerAuth::new(Arc::clone(&provider))
            .for_origin(base.as_str())
            .build()?
            .into_client(self.http)?;
        Ok(AirVantageClient {
            region: self.region,
            base,
            company: self.company,
            plain: http.as_ref().clone(),
            http,
            provider,
        })
    }
}

impl fmt::Debug for AirVantageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AirVantageBuilder")
            .field("region", &self.region)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("user", &self.user.as_ref().map(|(name, _)| name))
            .field("company", &self.company)
            .finish_non_exhaustive()
    }
}

fn join(region: &Region, path: &str) -> Result<String, Error> {
    region
        .base_url()
        .join(path)
        .map(String::from)
        .map_err(|e| Error::config(format!("AirVantage base URL cannot take `{path}`: {e}")))
}

/// An AirVantage API client bound to one region: its token provider and its API calls use the
/// same base URL. Cloning is cheap.
///
/// ```
/// use tokensmith_airvantage::{AirVantageClient, Region};
///
/// let client = AirVantageClient::builder(Region::Eu)
///     .client("client-id", "client-secret")
///     .password("user@example.com", "password")
///     .build()?;
/// // let systems = client.systems(&SystemsQuery::new().size(50)).await?;
/// # let _ = client;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone)]
pub struct AirVantageClient {
    region: Region,
    base: Url,
    company: Option<String>,
    http: ClientWithMiddleware,
    plain: reqwest::Client,
    provider: Arc<dyn TokenProvider>,
}

impl AirVantageClient {
    /// Starts a client for `region`.
    pub fn builder(region: Region) -> AirVantageBuilder {
        AirVantageBuilder {
            region,
            client_id: None,
            client_secret: None,
            auth: ClientAuth::RequestBody,
            user: None,
            company: None,
            http: None,
        }
    }

    /// The region.
    pub fn region(&self) -> &Region {
        &self.region
    }

    /// The token provider (for other clients of the same region).
    pub fn provider(&self) -> Arc<dyn TokenProvider> {
        Arc::clone(&self.provider)
    }

    /// `GET /api/v1/systems`: a page of systems.
    pub async fn systems(&self, query: &SystemsQuery) -> Result<Page<System>, AirVantageError> {
        self.get("api/v1/systems", &query.pairs()).await
    }

    /// `GET /api/v1/systems/{uid}`.
    pub async fn system(&self, uid: &str) -> Result<System, AirVantageError> {
        let uid: String = url::form_urlencoded::byte_serialize(uid.as_bytes()).collect();
        self.get(&format!("api/v1/systems/{uid}"), &[]).await
    }

    /// `GET /api/v1/users/current`: who the token belongs to.
    pub async fn current_user(&self) -> Result<User, AirVantageError> {
        self.get("api/v1/users/current", &[]).await
    }

    /// `GET` any API path (`api/v1/…` or `api/v2/…`) with query parameters; `company` is
    /// added when configured.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, AirVantageError> {
        let mut url = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| AirVantageError::Decode(format!("bad API path `{path}`: {e}")))?;
        let company = self.company.as_deref().map(|c| ("company", c.to_owned()));
        let pairs: Vec<_> = query.iter().cloned().chain(company).collect();
        if !pairs.is_empty() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        let response = self
            .http
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| match auth_error(&e) {
                Some(auth) => AirVantageError::Auth(auth.clone()),
                None => AirVantageError::Transport(e),
            })?;
        let status = response.status();
        let body = read_limited(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::Transport(e) => AirVantageError::Transport(e.into()),
                _ => AirVantageError::Decode(format!(
                    "the answer is larger than {MAX_ANSWER_BYTES} bytes"
                )),
            })?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|e| AirVantageError::Decode(e.to_string()));
        }
        Err(self.api_error(status, &body))
    }

    fn api_error(&self, status: reqwest::StatusCode, body: &[u8]) -> AirVantageError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let code = parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .and_then(Value::as_str);
        let Some(code) = code else {
            return AirVantageError::Unexpected {
                status,
                excerpt: scrub_excerpt(body, &[]),
            };
        };
        let parameters: Vec<String> = parsed
            .as_ref()
            .and_then(|v| v.get("errorParameters"))
            .and_then(Value::as_array)
            .map(|a| {
                // Parameters echo request data: scrubbed, and only the first few, each bounded.
                a.iter()
                    .take(MAX_ERROR_PARAMETERS)
                    .map(|p| {
                        let text = p.as_str().map_or_else(|| p.to_string(), str::to_owned);
                        scrub_excerpt(text.as_bytes(), &[])
                    })
                    .collect()
            })
            .unwrap_or_default();
        let hint = hint_for(code, &parameters, &self.region, self.company.as_deref());
        AirVantageError::Api(Box::new(ApiError {
            status,
            code: scrub_excerpt(code.as_bytes(), &[]),
            parameters,
            hint,
        }))
    }

    /// Revokes the current token (`GET /api/oauth/expire`), for a clean shutdown. Does nothing
    /// when no token is held.
    pub async fn logout(&self) -> Result<(), AirVantageError> {
        let Some(token) = self.provider.current() else {
            return Ok(());
        };
        let mut url = self
            .base
            .join(EXPIRE_PATH)
            .map_err(|e| AirVantageError::Decode(e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("access_token", token.secret().expose_secret());
        // The URL carries the token: errors drop it.
        let response = self
            .plain
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| AirVantageError::Transport(e.without_url().into()))?;
        let status = response.status();
        let body = read_limited(response, 64 * 1024).await.unwrap_or_default();
        self.provider.invalidate(&token);
        if status.is_success() {
            Ok(())
        } else {
            Err(self.api_error(status, &body))
        }
    }
}

impl fmt::Debug for AirVantageClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AirVantageClient")
            .field("region", &self.region)
            .field("company", &self.company)
            .finish_non_exhaustive()
    }
}
