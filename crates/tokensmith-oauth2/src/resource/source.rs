//! The token source behind [`ResourceAuth`](super::ResourceAuth): discovery, the client's
//! identity, the grant, refresh, and what the resource's challenges taught it.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use http::StatusCode;
use tokensmith_core::{AccessToken, Error, ErrorCode, ExposeSecret, TokenSource};
use tokensmith_http::Transport;
use tokensmith_http::challenge::Challenge;
use tokensmith_http::origin::require_secure;
use tokio::time::Instant;
use url::Url;

use super::client::{ClientMetadata, Registration, auth_method_to_register};
use super::discover::{Discovered, Discovery};
use super::{ClientConfig, Flow, ID_JAG_TOKEN_TYPE, IdentityAssertion};
use crate::{
    AuthorizationCode, ClientAuth, ClientSecret, GrantRequest, JWT_BEARER_GRANT_TYPE, RefreshToken,
    Signer, StoredClient, StoredTokens, TokenEndpoint, TokenExchange, TokenResponse, TokenStore,
};

/// How long discovered metadata is used before it is discovered again.
const DISCOVERY_MAX_AGE: Duration = Duration::from_secs(3600);

/// What the resource's challenges said, read without waiting for a fetch in flight.
#[derive(Default, Debug)]
pub(crate) struct Hints {
    /// The metadata URL the last challenge named.
    named: Option<String>,
    /// The scopes the resource asked for (its challenges, and step-ups).
    pub(super) wanted: BTreeSet<String>,
    /// The scopes of the last grant.
    pub(crate) requested: BTreeSet<String>,
    /// Re-authorizations so far.
    step_ups: u32,
    /// A new authorization is needed: a refresh cannot widen a grant.
    needs_authorization: bool,
    /// Extra authorization parameters a challenge asked for (RFC 9470).
    pub(super) auth_params: Vec<(String, String)>,
    /// A challenge was met or a token obtained: requests may carry tokens.
    ready: bool,
    /// The resource identifier discovered, which requests must be under to carry its tokens.
    resource: Option<String>,
    /// The store was asked whether it holds a session.
    store_checked: bool,
}

/// What fetches keep, one fetch at a time.
#[derive(Default)]
pub(crate) struct State {
    discovered: Option<(Instant, Option<String>, Arc<Discovered>)>,
    client: Option<StoredClient>,
    refresh: Option<RefreshToken>,
    store_read: bool,
}

/// The client as it identifies itself at one server.
struct Identified {
    id: String,
    secret: Option<ClientSecret>,
    signer: Option<Arc<dyn Signer>>,
    /// The authentication registered; `None`: choose from the server's metadata.
    auth: Option<ClientAuth>,
}

pub(crate) struct ResourceSource {
    pub(super) url: Url,
    pub(super) flow: Flow,
    pub(super) client: ClientConfig,
    pub(super) scopes: Vec<String>,
    pub(super) store: Option<Arc<dyn TokenStore>>,
    pub(super) transport: Arc<dyn Transport>,
    pub(super) timeout: Duration,
    pub(super) max_step_ups: u32,
    pub(super) offline_access: bool,
    pub(super) allow_http: bool,
    pub(super) issuer: Option<String>,
    #[cfg(feature = "dpop")]
    pub(super) dpop: Option<tokensmith_http::dpop::DpopKey>,
    pub(super) hints: std::sync::Mutex<Hints>,
    pub(super) state: tokio::sync::Mutex<State>,
}

impl ResourceSource {
    pub(super) fn hints(&self) -> MutexGuard<'_, Hints> {
        self.hints.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn ready(&self) -> bool {
        self.hints().ready
    }

    /// Ready, or a session is stored (asked of the store once): a process that starts again
    /// sends its first request with the stored session's token.
    pub(super) async fn ready_now(&self) -> bool {
        if self.ready() {
            return true;
        }
        let Some(store) = &self.store else {
            return false;
        };
        if std::mem::replace(&mut self.hints().store_checked, true) {
            return false;
        }
        let stored = matches!(store.load().await, Ok(Some(_)));
        if stored {
            self.hints().ready = true;
        }
        stored
    }

