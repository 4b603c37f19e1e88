//! The token source behind [`ResourceAuth`](super::ResourceAuth): discovery, the client's
//! identity, the grant, refresh, and what the resource's challenges taught it.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokensmith_core::{AccessToken, Error, ErrorCode, TokenSource};
use tokensmith_http::Transport;
use tokio::time::Instant;
use url::Url;

use super::discover::{Discovered, Discovery};
use super::{ClientConfig, Flow};
use crate::{RefreshToken, StoredClient, StoredTokens, TokenResponse, TokenStore};

mod grants;
mod identity;
mod learn;

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
    pub(super) requested: BTreeSet<String>,
    /// Re-authorizations so far.
    step_ups: u32,
    /// A new authorization is needed: a refresh cannot widen a grant.
    needs_authorization: bool,
    /// Extra authorization parameters a challenge asked for (RFC 9470).
    pub(super) auth_params: Vec<(String, String)>,
    /// A challenge was met or a token obtained: requests may carry tokens.
    ready: bool,
    /// The resource identifier discovered, which requests must be under to carry its tokens.
    resource: Option<Url>,
}

/// What fetches keep, one fetch at a time.
#[derive(Default)]
pub(crate) struct State {
    discovered: Option<(Instant, Option<String>, Arc<Discovered>)>,
    client: Option<StoredClient>,
    refresh: Option<RefreshToken>,
    /// The stored access token, while it is valid and not yet handed out.
    stored: Option<AccessToken>,
    store_read: bool,
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
        if self.store.is_none() {
            return false;
        }
        let mut state = self.state.lock().await;
        self.load_store(&mut state).await;
        let stored = state.refresh.is_some() || state.stored.is_some();
        if stored {
            self.hints().ready = true;
        }
        stored
    }

    pub(super) fn covers(&self, url: &Url) -> bool {
        let hints = self.hints();
        super::metadata::covers_url(hints.resource.as_ref().unwrap_or(&self.url), url)
    }

    /// Whether the next token replaces one that was valid but not enough (a step-up).
    pub(super) fn replacing(&self) -> bool {
        self.hints().needs_authorization
    }

    fn user(&self) -> bool {
        matches!(self.flow, Flow::User(..))
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
        // Checked against the called URL, so it parses.
        self.hints().resource = Url::parse(&discovered.resource).ok();
        Ok(discovered)
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

    /// Reads the stored session once: its refresh token, and its access token while valid.
    async fn load_store(&self, state: &mut State) {
        if std::mem::replace(&mut state.store_read, true) {
            return;
        }
        let Some(store) = &self.store else {
            return;
        };
        match store.load().await {
            Ok(Some(tokens)) => {
                state.stored = tokens.live_access_token(Duration::from_secs(60));
                state.refresh = Some(tokens.refresh_token);
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(target: "tokensmith::oauth2", error = %error, "could not read the stored session; signing in again");
            }
        }
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
        self.load_store(&mut state).await;
        let needs_authorization = self.hints().needs_authorization;
        if let Some(token) = state.stored.take().filter(|_| !needs_authorization) {
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
        let response = match &self.flow {
            Flow::User(authorizer, _) => {
                self.sign_in(&mut state, &discovered, &**authorizer, &scopes)
                    .await?
            }
            Flow::ClientCredentials => {
                self.client_credentials(&mut state, &discovered, &scopes)
                    .await?
            }
            Flow::CrossApp(assertion) => {
                self.cross_app(&mut state, &discovered, assertion, &scopes)
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
