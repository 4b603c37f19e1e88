//! From a 401 to a token: a client that knows only the URL of a protected resource.
//!
//! The resource's challenge (`WWW-Authenticate: Bearer resource_metadata="…", scope="…"`)
//! leads to its metadata (RFC 9728), which names its authorization servers; the server's
//! metadata (RFC 8414, OpenID Connect) says how to sign in and register; the client
//! identifies itself (a pre-registered id, a Client ID Metadata Document, or dynamic
//! registration, RFC 7591), gets a token for exactly that resource (RFC 8707 `resource`,
//! PKCE), and steps up when a 403 asks for more scope (RFC 6750 §3.1). This is what MCP
//! servers require of their clients, and it works for any API that publishes the metadata.
//!
//! [`ResourceAuth`] is the token provider for one resource; give it to a driver with
//! `BearerAuth::discover` (reqwest) or `AuthLayer::discover` (tower), which send the first
//! request without a token and hand the resource's challenges to it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tokensmith_core::Error> {
//! use tokensmith_oauth2::resource::{ClientMetadata, LoopbackRedirect, ResourceAuth};
//!
//! // A user signs in through the browser; the client registers itself where the server
//! // allows it, and keeps its registration and refresh token in a file.
//! let auth = ResourceAuth::builder("https://mcp.example.com/mcp")
//!     .user(LoopbackRedirect::new())
//!     .registration(ClientMetadata::new("Report exporter"))
//!     .store(tokensmith_oauth2::FileStore::new("session.json"))
//!     .build()?;
//! // A machine client with its own credentials:
//! let machine = ResourceAuth::builder("https://api.example.com/v1")
//!     .client_credentials("reports", "secret")
//!     .build()?;
//! # let _ = (auth, machine);
//! # Ok(()) }
//! ```

mod authorizer;
mod builder;
mod client;
mod discover;
mod metadata;
mod source;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::StatusCode;
use tokensmith_core::{AccessToken, Cached, Error, SecretString, TokenProvider};
use tokensmith_http::ChallengeHandler;
use tokensmith_http::challenge::Challenge;
use url::Url;

pub use self::authorizer::{Authorizer, LoopbackRedirect, Redirect};
pub use self::builder::ResourceAuthBuilder;
pub use self::client::ClientMetadata;
pub use self::discover::Discovered;
pub use self::metadata::{MAX_RESOURCE_METADATA_BYTES, ResourceMetadata};
use self::source::ResourceSource;
use crate::{ClientSecret, Signer};

/// The default bound on re-authorizations for more scope, over the provider's life.
pub const DEFAULT_MAX_STEP_UPS: u32 = 3;

/// How the token is obtained once the server is known.
#[derive(Clone)]
enum Flow {
    /// A user signs in: the authorization code flow with PKCE S256.
    User(Arc<dyn Authorizer>, Duration),
    /// The client on its own behalf: client credentials.
    ClientCredentials,
    /// An identity assertion exchanged for an authorization grant (cross-app access).
    CrossApp(Arc<IdentityAssertion>),
}

/// Cross-app access: the user's identity assertion (an ID token from the enterprise's
/// identity provider) is exchanged there for an identity assertion authorization grant
/// (RFC 8693, `urn:ietf:params:oauth:token-type:id-jag`) for the resource's authorization
/// server, which the client then presents as a JWT bearer grant (RFC 7523).
pub struct IdentityAssertion {
    token_endpoint: String,
    subject_token: SecretString,
    subject_token_type: String,
    client_id: Option<String>,
    client_secret: Option<ClientSecret>,
}

/// The token type of an identity assertion authorization grant.
pub const ID_JAG_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";

impl IdentityAssertion {
    /// The identity provider's token endpoint and the user's ID token there.
    pub fn id_token(token_endpoint: impl Into<String>, id_token: impl Into<String>) -> Self {
        Self {
            token_endpoint: token_endpoint.into(),
            subject_token: SecretString::from(id_token.into()),
            subject_token_type: crate::token_type::ID_TOKEN.into(),
            client_id: None,
            client_secret: None,
        }
    }