    pub(super) fn covers(&self, url: &Url) -> bool {
        match &self.hints().resource {
            Some(resource) => super::metadata::covers(resource, url),
            None => super::metadata::covers(self.url.as_str(), url),
        }
    }

    /// Whether the next token replaces one that was valid but not enough (a step-up).
    pub(super) fn replacing(&self) -> bool {
        self.hints().needs_authorization
    }

    fn user(&self) -> bool {
        matches!(self.flow, Flow::User(..))
    }

    /// Reads a challenge; `Ok(true)` when a new token may change the answer.
    pub(super) fn learn(
        &self,
        url: &Url,
        status: StatusCode,
        challenges: &[Challenge],
        sent: Option<&AccessToken>,
    ) -> Result<bool, Error> {
        let challenge = challenges
            .iter()
            .find(|c| c.is("bearer"))
            .or_else(|| challenges.iter().find(|c| c.is("dpop")));
        let mut hints = self.hints();
        if let Some(named) = challenge.and_then(Challenge::resource_metadata) {
            hints.named = Some(named.to_owned());
        }
        let error = challenge.and_then(Challenge::error);
        if error == Some("insufficient_user_authentication") {
            return self.stronger_sign_in(&mut hints, challenge);
        }
        let scopes: Vec<String> = challenge
            .map(|c| c.scopes().map(str::to_owned).collect())
            .unwrap_or_default();
        if status == StatusCode::FORBIDDEN && error != Some("insufficient_scope") {
            return Ok(false);
        }
        if sent.is_none() {
            // The first challenge: it says where the metadata is and what to ask for.
            tracing::debug!(target: "tokensmith::oauth2", url = %tokensmith_http::display_url(url), status = status.as_u16(), "the resource challenged a request without a token");
            hints.wanted.extend(scopes);
            hints.ready = true;
            return Ok(true);
        }
        if error == Some("insufficient_scope") || status == StatusCode::FORBIDDEN {
            return Ok(self.step_up(&mut hints, scopes));
        }
        // A 401 to a token: expired or revoked. A scope it names that was not asked for
        // needs a new authorization, like a step-up.
        if !scopes.is_empty() && !scopes.iter().all(|s| hints.requested.contains(s)) {
            return Ok(self.step_up(&mut hints, scopes));
        }
        Ok(true)
    }

    /// RFC 6750 §3.1 `insufficient_scope`: authorize again with the union of the scopes,
    /// when that asks for something new and the bound allows.
    fn step_up(&self, hints: &mut Hints, required: Vec<String>) -> bool {
        let mut wanted = hints.requested.clone();
        wanted.extend(hints.wanted.iter().cloned());
        wanted.extend(required);
        if wanted == hints.requested {
            tracing::warn!(target: "tokensmith::oauth2", scopes = ?hints.requested, "the resource refuses a token with every scope it asked for; not authorizing again");
            return false;
        }
        if hints.step_ups >= self.max_step_ups {
            tracing::warn!(target: "tokensmith::oauth2", step_ups = hints.step_ups, "the resource asks for more scope again; the bound on re-authorizations is reached");
            return false;
        }
        hints.step_ups += 1;
        tracing::debug!(target: "tokensmith::oauth2", scopes = ?wanted, "the resource wants more scope: authorizing again");
        hints.wanted = wanted;
        hints.needs_authorization = true;
        true
    }

    /// RFC 9470: a stronger or more recent sign-in. A user flow signs in again with
    /// `acr_values` / `max_age`; other flows cannot, which is an error saying so.
    fn stronger_sign_in(
        &self,
        hints: &mut Hints,
        challenge: Option<&Challenge>,
    ) -> Result<bool, Error> {
        let mut params = Vec::new();
        for name in ["acr_values", "max_age"] {
            if let Some(value) = challenge.and_then(|c| c.param(name)) {
                params.push((name.to_owned(), value.to_owned()));
            }
        }
        let described = params
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        if !self.user() {
            return Err(Error::refused(format!(
                "the resource wants a stronger user authentication ({described}); this client \
                 has no user to sign in again"
            ))
            .with_hint("RFC 9470 step-up is for user sign-in flows; the resource's policy does not accept this grant"));
        }
        if hints.auth_params == params || hints.step_ups >= self.max_step_ups {
            return Ok(false);
        }
        hints.step_ups += 1;
        hints.auth_params = params;
        hints.needs_authorization = true;
        hints.ready = true;
        Ok(true)
    }

