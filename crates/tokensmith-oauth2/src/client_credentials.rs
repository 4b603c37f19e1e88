//! The client credentials grant (RFC 6749 §4.4): the client acts on its own behalf.

use tokensmith_core::{Cached, Error};

use crate::request::join_scopes;
use crate::{ClientAuth, Grant, GrantRequest, GrantSource, TokenEndpoint};

/// Builds a client credentials provider.
///
/// ```
/// use tokensmith_oauth2::ClientCredentials;
///
/// let provider = ClientCredentials::basic("https://auth.example.com/oauth/token", "id", "secret")?
///     .scope(["orders.read", "orders.write"])
///     .audience("https://api.example.com")
///     .build();
/// # let _ = provider;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Debug)]
pub struct ClientCredentials {
    endpoint: TokenEndpoint,
    grant: ClientCredentialsGrant,
}

#[derive(Default)]
struct ClientCredentialsGrant {
    scope: Option<String>,
    params: Vec<(String, String)>,
}

/// Parameter values may be credentials (an assertion, a tenant key): only names are shown.
impl std::fmt::Debug for ClientCredentialsGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentialsGrant")
            .field("scope", &self.scope)
            .field(
                "params",
                &self.params.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Grant for ClientCredentialsGrant {
    fn request(&self) -> GrantRequest<'_> {
        let mut request = GrantRequest::new("client_credentials");
        if let Some(scope) = &self.scope {
            request = request.scope(scope);
        }
        for (name, value) in &self.params {
            request = request.param(name, value);
        }
        request
    }
}

impl ClientCredentials {
    /// The grant at `endpoint`.
    pub fn new(endpoint: TokenEndpoint) -> Self {
        Self {
            endpoint,
            grant: ClientCredentialsGrant::default(),
        }
    }

    /// The grant at `url`, authenticating with HTTP Basic (RFC 6749 §2.3.1) and default
    /// settings; use [`TokenEndpoint::builder`] and [`new`](Self::new) for more control.
    pub fn basic(
        url: impl AsRef<str>,
        client_id: impl Into<String>,
        client_secret: impl Into<crate::ClientSecret>,
    ) -> Result<Self, Error> {
        let endpoint = TokenEndpoint::builder(url)
            .client_id(client_id)
            .client_secret(client_secret)
            .auth(ClientAuth::Basic)
            .build()?;
        Ok(Self::new(endpoint))
    }

    /// Requests these scopes (RFC 6749 §3.3), sent space-separated.
    #[must_use]
    pub fn scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.grant.scope = join_scopes(scopes);
        self
    }

    /// Adds `resource` (RFC 8707): the API the token is for.
    #[must_use]
    pub fn resource(self, resource: impl Into<String>) -> Self {
        self.param("resource", resource)
    }

    /// Adds `audience`, the spelling some servers use for the API the token is for.
    #[must_use]
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.param("audience", audience)
    }

    /// Adds any other form parameter.
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.grant.params.push((name.into(), value.into()));
        self
    }

    /// The raw token source, for those who bring their own cache.
    pub fn build_source(self) -> GrantSource {
        GrantSource::new(self.endpoint, "client_credentials", self.grant)
    }

    /// The cached provider (see [`Cached`]).
    pub fn build(self) -> Cached<GrantSource> {
        self.build_source().cached()
    }
}
