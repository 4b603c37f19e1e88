//! The resource owner password credentials grant (RFC 6749 §4.3).

use tokensmith_core::Cached;

use crate::request::join_scopes;
use crate::{Grant, GrantRequest, GrantSource, TokenEndpoint};

tokensmith_core::secret_string! {
    /// A user's password (RFC 6749 §4.3.2 `password`).
    pub struct UserPassword;
}

/// Builds a password-grant provider: the client sends a user's username and password. Answers
/// usually carry a refresh token, which the provider then uses first.
///
/// ```
/// use tokensmith_oauth2::{Password, TokenEndpoint};
///
/// let endpoint = TokenEndpoint::builder("https://auth.example.com/oauth/token")
///     .client_id("id")
///     .client_secret("secret")
///     .build()?;
/// let provider = Password::new(endpoint, "alice", "correct horse").scope(["read"]).build();
/// # let _ = provider;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Debug)]
pub struct Password {
    endpoint: TokenEndpoint,
    grant: PasswordGrant,
}

#[derive(Debug)]
struct PasswordGrant {
    username: String,
    password: UserPassword,
    scope: Option<String>,
}

impl Grant for PasswordGrant {
    fn request(&self) -> GrantRequest<'_> {
        let mut request = GrantRequest::new("password")
            .param("username", &self.username)
            .secret_param("password", self.password.expose_secret());
        if let Some(scope) = &self.scope {
            request = request.scope(scope);
        }
        request
    }
}

impl Password {
    /// The grant for `username` at `endpoint`.
    pub fn new(
        endpoint: TokenEndpoint,
        username: impl Into<String>,
        password: impl Into<UserPassword>,
    ) -> Self {
        Self {
            endpoint,
            grant: PasswordGrant {
                username: username.into(),
                password: password.into(),
                scope: None,
            },
        }
    }

    /// Requests these scopes, sent space-separated.
    #[must_use]
    pub fn scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.grant.scope = join_scopes(scopes);
        self
    }

    /// The raw token source.
    pub fn build_source(self) -> GrantSource {
        GrantSource::new(self.endpoint, "password", self.grant)
    }

    /// The cached provider.
    pub fn build(self) -> Cached<GrantSource> {
        self.build_source().cached()
    }
}