    /// The scopes to ask for: the configured ones, then those the resource's challenges
    /// named, else its `scopes_supported`; `offline_access` for a user where the server lists
    /// it.
    fn scopes_for(&self, discovered: &Discovered) -> BTreeSet<String> {
        let hints = self.hints();
        let mut scopes: BTreeSet<String> = self.scopes.iter().cloned().collect();
        if !hints.wanted.is_empty() {
            scopes.extend(hints.wanted.iter().cloned());
        } else if let Some(supported) = discovered
            .resource_metadata
            .as_ref()
            .and_then(|m| m.scopes_supported.as_ref())
        {
            scopes.extend(supported.iter().cloned());
        }
        let refresh_listed = discovered
            .server
            .scopes_supported
            .as_ref()
            .is_some_and(|s| s.iter().any(|s| s == "offline_access"));
        if self.user() && self.offline_access && refresh_listed {
            scopes.insert("offline_access".into());
        } else {
            scopes.remove("offline_access");
        }
        scopes
    }

    /// The discovered server, discovered again when older than an hour or when a challenge
    /// named other metadata.
    pub(super) async fn discovered(&self) -> Result<Arc<Discovered>, Error> {
        let mut state = self.state.lock().await;
        self.discovered_in(&mut state).await
    }

    async fn discovered_in(&self, state: &mut State) -> Result<Arc<Discovered>, Error> {
        let named = self.hints().named.clone();
        if let Some((at, was_named, discovered)) = &state.discovered
            && at.elapsed() < DISCOVERY_MAX_AGE
            && (named.is_none() || named == *was_named)
        {
            return Ok(Arc::clone(discovered));
        }
        let discovery = Discovery {
            transport: &self.transport,
            timeout: self.timeout,
            allow_http: self.allow_http,
            preferred_issuer: self.issuer.as_deref(),
        };
        let discovered = Arc::new(discovery.run(&self.url, named.as_deref()).await?);
        if let Some((_, _, before)) = &state.discovered
            && before.issuer != discovered.issuer
        {
            // Another server: its client and grant are not this one's.
            state.client = None;
            state.refresh = None;
        }
        state.discovered = Some((Instant::now(), named, Arc::clone(&discovered)));
        self.hints().resource = Some(discovered.resource.clone());
        Ok(discovered)
    }

    /// How the client identifies itself at the discovered server: the configured client; a
    /// metadata document where the server takes one; the client registered before; a new
    /// registration.
    async fn identify(
        &self,
        state: &mut State,
        discovered: &Discovered,
        redirect_uri: Option<&str>,
    ) -> Result<Identified, Error> {
        let configured = &self.client;
        if let Some(id) = &configured.id {
            return Ok(Identified {
                id: id.clone(),
                secret: configured.secret.clone(),
                signer: configured.signer.clone(),
                auth: None,
            });
        }
        let server = &discovered.server;
        if self.user()
            && server.client_id_metadata_document_supported
            && let Some(document) = &configured.metadata_document
        {
            return Ok(Identified {
                id: document.clone(),
                secret: None,
                signer: None,
                auth: Some(ClientAuth::None),
            });
        }
        let issuer = &discovered.issuer;
        let held = state
            .client
            .take()
            .filter(|c| c.issuer == *issuer && c.usable_for(redirect_uri));
        let client = match held {
            Some(client) => client,
            None => match self.stored_client(issuer, redirect_uri).await {
                Some(client) => client,
                None => self.register(discovered, redirect_uri).await?,
            },
        };
        let auth = client.auth();
        let identified = Identified {
            id: client.client_id.clone(),
            secret: client
                .client_secret
                .clone()
                .filter(|_| auth != ClientAuth::None),
            signer: None,
            auth: Some(auth),
        };
        state.client = Some(client);
        Ok(identified)
    }

