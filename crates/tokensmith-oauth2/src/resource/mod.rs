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
use tokensmith_http::challenge::Challenge;
use tokensmith_http::{ChallengeHandler, Transport};
use url::Url;

pub use self::authorizer::{Authorizer, LoopbackRedirect, Redirect};
pub use self::client::ClientMetadata;
pub use self::discover::Discovered;
pub use self::metadata::{MAX_RESOURCE_METADATA_BYTES, ResourceMetadata};
use self::source::{Hints, ResourceSource};
use crate::endpoint::default_transport;
use crate::{ClientSecret, Signer, TokenStore};

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

    /// What the challenge-led provider has learned: the scopes asked for so far.
    pub fn scopes(&self) -> Vec<String> {
        self.cached
            .source()
            .hints()
            .requested
            .iter()
            .cloned()
            .collect()
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

/// Settings for a [`ResourceAuth`].
pub struct ResourceAuthBuilder {
    url: String,
    flow: Option<Flow>,
    client: ClientConfig,
    scopes: Vec<String>,
    store: Option<Arc<dyn TokenStore>>,
    transport: Option<Arc<dyn Transport>>,
    timeout: Duration,
    max_step_ups: u32,
    offline_access: bool,
    allow_http: bool,
    issuer: Option<String>,
    #[cfg(feature = "dpop")]
    dpop: Option<tokensmith_http::dpop::DpopKey>,
}

impl ResourceAuthBuilder {
    /// A user signs in through `authorizer` (the authorization code flow with PKCE S256):
    /// [`LoopbackRedirect`] for command-line programs, or the application's own hook. The
    /// default when no flow is chosen, with a [`LoopbackRedirect`].
    #[must_use]
    pub fn user(mut self, authorizer: impl Authorizer) -> Self {
        self.flow = Some(Flow::User(Arc::new(authorizer), Duration::from_secs(300)));
        self
    }

    /// Like [`user`](Self::user), with the loopback redirect's own bound on a sign-in.
    #[must_use]
    pub fn loopback(self, redirect: LoopbackRedirect) -> Self {
        let wait = redirect.wait();
        let mut this = self.user(redirect);
        if let Some(Flow::User(_, limit)) = &mut this.flow {
            *limit = wait;
        }
        this
    }

    /// A machine client: the client credentials grant with this pre-registered client. The
    /// authentication (Basic, body) is chosen from what the server lists; with a
    /// [`signer`](Self::signer) instead of a secret, `private_key_jwt`.
    #[must_use]
    pub fn client_credentials(
        mut self,
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> Self {
        self.flow = Some(Flow::ClientCredentials);
        self.client.id = Some(client_id.into());
        self.client.secret = Some(client_secret.into());
        self
    }

    /// A machine client that authenticates with a signed assertion (`private_key_jwt`, RFC
    /// 7523 §2.2), its audience the server's issuer.
    #[must_use]
    pub fn client_credentials_jwt(
        mut self,
        client_id: impl Into<String>,
        signer: impl Signer,
    ) -> Self {
        self.flow = Some(Flow::ClientCredentials);
        self.client.id = Some(client_id.into());
        self.client.signer = Some(Arc::new(signer));
        self
    }

    /// Cross-app access: the user's identity assertion, exchanged at their identity provider
    /// for a grant the resource's server accepts (see [`IdentityAssertion`]). The client at
    /// the resource's server is the pre-registered one ([`client_id`](Self::client_id)).
    #[must_use]
    pub fn identity_assertion(mut self, assertion: IdentityAssertion) -> Self {
        self.flow = Some(Flow::CrossApp(Arc::new(assertion)));
        self
    }

    /// A pre-registered client id (and [`client_secret`](Self::client_secret)) for user
    /// sign-in; it comes first, before a metadata document or registration.
    #[must_use]
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client.id = Some(id.into());
        self
    }

    /// The pre-registered client's secret.
    #[must_use]
    pub fn client_secret(mut self, secret: impl Into<ClientSecret>) -> Self {
        self.client.secret = Some(secret.into());
        self
    }

    /// The key that signs `private_key_jwt` assertions of the pre-registered client.
    #[must_use]
    pub fn signer(mut self, signer: impl Signer) -> Self {
        self.client.signer = Some(Arc::new(signer));
        self
    }

    /// The https URL of the client's metadata document (the application serves
    /// [`ClientMetadata::document`] there), used as the client id by servers that say
    /// `client_id_metadata_document_supported`.
    #[must_use]
    pub fn client_metadata_document(mut self, url: impl Into<String>) -> Self {
        self.client.metadata_document = Some(url.into());
        self
    }

    /// Registers the client dynamically (RFC 7591) with this metadata where the server has a
    /// registration endpoint and nothing above applies; the result is kept in the
    /// [`store`](Self::store). Without it, a client named `tokensmith` is registered.
    #[must_use]
    pub fn registration(mut self, metadata: ClientMetadata) -> Self {
        self.client.registration = Some(metadata);
        self
    }

    /// Scopes asked for besides those the resource names.
    #[must_use]
    pub fn scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Keeps the registration and the refresh token (see [`TokenStore`]).
    #[must_use]
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Sends metadata, registration and token requests through `transport`.
    #[must_use]
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(tokensmith_http::transport::arc_transport(transport));
        self
    }

    /// The time limit of one metadata or registration request (30 s by default).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The most re-authorizations for more scope over the provider's life (default
    /// [`DEFAULT_MAX_STEP_UPS`]); each must also ask for a scope not asked for before.
    #[must_use]
    pub fn max_step_ups(mut self, max: u32) -> Self {
        self.max_step_ups = max;
        self
    }

    /// Whether a user sign-in asks for `offline_access` (a refresh token) where the server
    /// lists that scope (default: yes).
    #[must_use]
    pub fn offline_access(mut self, ask: bool) -> Self {
        self.offline_access = ask;
        self
    }

    /// Chooses this server when the resource lists several.
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// DPoP-bound tokens (RFC 9449): the token requests carry proofs of this key; give the
    /// same key to the driver.
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    #[must_use]
    pub fn dpop(mut self, key: tokensmith_http::dpop::DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// Allows plain http to hosts that are not loopback. Only for closed test networks.
    #[must_use]
    pub fn danger_allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Checks the URL and settings.
    pub fn build(self) -> Result<ResourceAuth, Error> {
        let mut url = Url::parse(self.url.trim())
            .map_err(|e| Error::config(format!("the resource URL is not a URL: {e}")))?;
        tokensmith_http::origin::require_secure("resource", &url, self.allow_http)?;
        url.set_fragment(None);
        if let Some(document) = &self.client.metadata_document {
            let parsed = Url::parse(document).map_err(|e| {
                Error::config(format!(
                    "the client metadata document URL is not a URL: {e}"
                ))
            })?;
            if parsed.scheme() != "https" || parsed.path() == "/" {
                return Err(Error::config(
                    "a client metadata document URL is https with a path (it is the client id)",
                ));
            }
        }
        if self.timeout.is_zero() {
            return Err(Error::config("the discovery timeout must be above zero"));
        }
        let flow = self.flow.unwrap_or_else(|| {
            Flow::User(Arc::new(LoopbackRedirect::new()), Duration::from_secs(300))
        });
        if matches!(flow, Flow::CrossApp(_)) && self.client.id.is_none() {
            return Err(Error::config(
                "cross-app access needs the client id registered at the resource's server",
            )
            .with_hint("set `.client_id(..)` and `.client_secret(..)`"));
        }
        let transport = match self.transport {
            Some(transport) => transport,
            None => default_transport(Duration::from_secs(10), None)?,
        };
        let load_timeout = match &flow {
            Flow::User(_, wait) => *wait + Duration::from_secs(60),
            _ => self.timeout * 4,
        };
        let user = matches!(flow, Flow::User(..));
        let source = ResourceSource {
            url,
            flow,
            client: self.client,
            scopes: self.scopes,
            store: self.store,
            transport,
            timeout: self.timeout,
            max_step_ups: self.max_step_ups,
            offline_access: self.offline_access,
            allow_http: self.allow_http,
            issuer: self.issuer,
            #[cfg(feature = "dpop")]
            dpop: self.dpop,
            hints: std::sync::Mutex::new(Hints::default()),
            state: tokio::sync::Mutex::new(source::State::default()),
        };
        let mut cached = Cached::builder(source).load_timeout(load_timeout);
        if user {
            // A sign-in is the user's to start: never in the background.
            cached = cached.no_refresh_ahead();
        }
        Ok(ResourceAuth {
            cached: cached.build()?,
        })
    }
}

impl fmt::Debug for ResourceAuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceAuthBuilder")
            .field("url", &tokensmith_http::display_url_text(&self.url))
            .field("client_id", &self.client.id)
            .field("has_secret", &self.client.secret.is_some())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}
