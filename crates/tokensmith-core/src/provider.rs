//! The two roles: a [`TokenProvider`] hands out valid tokens, a [`TokenSource`] fetches new ones.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use crate::{AccessToken, Error};

/// `provider` as the `Arc<dyn TokenProvider>` that clients and middleware share; one that
/// already is one is taken as it is, not wrapped again.
pub fn arc_provider<P: TokenProvider + 'static>(provider: P) -> Arc<dyn TokenProvider> {
    match (&provider as &dyn std::any::Any).downcast_ref::<Arc<dyn TokenProvider>>() {
        Some(shared) => Arc::clone(shared),
        None => Arc::new(provider),
    }
}

/// Hands out an access token that is valid right now.
///
/// This is what API clients and the middleware hold, usually as `Arc<dyn TokenProvider>`. The
/// providers tokensmith builds cache their token, so calling [`token`](Self::token) on every
/// request is cheap; a provider that fetched on every call would be a [`TokenSource`].
#[async_trait]
pub trait TokenProvider: Send + Sync {
    /// A token that is valid now, allowing for clock skew.
    async fn token(&self) -> Result<AccessToken, Error>;

    /// The resource server rejected `rejected` (it answered 401): drop it if it is still the
    /// current token, so that the next [`token`](Self::token) fetches a new one. A token that
    /// was already replaced is left alone, so a burst of 401s for one token costs one fetch.
    ///
    /// [`Cached`](crate::Cached) fetches at once after the first rejection of a fresh token.
    /// When the token fetched after it is rejected too (a second in a row, within the
    /// backoff's longest delay), the next fetch waits for the failure backoff (1 s, doubling
    /// to 30 s): until then [`token`](Self::token) returns an error whose text says that
    /// fresh tokens keep being rejected, with [`Error::retry_in`](crate::Error::retry_in)
    /// set. A resource server that refuses every token then costs the token endpoint a
    /// trickle of requests, not one per API call.
    fn invalidate(&self, rejected: &AccessToken);

    /// A valid token if one is at hand without waiting, else `None`.
    ///
    /// Callers on a hot path try this first and fall back to [`token`](Self::token): it avoids
    /// the boxed future of an `async` trait method. The default says nothing is at hand.
    fn current(&self) -> Option<AccessToken> {
        None
    }
}

/// Fetches a fresh token from wherever tokens come from (usually a token endpoint).
///
/// Grants implement this; the cache ([`Cached`](crate::Cached)) is its only caller. Keeping the
/// two traits apart means nobody calls a token endpoint on every request by accident.
#[async_trait]
pub trait TokenSource: Send + Sync + 'static {
    /// Fetches a new token. Called by one task at a time per cache.
    async fn fetch(&self) -> Result<AccessToken, Error>;

    /// A short name for logs and spans, such as `client_credentials`.
    fn name(&self) -> &str {
        "token_source"
    }

    /// What makes this source's tokens differ from another's (endpoint, client, scopes, user,
    /// credentials), for keying a cache that many sources or processes share. `None` (the
    /// default) when the source cannot say; such a cache then wants a name instead.
    fn identity(&self) -> Option<TokenIdentity> {
        None
    }

    /// State a fleet of processes must share to fetch as one: a grant's current refresh token,
    /// which a rotating server accepts only once. `None` (the default) when there is none.
    fn shared_state(&self) -> Option<SecretString> {
        None
    }

    /// Takes over the state another process of the fleet saved (see
    /// [`shared_state`](Self::shared_state)) before fetching.
    fn adopt_shared_state(&self, state: SecretString) {
        let _ = state;
    }
}

/// What makes a token request differ from another: named public parts (endpoint, client id,
/// grant, sorted scopes, user…) and secret parts (a client secret, a password) that a shared
/// cache only ever digests with a key of its own.
///
/// ```
/// use tokensmith_core::TokenIdentity;
///
/// let a = TokenIdentity::new().part("client_id", "app").part("scope", "b a").secret("s3cret");
/// let b = TokenIdentity::new().part("scope", "b a").secret("s3cret").part("client_id", "app");
/// assert_eq!(a, b, "parts are kept sorted");
/// assert!(!format!("{a:?}").contains("s3cret"));
/// ```
#[derive(Clone, Default)]
pub struct TokenIdentity {
    parts: std::collections::BTreeMap<String, String>,
    secrets: Vec<SecretString>,
    delegated: bool,
}

impl TokenIdentity {
    /// No parts yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tokens act for a user or a session that the parts do not name (a session
    /// continued from a refresh token: an authorization code or device flow, a stored
    /// session). Two users' sessions of one client have the same parts, so a cache that
    /// processes share must be given the subject (a user or session id) before it shares
    /// such tokens, or one user could be handed another's.
    #[must_use]
    pub fn delegated(mut self) -> Self {
        self.delegated = true;
        self
    }

    /// Whether the tokens act for a user or session the parts do not name; see
    /// [`delegated`](Self::delegated).
    pub fn is_delegated(&self) -> bool {
        self.delegated
    }

    /// A public part; the same name again replaces it.
    #[must_use]
    pub fn part(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.insert(name.into(), value.into());
        self
    }

