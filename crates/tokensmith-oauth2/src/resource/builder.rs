//! The settings of a [`ResourceAuth`], checked by `build`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokensmith_core::Cached;
use tokensmith_http::Transport;
use url::Url;

use super::source::{self, Hints, ResourceSource};
use super::{
    Authorizer, ClientConfig, ClientMetadata, Flow, IdentityAssertion, LoopbackRedirect,
    ResourceAuth,
};
use crate::endpoint::default_transport;
use crate::{ClientSecret, Signer, TokenStore};
use tokensmith_core::Error;

/// Settings for a [`ResourceAuth`].
pub struct ResourceAuthBuilder {
    pub(super) url: String,
    pub(super) flow: Option<Flow>,
    pub(super) client: ClientConfig,
    pub(super) scopes: Vec<String>,
    pub(super) store: Option<Arc<dyn TokenStore>>,
    pub(super) transport: Option<Arc<dyn Transport>>,
    pub(super) timeout: Duration,
    pub(super) max_step_ups: u32,
    pub(super) offline_access: bool,
    pub(super) allow_http: bool,
    pub(super) issuer: Option<String>,
    #[cfg(feature = "dpop")]
    pub(super) dpop: Option<tokensmith_http::dpop::DpopKey>,
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
    /// [`DEFAULT_MAX_STEP_UPS`](super::DEFAULT_MAX_STEP_UPS)); each must also ask for a scope not asked for before.
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