    async fn stored_client(
        &self,
        issuer: &str,
        redirect_uri: Option<&str>,
    ) -> Option<StoredClient> {
        let store = self.store.as_ref()?;
        match store.load_client(issuer).await {
            Ok(client) => client.filter(|c| c.usable_for(redirect_uri)),
            Err(error) => {
                tracing::warn!(target: "tokensmith::oauth2", error = %error, "could not read the registered client; registering again");
                None
            }
        }
    }

    async fn register(
        &self,
        discovered: &Discovered,
        redirect_uri: Option<&str>,
    ) -> Result<StoredClient, Error> {
        let server = &discovered.server;
        let Some(endpoint) = server.registration_endpoint.as_deref() else {
            return Err(Error::config(format!(
                "no client id for `{}`: it takes no client metadata document{} and has no \
                 registration endpoint",
                discovered.issuer,
                if self.client.metadata_document.is_some() {
                    ""
                } else {
                    " (none is configured)"
                }
            ))
            .with_hint(
                "register a client with the authorization server and set `.client_id(..)` \
                 (and `.client_secret(..)`), or serve a client metadata document where the \
                 server supports them",
            ));
        };
        let endpoint = Url::parse(endpoint)
            .map_err(|e| Error::other(format!("the registration endpoint is not a URL: {e}")))?;
        require_secure("registration endpoint", &endpoint, self.allow_http)?;
        let default = ClientMetadata::new("tokensmith");
        let metadata = self.client.registration.as_ref().unwrap_or(&default);
        let redirect_uris: Vec<String> = redirect_uri.map(str::to_owned).into_iter().collect();
        let auth_method = auth_method_to_register(&server.auth_methods(), self.user());
        Registration {
            transport: &*self.transport,
            endpoint: &endpoint,
            issuer: &discovered.issuer,
            metadata,
            redirect_uris: &redirect_uris,
            auth_method,
            user: self.user(),
            timeout: self.timeout,
        }
        .run(self.store.as_deref())
        .await
    }

    /// RFC 9728 `dpop_bound_access_tokens_required`: a bearer token would be refused, so none
    /// is asked for without a DPoP key.
    fn check_dpop(&self, discovered: &Discovered) -> Result<(), Error> {
        let required = discovered
            .resource_metadata
            .as_ref()
            .is_some_and(|m| m.dpop_bound_access_tokens_required);
        #[cfg(feature = "dpop")]
        let has_key = self.dpop.is_some();
        #[cfg(not(feature = "dpop"))]
        let has_key = false;
        if required && !has_key {
            return Err(Error::config(format!(
                "`{}` takes DPoP-bound tokens only (`dpop_bound_access_tokens_required`), and \
                 no DPoP key was given",
                discovered.resource
            ))
            .with_hint(
                "give the same `DpopKey` to `ResourceAuthBuilder::dpop` and to the middleware's \
                 `.dpop(..)` (feature `dpop`)",
            ));
        }
        Ok(())
    }

    /// The discovered server's token endpoint, for the identified client.
    async fn endpoint(
        &self,
        state: &mut State,
        discovered: &Discovered,
        redirect_uri: Option<&str>,
    ) -> Result<TokenEndpoint, Error> {
        let server = &discovered.server;
        let url = server.token_endpoint.as_deref().ok_or_else(|| {
            Error::config(format!(
                "the server `{}` publishes no `token_endpoint`",
                discovered.issuer
            ))
        })?;
        let client = self.identify(state, discovered, redirect_uri).await?;
        let mut builder = TokenEndpoint::builder(url)
            .metadata(Arc::clone(server))
            .client_id(client.id)
            .transport(Arc::clone(&self.transport));
        if let Some(secret) = client.secret {
            builder = builder.client_secret(secret);
        }
        if let Some(signer) = client.signer {
            // RFC 7523 §3 (and its update): the server's issuer is the audience it accepts.
            builder = builder
                .signer(SharedSigner(signer))
                .assertion_audience(&discovered.issuer);
        }
        if let Some(auth) = client.auth {
            builder = builder.auth(auth);
        }
        if self.allow_http {
            builder = builder.danger_allow_insecure_http();
        }
        #[cfg(feature = "dpop")]
        if let Some(key) = &self.dpop {
            builder = builder.dpop(key.clone());
        }
        builder.build()
    }

