//! The generic Basic-client vendor for tokensmith: vendors that document
//! `POST {host}/oauth/token` with `Authorization: Basic base64(client_id:client_secret)`
//! (Deyel, for one), the client credentials grant, and the password grant whose refresh token
//! stays the same across refreshes.
//!
//! Their success answers are standard, with `token_type` spellings that [`Quirks`] reads as
//! bearer; their errors come in shapes RFC 6749 does not define, which every tokensmith token
//! endpoint reads (this crate adds nothing for them):
//! - `{"error_description":"Invalid client_id","error":"Invalid_request"}`: a wrong client
//!   answered as `invalid_request`; the hint says so.
//! - `{"errors":[{"message":"Invalid refresh token.","attribute-name":"refresh_token"}]}`:
//!   mapped to the RFC code the attribute implies (`invalid_grant` here).
//! - `{"error":{"code":"…","message":"…"}}`, the shape API gateways answer with.
//!
//! # Example
//! ```
//! use tokensmith_basic::BasicClient;
//!
//! let vendor = BasicClient::new("https://vendor.example.com", "my-client", "my-secret")?;
//! assert_eq!(vendor.endpoint().url().as_str(), "https://vendor.example.com/oauth/token");
//! let service = vendor.client_credentials().build();
//! let api = vendor.api(service)?;
//! // let orders: serde_json::Value = api.get_json("api/orders").await?;
//! # let _ = api;
//! # Ok::<(), tokensmith_core::Error>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod quirks;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

use tokensmith_core::{Error, TokenProvider};
use tokensmith_oauth2::{
    ClientAuth, ClientCredentials, ClientSecret, Password, TokenEndpoint, TokenEndpointBuilder,
    UserPassword,
};
use tokensmith_reqwest::api::{ApiClient, BaseUrl, Opaque};

pub use crate::quirks::Quirks;

/// The token endpoint's path under the vendor's host.
pub const TOKEN_PATH: &str = "oauth/token";

/// A vendor whose token endpoint is `{host}/oauth/token` and wants HTTP Basic client
/// authentication.
///
/// ```
/// use tokensmith_basic::BasicClient;
///
/// let vendor = BasicClient::new("https://vendor.example.com/tenant-1/", "my-client", "my-secret")?;
/// assert_eq!(vendor.endpoint().url().as_str(), "https://vendor.example.com/tenant-1/oauth/token");
/// let user_provider = vendor.password("alice", "correct horse").build();
/// # let _ = user_provider;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BasicClient {
    host: BaseUrl,
    endpoint: TokenEndpoint,
}

impl BasicClient {
    /// The vendor at `host` (`https://vendor.example.com`, a path prefix kept).
    pub fn new(
        host: impl AsRef<str>,
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> Result<Self, Error> {
        let host = BaseUrl::parse(host.as_ref())?;
        let endpoint = Self::endpoint_at(&host)?
            .client_id(client_id)
            .client_secret(client_secret)
            .build()?;
        Ok(Self { host, endpoint })
    }

    /// The endpoint builder with the vendor's URL, Basic authentication and [`Quirks`] set, for
    /// other settings (timeouts, retries, an HTTP client); finish with
    /// [`with_endpoint`](Self::with_endpoint).
    pub fn endpoint_builder(host: impl AsRef<str>) -> Result<TokenEndpointBuilder, Error> {
        Self::endpoint_at(&BaseUrl::parse(host.as_ref())?)
    }

    fn endpoint_at(host: &BaseUrl) -> Result<TokenEndpointBuilder, Error> {
        Ok(TokenEndpoint::builder(host.join(TOKEN_PATH)?)
            .auth(ClientAuth::Basic)
            .vendor(Quirks))
    }

    /// The vendor at `host` with an endpoint from [`endpoint_builder`](Self::endpoint_builder).
    pub fn with_endpoint(host: impl AsRef<str>, endpoint: TokenEndpoint) -> Result<Self, Error> {
        Ok(Self {
            host: BaseUrl::parse(host.as_ref())?,
            endpoint,
        })
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
    /// across refreshes (these vendors do not rotate it).
    pub fn password(
        &self,
        username: impl Into<String>,
        password: impl Into<UserPassword>,
    ) -> Password {
        Password::new(self.endpoint.clone(), username, password)
    }

    /// The vendor's API on the same host, with tokens from `provider` (one of the grants
    /// above, a shared provider, or a mock in a unit test).
    pub fn api(&self, provider: impl TokenProvider + 'static) -> Result<ApiClient<Opaque>, Error> {
        ApiClient::builder(self.host.as_str(), provider)
            .vendor(Opaque::new("the vendor"))
            .build()
    }
}
