//! The typed AirVantage client and its builder.

use std::fmt;
use std::sync::Arc;

use reqwest::Method;
use reqwest::header::ACCEPT;
use serde::de::DeserializeOwned;
use tokensmith_core::arc_provider;
use tokensmith_core::{Error, TokenProvider};
use tokensmith_oauth2::{
    AuthorizationCode, ClientAuth, ClientSecret, Password, RefreshTokenGrant, TokenEndpoint,
    TokenResponse, UserPassword,
};
use tokensmith_reqwest::api::{ApiClient, ApiError};

use crate::error::{AirVantageApi, VENDOR};
use crate::{AirVantageError, Page, Region, System, SystemsQuery, User};

/// Token endpoint path on every region.
pub const TOKEN_PATH: &str = "api/oauth/token";
/// Authorization endpoint path.
pub const AUTHORIZE_PATH: &str = "api/oauth/authorize";
/// Logout path (`?access_token=…`).
pub const EXPIRE_PATH: &str = "api/oauth/expire";

/// How the client gets its tokens.
enum SignIn {
    Password(String, UserPassword),
    Tokens(Box<TokenResponse>),
    Provider(Arc<dyn TokenProvider>),
}

/// Configures an [`AirVantageClient`]: region, API client, and how the user signs in.
pub struct AirVantageBuilder {
    region: Region,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
    auth: ClientAuth,
    sign_in: Option<SignIn>,
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

    /// Signs in as this user with the password grant (the usual choice for server-side code),
    /// refreshing with the refresh token it gets and falling back to the password when that
    /// is refused.
    #[must_use]
    pub fn password(
        mut self,
        username: impl Into<String>,
        password: impl Into<UserPassword>,
    ) -> Self {
        self.sign_in = Some(SignIn::Password(username.into(), password.into()));
        self
    }

    /// Continues from an authorization code flow's tokens (see
    /// [`authorization_code`](Self::authorization_code)), refreshing with their refresh token.
    #[must_use]
    pub fn tokens(mut self, tokens: TokenResponse) -> Self {
        self.sign_in = Some(SignIn::Tokens(Box::new(tokens)));
        self
    }

    /// Takes tokens from `provider` (another client's, for the same region; a `StaticToken`
    /// or a mock in a unit test): no API client or user needed.
    #[must_use]
    pub fn provider(mut self, provider: impl TokenProvider + 'static) -> Self {
        self.sign_in = Some(SignIn::Provider(arc_provider(provider)));
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
        TokenEndpoint::builder(self.region.base_url().join(TOKEN_PATH)?)
            .client_id(id.clone())
            .client_secret(secret.clone())
            .auth(self.auth)
            .build()
    }

    /// The authorization code flow at the region's authorization endpoint. AirVantage wants
    /// the same `redirect_uri` again at the exchange, which the flow guarantees. Finish with
    /// [`tokens`](Self::tokens) and [`build`](Self::build).
    pub fn authorization_code(
        &self,
        redirect_uri: impl Into<String>,
    ) -> Result<AuthorizationCode, Error> {
        AuthorizationCode::new(
            self.token_endpoint()?,
            self.region.base_url().join(AUTHORIZE_PATH)?.as_str(),
            redirect_uri,
        )
    }

    /// Checks the settings and builds the client; errors are [`Config`](tokensmith_reqwest::api::ApiErrorKind::Config)
    /// errors with a hint.
    pub fn build(self) -> Result<AirVantageClient, AirVantageError> {
        self.try_build().map_err(|e| ApiError::from_core(VENDOR, e))
    }

    fn try_build(self) -> Result<AirVantageClient, Error> {
        let provider: Arc<dyn TokenProvider> = match self.sign_in {
            Some(SignIn::Provider(ref provider)) => Arc::clone(provider),
            Some(SignIn::Password(ref username, ref password)) => Arc::new(
                Password::new(self.token_endpoint()?, username.clone(), password.clone()).build(),
            ),
            Some(SignIn::Tokens(ref tokens)) => Arc::new(
                RefreshTokenGrant::from_response(self.token_endpoint()?, (**tokens).clone())?
                    .build(),
            ),
            None => {
                return Err(Error::config("no AirVantage user to sign in as").with_hint(
                    "set `.password(username, password)`, or run `.authorization_code(..)` and \
                     continue with `.tokens(..)`",
                ));
            }
        };
        let mut api = ApiClient::builder(self.region.base_url().to_string(), provider).vendor(
            AirVantageApi {
                region: self.region.clone(),
                company: self.company.clone(),
            },
        );
        if let Some(http) = self.http {
            api = api.http_client(http);
        }
        Ok(AirVantageClient {
            region: self.region,
            company: self.company,
            api: api.build()?,
        })
    }
}

impl fmt::Debug for AirVantageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let user = match &self.sign_in {
            Some(SignIn::Password(name, _)) => Some(name.as_str()),
            _ => None,
        };
        f.debug_struct("AirVantageBuilder")
            .field("region", &self.region)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("user", &user)
            .field("company", &self.company)
            .finish_non_exhaustive()
    }
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
/// # Ok::<(), tokensmith_airvantage::AirVantageError>(())
/// ```
#[derive(Clone)]
pub struct AirVantageClient {
    region: Region,
    company: Option<String>,
    api: ApiClient<AirVantageApi>,
}

impl AirVantageClient {
    /// Starts a client for `region`.
    pub fn builder(region: Region) -> AirVantageBuilder {
        AirVantageBuilder {
            region,
            client_id: None,
            client_secret: None,
            auth: ClientAuth::RequestBody,
            sign_in: None,
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
        self.api.provider()
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
        let company = self.company.as_deref().map(|c| ("company", c));
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .chain(company)
            .collect();
        let request = self.api.request_with_query(Method::GET, path, &pairs)?;
        self.api.send_json(request).await
    }

    /// Revokes the current token (`GET /api/oauth/expire`), for a clean shutdown. Does nothing
    /// when no token is held.
    pub async fn logout(&self) -> Result<(), AirVantageError> {
        let provider = self.api.provider();
        let Some(token) = provider.current() else {
            return Ok(());
        };
        let mut url = self
            .api
            .base()
            .join(EXPIRE_PATH)
            .map_err(|e| ApiError::invalid_request(VENDOR, e.to_string()))?;
        url.query_pairs_mut()
            .append_pair("access_token", token.secret().expose_secret());
        // The token travels in the URL, not in a header: the request skips the middleware's
        // token; errors show the URL without its query.
        let request = self
            .api
            .http()
            .get(url)
            .header(ACCEPT, "application/json")
            .with_extension(tokensmith_reqwest::RequestAuth::Skip);
        let answer = self.api.send(request).await;
        provider.invalidate(&token);
        answer.map(drop)
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
