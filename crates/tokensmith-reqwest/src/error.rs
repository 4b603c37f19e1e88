//! How a provider's failure reaches reqwest-middleware's callers.

use std::fmt;

use tokensmith_core::Error;

/// The provider could not give a token for a request. It travels inside
/// `reqwest_middleware::Error::Middleware`; the tokensmith [`Error`] is its `source()`, hint
/// included. [`auth_error`] finds it.
#[derive(Debug, Clone)]
pub struct AuthError {
    inner: Error,
}

impl AuthError {
    pub(crate) fn new(inner: Error) -> Self {
        Self { inner }
    }

    /// The tokensmith error.
    pub fn error(&self) -> &Error {
        &self.inner
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not get an access token: {}", self.inner)
    }
}

impl std::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner)
    }
}

/// The tokensmith error behind a `reqwest_middleware::Error`, if a provider failed.
///
/// ```
/// # async fn demo(client: reqwest_middleware::ClientWithMiddleware) {
/// match client.get("https://api.example.com/orders").send().await {
///     Ok(response) => { /* … */ }
///     Err(err) => match tokensmith_reqwest::auth_error(&err) {
///         Some(auth) => eprintln!("token problem: {auth} ({:?})", auth.hint()),
///         None => eprintln!("HTTP problem: {err}"),
///     },
/// }
/// # }
/// ```
pub fn auth_error(error: &reqwest_middleware::Error) -> Option<&Error> {
    match error {
        reqwest_middleware::Error::Middleware(inner) => inner
            .downcast_ref::<AuthError>()
            .map(AuthError::error)
            .or_else(|| inner.downcast_ref::<Error>()),
        _ => None,
    }
}