    async fn load_store(&self, state: &mut State) -> Option<AccessToken> {
        if state.store_read {
            return None;
        }
        state.store_read = true;
        let store = self.store.as_ref()?;
        match store.load().await {
            Ok(Some(tokens)) => {
                state.refresh = Some(tokens.refresh_token.clone());
                tokens.live_access_token(Duration::from_secs(60))
            }
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(target: "tokensmith::oauth2", error = %error, "could not read the stored session; signing in again");
                None
            }
        }
    }

    async fn refresh(
        &self,
        state: &mut State,
        discovered: &Discovered,
        refresh: &RefreshToken,
    ) -> Result<TokenResponse, Error> {
        let endpoint = self.endpoint(state, discovered, None).await?;
        let request = GrantRequest::new("refresh_token")
            .secret_param("refresh_token", refresh.expose_secret())
            .param("resource", &discovered.resource)
            .single_use();
        endpoint.exchange(&request).await
    }

    async fn sign_in(
        &self,
        state: &mut State,
        discovered: &Discovered,
        authorizer: &dyn super::Authorizer,
        scopes: &BTreeSet<String>,
    ) -> Result<TokenResponse, Error> {
        let server = &discovered.server;
        let authorize = server.authorization_endpoint.as_deref().ok_or_else(|| {
            Error::config(format!(
                "the server `{}` publishes no `authorization_endpoint`",
                discovered.issuer
            ))
        })?;
        if !server
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
        {
            return Err(Error::refused(format!(
                "the server `{}` does not say it supports PKCE with S256; no sign-in was started",
                discovered.issuer
            ))
            .with_hint(
                "without PKCE an intercepted authorization code can be redeemed by another \
                 app; the server's metadata must list S256 in `code_challenge_methods_supported`",
            ));
        }
        let redirect = authorizer.redirect().await?;
        let endpoint = self
            .endpoint(state, discovered, Some(redirect.redirect_uri()))
            .await?;
        let mut flow = AuthorizationCode::new(endpoint, authorize, redirect.redirect_uri())?
            .resource(&discovered.resource);
        if !scopes.is_empty() {
            flow = flow.scope(scopes);
        }
        for (name, value) in self.hints().auth_params.clone() {
            flow = flow.param(name, value);
        }
        let pending = flow.start()?;
        let callback = redirect.complete(pending.url()).await?;
        pending.finish_url(&callback).await
    }

    async fn client_credentials(
        &self,
        state: &mut State,
        discovered: &Discovered,
        scopes: &str,
    ) -> Result<TokenResponse, Error> {
        let endpoint = self.endpoint(state, discovered, None).await?;
        let mut request =
            GrantRequest::new("client_credentials").param("resource", &discovered.resource);
        if !scopes.is_empty() {
            request = request.scope(scopes);
        }
        endpoint.exchange(&request).await
    }

    /// The identity assertion exchanged for a grant at the identity provider (RFC 8693), then
    /// that grant at the resource's server (RFC 7523).
    async fn cross_app(
        &self,
        state: &mut State,
        discovered: &Discovered,
        assertion: &IdentityAssertion,
        scopes: &str,
    ) -> Result<TokenResponse, Error> {
        let mut idp = TokenEndpoint::builder(&assertion.token_endpoint)
            .client_id(assertion.client_id.clone().unwrap_or_default())
            .transport(Arc::clone(&self.transport));
        idp = match &assertion.client_secret {
            Some(secret) => idp.client_secret(secret.clone()),
            None => idp.auth(ClientAuth::None),
        };
        if self.allow_http {
            idp = idp.danger_allow_insecure_http();
        }
        let mut exchange = TokenExchange::new(
            idp.build()?,
            assertion.subject_token.expose_secret(),
            &assertion.subject_token_type,
        )
        .requested_token_type(ID_JAG_TOKEN_TYPE)
        .audience(&discovered.issuer)
        .resource(&discovered.resource);
        if !scopes.is_empty() {
            exchange = exchange.scope(scopes.split(' '));
        }
        let grant = exchange.exchange().await?;
        if grant.issued_token_type() != Some(ID_JAG_TOKEN_TYPE) {
            return Err(Error::other(format!(
                "the identity provider issued `{}`, not an identity assertion grant",
                grant.issued_token_type().unwrap_or("no token type")
            ))
            .with_hint("the identity provider does not support cross-app access (ID-JAG)"));
        }
        let endpoint = self.endpoint(state, discovered, None).await?;
        let secret = grant.access_token().secret();
        let mut request = GrantRequest::new(JWT_BEARER_GRANT_TYPE)
            .secret_param("assertion", secret.expose_secret())
            .param("resource", &discovered.resource);
        if !scopes.is_empty() {
            request = request.scope(scopes);
        }
        endpoint.exchange(&request).await
    }

    /// Keeps what the response brings: the refresh token (in the store too) and the scopes.
    async fn accept(
        &self,
        state: &mut State,
        response: TokenResponse,
        scopes: BTreeSet<String>,
        authorized: bool,
    ) -> AccessToken {
        let (token, refresh, _) = response.into_parts();
        if let Some(refresh) = refresh {
            state.refresh = Some(refresh.clone());
            if let Some(store) = &self.store
                && let Err(error) = store.save(&StoredTokens::new(refresh, Some(&token))).await
            {
                tracing::warn!(target: "tokensmith::oauth2", error = %error, "could not save the session");
            }
        }
        let mut hints = self.hints();
        hints.ready = true;
        if authorized {
            hints.requested = scopes;
            hints.needs_authorization = false;
        }
        token
    }
}