    /// The client's id (and secret) at the identity provider.
    #[must_use]
    pub fn client(mut self, id: impl Into<String>, secret: Option<ClientSecret>) -> Self {
        self.client_id = Some(id.into());
        self.client_secret = secret;
        self
    }
}

impl fmt::Debug for IdentityAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityAssertion")
            .field(
                "token_endpoint",
                &tokensmith_http::display_url_text(&self.token_endpoint),
            )
            .field("subject_token_type", &self.subject_token_type)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The client as configured.
#[derive(Clone, Default)]
struct ClientConfig {
    id: Option<String>,
    secret: Option<ClientSecret>,
    signer: Option<Arc<dyn Signer>>,
    metadata_document: Option<String>,
    registration: Option<client::ClientMetadata>,
}

/// The token provider for one protected resource, led by its challenges (see the
/// [module docs](self)). Cloning shares it.
#[derive(Clone)]
pub struct ResourceAuth {
    cached: Cached<ResourceSource>,
}

impl ResourceAuth {
    /// Settings for the resource at `url` (the URL the client calls: an MCP endpoint, an API
    /// base).
    pub fn builder(url: impl AsRef<str>) -> ResourceAuthBuilder {
        ResourceAuthBuilder {
            url: url.as_ref().to_owned(),
            flow: None,
            client: ClientConfig::default(),
            scopes: Vec::new(),
            store: None,
            transport: None,
            timeout: Duration::from_secs(30),
            max_step_ups: DEFAULT_MAX_STEP_UPS,
            offline_access: true,
            allow_http: false,
            issuer: None,
            #[cfg(feature = "dpop")]
            dpop: None,
        }
    }

    /// The resource URL.
    pub fn url(&self) -> &Url {
        &self.cached.source().url
    }

    /// Discovers the resource's server without a challenge (from the well-known URLs), as a
    /// command-line check does; a challenge met later may still name other metadata.
    pub async fn discover(&self) -> Result<Arc<Discovered>, Error> {
        self.cached.source().discovered().await
    }
}

#[async_trait]
impl TokenProvider for ResourceAuth {
    async fn token(&self) -> Result<AccessToken, Error> {
        self.cached.token().await
    }

    fn invalidate(&self, rejected: &AccessToken) {
        self.cached.invalidate(rejected);
    }

    fn current(&self) -> Option<AccessToken> {
        self.cached.current()
    }
}

#[async_trait]
impl ChallengeHandler for ResourceAuth {
    fn resource(&self) -> &Url {
        self.url()
    }

    /// Under the discovered resource identifier (RFC 9728 `resource`), or before discovery
    /// under the configured URL, in whole path segments.
    fn covers(&self, url: &Url) -> bool {
        self.cached.source().covers(url)
    }

    async fn ready(&self) -> bool {
        self.cached.source().ready_now().await
    }

    async fn challenged(
        &self,
        url: &Url,
        status: StatusCode,
        challenges: &[Challenge],
        sent: Option<&AccessToken>,
    ) -> Result<Option<AccessToken>, Error> {
        if !self.cached.source().learn(url, status, challenges, sent)? {
            return Ok(None);
        }
        if let Some(sent) = sent {
            if self.cached.source().replacing() {
                // Valid, but the resource wants more of it: not a rejection to back off from.
                self.cached.replace(sent);
            } else {
                self.cached.invalidate(sent);
            }
        }
        let fresh = self.cached.token().await?;
        if sent.is_some_and(|sent| fresh.same_as(sent)) {
            // No different token to be had: the answer stands.
            return Ok(None);
        }
        Ok(Some(fresh))
    }
}

impl fmt::Debug for ResourceAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceAuth")
            .field("url", &tokensmith_http::display_url(self.url()))
            .field("source", self.cached.source())
            .finish()
    }
}