    /// A secret part: never shown, only digested.
    #[must_use]
    pub fn secret(mut self, value: impl Into<String>) -> Self {
        self.secrets.push(SecretString::from(value.into()));
        self
    }

    /// The public parts, sorted by name.
    pub fn parts(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parts.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The secret parts, in the order given: for a keyed digest, never for display.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(ExposeSecret::expose_secret)
    }
}

impl PartialEq for TokenIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.parts == other.parts
            && self.secrets().eq(other.secrets())
            && self.delegated == other.delegated
    }
}

impl Eq for TokenIdentity {}

impl fmt::Debug for TokenIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIdentity")
            .field("parts", &self.parts)
            .field("secrets", &self.secrets.len())
            .field("delegated", &self.delegated)
            .finish()
    }
}

#[cfg(feature = "mock")]
mockall::mock! {
    /// A [`TokenProvider`] driven by expectations (`mockall`), for unit tests of code that takes
    /// a provider. Set [`expect_token`](Self::expect_token) (and, where the code under test
    /// reacts to a 401, [`expect_invalidate`](Self::expect_invalidate)); `current` is not
    /// mocked and says no token is at hand, so the middleware and the vendor clients ask
    /// `token` and work with a mock that has only `expect_token`.
    pub TokenProvider {}

    #[async_trait]
    impl TokenProvider for TokenProvider {
        async fn token(&self) -> Result<AccessToken, Error>;
        fn invalidate(&self, rejected: &AccessToken);
    }
}

macro_rules! forward_provider {
    ($($ty:ty),*) => {$(
        impl<P: TokenProvider + ?Sized> TokenProvider for $ty {
            fn token<'life0, 'async_trait>(
                &'life0 self,
            ) -> std::pin::Pin<
                Box<
                    dyn std::future::Future<Output = Result<AccessToken, Error>>
                        + Send
                        + 'async_trait,
                >,
            >
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                (**self).token()
            }

            fn invalidate(&self, rejected: &AccessToken) {
                (**self).invalidate(rejected)
            }

            fn current(&self) -> Option<AccessToken> {
                (**self).current()
            }
        }
    )*};
}

forward_provider!(Arc<P>, Box<P>, &P);

#[async_trait]
impl<S: TokenSource + ?Sized> TokenSource for Arc<S> {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        (**self).fetch().await
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn identity(&self) -> Option<TokenIdentity> {
        (**self).identity()
    }

    fn shared_state(&self) -> Option<SecretString> {
        (**self).shared_state()
    }

    fn adopt_shared_state(&self, state: SecretString) {
        (**self).adopt_shared_state(state)
    }
}

/// A provider that always hands out the same token: for tests, and for APIs whose keys do
/// not expire.
///
/// ```
/// use tokensmith_core::{StaticToken, TokenProvider};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), tokensmith_core::Error> {
/// let provider = StaticToken::bearer("long-lived-key")?;
/// let token = provider.token().await?;
/// assert_eq!(token.token_type().as_str(), "Bearer");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct StaticToken {
    token: AccessToken,
}

impl StaticToken {
    /// Hands out `token`.
    pub fn new(token: AccessToken) -> Self {
        Self { token }
    }

    /// Hands out a bearer token with the given secret.
    pub fn bearer(secret: impl Into<String>) -> Result<Self, Error> {
        AccessToken::bearer(secret).map(Self::new)
    }
}

#[async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self) -> Result<AccessToken, Error> {
        Ok(self.token.clone())
    }

    fn invalidate(&self, _rejected: &AccessToken) {
        tracing::debug!("a static token was rejected; it cannot be replaced");
    }

    fn current(&self) -> Option<AccessToken> {
        Some(self.token.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_provider<P: TokenProvider>(_: &P) {}

    #[tokio::test]
    async fn smart_pointers_and_trait_objects_are_providers() {
        let stat = StaticToken::bearer("abc").unwrap();
        let shared: Arc<dyn TokenProvider> = Arc::new(stat.clone());
        assert_provider(&shared);
        let boxed: Box<dyn TokenProvider> = Box::new(stat.clone());
        assert_provider(&boxed);
        assert_provider(&&stat);
        let a = shared.token().await.unwrap();
        let b = boxed.token().await.unwrap();
        assert!(a.same_as(&b));
        assert!(shared.current().unwrap().same_as(&a));
        let by_ref: &dyn TokenProvider = &stat;
        by_ref.invalidate(&a);
        assert!(by_ref.token().await.unwrap().same_as(&a));
    }
}

/// Per-request control of the middleware (reqwest) and the tower layer, as a request
/// extension: with `reqwest_middleware::RequestBuilder::with_extension(RequestAuth::Skip)`,
/// or `request.extensions_mut().insert(..)` on an `http::Request`.
#[derive(Clone)]
#[non_exhaustive]
pub enum RequestAuth {
    /// Send this request without a token or extra headers.
    Skip,
    /// Use this provider instead of the middleware's (the origin rules still apply).
    With(Arc<dyn TokenProvider>),
}

impl fmt::Debug for RequestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Skip => f.write_str("Skip"),
            Self::With(_) => f.write_str("With(..)"),
        }
    }
}