#[async_trait]
impl TokenSource for ResourceSource {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let mut state = self.state.lock().await;
        let stored = self.load_store(&mut state).await;
        let needs_authorization = self.hints().needs_authorization;
        if let Some(token) = stored.filter(|_| !needs_authorization) {
            self.hints().ready = true;
            return Ok(token);
        }
        let discovered = self.discovered_in(&mut state).await?;
        self.check_dpop(&discovered)?;
        let scopes = self.scopes_for(&discovered);
        if !needs_authorization && let Some(refresh) = state.refresh.clone() {
            match self.refresh(&mut state, &discovered, &refresh).await {
                Ok(response) => return Ok(self.accept(&mut state, response, scopes, false).await),
                Err(e) if e.oauth().is_some_and(|o| o.code == ErrorCode::InvalidGrant) => {
                    tracing::info!(target: "tokensmith::oauth2", "the refresh token was refused; authorizing again");
                    state.refresh = None;
                    if let Some(store) = &self.store {
                        let _ = store.clear().await;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let joined = scopes.iter().cloned().collect::<Vec<_>>().join(" ");
        let response = match &self.flow {
            Flow::User(authorizer, _) => {
                self.sign_in(&mut state, &discovered, &**authorizer, &scopes)
                    .await?
            }
            Flow::ClientCredentials => {
                self.client_credentials(&mut state, &discovered, &joined)
                    .await?
            }
            Flow::CrossApp(assertion) => {
                self.cross_app(&mut state, &discovered, assertion, &joined)
                    .await?
            }
        };
        Ok(self.accept(&mut state, response, scopes, true).await)
    }

    fn name(&self) -> &str {
        "resource"
    }
}

impl fmt::Debug for ResourceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flow = match &self.flow {
            Flow::User(..) => "user",
            Flow::ClientCredentials => "client_credentials",
            Flow::CrossApp(_) => "cross_app",
        };
        f.debug_struct("ResourceSource")
            .field("flow", &flow)
            .field("client_id", &self.client.id)
            .field("has_secret", &self.client.secret.is_some())
            .field("hints", &*self.hints())
            .finish_non_exhaustive()
    }
}

/// A signer shared between endpoints built for the same client.
struct SharedSigner(Arc<dyn Signer>);

#[async_trait]
impl Signer for SharedSigner {
    fn algorithm(&self) -> &str {
        self.0.algorithm()
    }

    fn key_id(&self) -> Option<&str> {
        self.0.key_id()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        self.0.sign(message).await
    }
}
