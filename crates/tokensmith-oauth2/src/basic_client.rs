//! The generic Basic-client adapter: vendors that document `POST {host}/oauth/token` with
//! `Authorization: Basic base64(client_id:client_secret)` (Deyel, for one).

use tokensmith_core::Error;

use crate::{ClientAuth, ClientCredentials, ClientSecret, Password, TokenEndpoint, UserPassword};

/// The path such vendors serve their token endpoint on.
pub const BASIC_CLIENT_TOKEN_PATH: &str = "/oauth/token";

/// A vendor whose token endpoint is `{host}/oauth/token` and wants HTTP Basic client
/// authentication. Its answers are standard on success (`access_token`, `token_type`,
/// `expires_in`); its errors come in non-standard shapes (`{"error":"Invalid_request"}`,
/// `{"errors":[{"message":..., "attribute-name":...}]}`), which the parser understands.
///
/// ```
/// use tokensmith_oauth2::BasicClient;
///
/// let vendor = BasicClient::new("https://vendor.example.com", "my-client", "my-secret")?;
/// assert_eq!(vendor.endpoint().url().as_str(), "https://vendor.example.com/oauth/token");
/// let service_provider = vendor.client_credentials().build();
/// let user_provider = vendor.password("alice", "correct horse").build();
/// # let _ = (service_provider, user_provider);
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BasicClient {
    endpoint: TokenEndpoint,
}

impl BasicClient {
    /// The vendor at `host` (`https://vendor.example.com`, with or without a trailing `/`).
    pub fn new(
        host: impl AsRef<str>,
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> Result<Self, Error> {
        let endpoint = Self::endpoint_builder(host)
            .client_id(client_id)
            .client_secret(client_secret)
            .build()?;
        Ok(Self { endpoint })
    }

    /// The endpoint builder with the vendor's URL and Basic authentication set, for other
    /// settings (timeouts, retries, an HTTP client); finish with [`from_endpoint`](Self::from_endpoint).
    pub fn endpoint_builder(host: impl AsRef<str>) -> crate::TokenEndpointBuilder {
        let url = format!(
            "{}{BASIC_CLIENT_TOKEN_PATH}",
            host.as_ref().trim().trim_end_matches('/')
        );
        TokenEndpoint::builder(url).auth(ClientAuth::Basic)
    }

    /// Uses an endpoint built elsewhere.
    pub fn from_endpoint(endpoint: TokenEndpoint) -> Self {
        Self { endpoint }
    }

    /// The token endpoint.
    pub fn endpoint(&self) -> &TokenEndpoint {
        &self.endpoint
    }

    /// `grant_type=client_credentials`.
    pub fn client_credentials(&self) -> ClientCredentials {
        ClientCredentials::new(self.endpoint.clone())
    }

    /// `grant_type=password`; the answer carries a refresh token, which is used next and kept
    /// across refreshes.
    pub fn password(
        &self,
        username: impl Into<String>,
        password: impl Into<UserPassword>,
    ) -> Password {
        Password::new(self.endpoint.clone(), username, password)
    }
}
