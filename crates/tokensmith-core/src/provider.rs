//! The two roles: a [`TokenProvider`] hands out valid tokens, a [`TokenSource`] fetches new ones.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{AccessToken, Error};

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
