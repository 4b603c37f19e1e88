//! The platform's token traded at a token endpoint: the JWT bearer grant (RFC 7523 §2.1) or
//! token exchange (RFC 8693).

use std::time::SystemTime;

use async_trait::async_trait;
use tokensmith_core::{AccessToken, Cached, Error, ExposeSecret, TokenSource};
use tokensmith_oauth2::{JwtBearer, TokenEndpoint, TokenExchange};
use tokio::time::Instant;

use crate::WorkloadIdentity;

enum Kind {
    JwtBearer,
    Exchange {
        subject_token_type: String,
        requested_token_type: Option<String>,
    },
}

/// A token source that trades the platform's current token for an access token, on each
/// fetch: the JWT bearer grant or token exchange. The access token never outlives the
/// platform token it came from (its expiry is cut to the platform token's `exp`), so a
/// revoked or rotated platform identity stops being used within one of its lifetimes.
///
/// ```no_run
/// use tokensmith_oauth2::{TokenEndpoint, token_type};
/// use tokensmith_workload::{WorkloadGrant, WorkloadIdentity};
///
/// let sts = TokenEndpoint::builder("https://sts.example.com/token")
///     .client_id("ci")
///     .client_secret("…")
///     .build()?;
/// let identity = WorkloadIdentity::github_actions(Some("sts.example.com"))?;
/// let tokens = WorkloadGrant::token_exchange(sts, identity, token_type::JWT)
///     .audience("deploy-api")
///     .build();
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
pub struct WorkloadGrant {
    endpoint: TokenEndpoint,
    identity: WorkloadIdentity,
    kind: Kind,
    scope: Vec<String>,
    params: Vec<(&'static str, String)>,
}

impl std::fmt::Debug for WorkloadGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadGrant")
            .field("endpoint", &self.endpoint)
            .field("identity", &self.identity)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl WorkloadGrant {
    /// The JWT bearer grant with the platform token as the `assertion`.
    pub fn jwt_bearer(endpoint: TokenEndpoint, identity: WorkloadIdentity) -> Self {
        Self::with(endpoint, identity, Kind::JwtBearer)
    }

    /// Token exchange with the platform token as the `subject_token`, of type
    /// `subject_token_type` ([`token_type::JWT`](tokensmith_oauth2::token_type::JWT) or [`token_type::ID_TOKEN`](tokensmith_oauth2::token_type::ID_TOKEN)).
    pub fn token_exchange(
        endpoint: TokenEndpoint,
        identity: WorkloadIdentity,
        subject_token_type: impl Into<String>,
    ) -> Self {
        Self::with(
            endpoint,
            identity,
            Kind::Exchange {
                subject_token_type: subject_token_type.into(),
                requested_token_type: None,
            },
        )
    }

    fn with(endpoint: TokenEndpoint, identity: WorkloadIdentity, kind: Kind) -> Self {
        Self {
            endpoint,
            identity,
            kind,
            scope: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Asks for these scopes.
    #[must_use]
    pub fn scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scope = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The target service (`audience`); may be given more than once.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.params.push(("audience", audience.into()));
        self
    }

    /// The target resource (`resource`, RFC 8707); may be given more than once.
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.params.push(("resource", resource.into()));
        self
    }

    /// The token type wanted (`requested_token_type`, token exchange only; default: the
    /// server's choice, usually [`token_type::ACCESS_TOKEN`](tokensmith_oauth2::token_type::ACCESS_TOKEN)).
    #[must_use]
    pub fn requested_token_type(mut self, requested: impl Into<String>) -> Self {
        if let Kind::Exchange {
            requested_token_type,
            ..
        } = &mut self.kind
        {
            *requested_token_type = Some(requested.into());
        }
        self
    }

    /// The cached provider.
    pub fn build(self) -> Cached<Self> {
        Cached::new(self)
    }

    async fn exchange(&self, subject: &str) -> Result<AccessToken, Error> {
        match &self.kind {
            Kind::JwtBearer => {
                let mut grant =
                    JwtBearer::with_assertion(self.endpoint.clone(), subject).scope(&self.scope);
                for (name, value) in &self.params {
                    grant = grant.param(*name, value.clone());
                }
                grant.build_source().fetch().await
            }
            Kind::Exchange {
                subject_token_type,
                requested_token_type,
            } => {
                let mut grant =
                    TokenExchange::new(self.endpoint.clone(), subject, subject_token_type.clone())
                        .scope(&self.scope);
                for (name, value) in &self.params {
                    grant = match *name {
                        "audience" => grant.audience(value.clone()),
                        _ => grant.resource(value.clone()),
                    };
                }
                if let Some(requested) = requested_token_type {
                    grant = grant.requested_token_type(requested.clone());
                }
                grant.build_source().fetch().await
            }
        }
    }
}

/// `token` with its expiry no later than `limit`.
pub(crate) fn bounded(token: AccessToken, limit: Option<SystemTime>) -> Result<AccessToken, Error> {
    let Some(limit) = limit else {
        return Ok(token);
    };
    let left = limit.duration_since(SystemTime::now()).unwrap_or_default();
    let limit_at = Instant::now() + left;
    if token.expires_at().is_some_and(|at| at <= limit_at) {
        return Ok(token);
    }
    AccessToken::builder(token.secret().expose_secret())
        .token_type(token.token_type().clone())
        .issued_at(token.issued_at())
        .expires_at(limit_at)
        .scopes(token.scopes().iter().cloned())
        .build()
}

#[async_trait]
impl TokenSource for WorkloadGrant {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let platform = self.identity.token().await?;
        let token = self.exchange(platform.secret().expose_secret()).await?;
        bounded(token, platform.expires_at())
    }

    fn name(&self) -> &str {
        match self.kind {
            Kind::JwtBearer => "workload_jwt_bearer",
            Kind::Exchange { .. } => "workload_token_exchange",
        }
    }
}
