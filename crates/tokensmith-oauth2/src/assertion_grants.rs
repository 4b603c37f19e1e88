//! Grants that trade one token for another: the JWT bearer grant (RFC 7523 §2.1) and token
//! exchange (RFC 8693).

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};
use tokensmith_core::{Cached, Error, SecretString};

use crate::jwt::SelfIssued;
use crate::request::join_scopes;
use crate::{Grant, GrantRequest, GrantSource, Signer, TokenEndpoint, TokenResponse};

/// `grant_type` of the JWT bearer grant.
pub const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `grant_type` of token exchange.
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Token type identifiers of RFC 8693 §3, for subject, actor, requested and issued tokens.
pub mod token_type {
    /// An OAuth access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// An OAuth refresh token.
    pub const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
    /// An OpenID Connect ID token.
    pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
    /// A JWT.
    pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
    /// A SAML 2.0 assertion, base64url-encoded.
    pub const SAML2: &str = "urn:ietf:params:oauth:token-type:saml2";
}

/// The JWT bearer grant (RFC 7523 §2.1): a JWT asserts who the token is for. The JWT is
/// either issued by someone else ([`JwtBearer::with_assertion`]) or signed by the client for
/// each request ([`JwtBearer::self_signed`]: a service account in the style of Google's).
#[derive(Debug)]
pub struct JwtBearer {
    endpoint: TokenEndpoint,
    grant: JwtBearerGrant,
}

struct JwtBearerGrant {
    assertion: Assertion,
    scope: Option<String>,
    params: Vec<(String, String)>,
}

enum Assertion {
    Given(SecretString),
    Signed(SelfIssued),
}

impl Grant for JwtBearerGrant {
    fn request(&self) -> GrantRequest<'_> {
        let mut request = GrantRequest::new(JWT_BEARER_GRANT_TYPE);
        request = match &self.assertion {
            Assertion::Given(jwt) => request.secret_param("assertion", jwt.expose_secret()),
            Assertion::Signed(assertion) => request.signed_assertion(assertion),
        };
        if let Some(scope) = &self.scope {
            request = request.scope(scope);
        }
        for (name, value) in &self.params {
            request = request.param(name, value);
        }
        request
    }
}

impl fmt::Debug for JwtBearerGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("JwtBearerGrant");
        match &self.assertion {
            Assertion::Given(_) => s.field("assertion", &"[redacted]"),
            Assertion::Signed(assertion) => s.field("assertion", assertion),
        };
        s.field("scope", &self.scope).finish_non_exhaustive()
    }
}

use tokensmith_core::ExposeSecret as _;

impl JwtBearer {
    /// With a JWT issued by a third party (an identity provider). Once it expires, new tokens
    /// need a new instance.
    pub fn with_assertion(endpoint: TokenEndpoint, assertion: impl Into<String>) -> Self {
        Self::with(
            endpoint,
            Assertion::Given(SecretString::from(assertion.into())),
        )
    }

    /// With a JWT the client signs for each request: `iss` = `issuer`, `sub` = `subject`,
    /// `aud` = the token endpoint URL (change with [`audience`](Self::audience)), a unique
    /// `jti`, a one-minute `exp`.
    pub fn self_signed(
        endpoint: TokenEndpoint,
        signer: impl Signer,
        issuer: impl Into<String>,
        subject: impl Into<String>,
    ) -> Self {
        let audience = endpoint.url().as_str().to_owned();
        Self::with(
            endpoint,
            Assertion::Signed(SelfIssued {
                signer: Arc::new(signer),
                issuer: issuer.into(),
                subject: subject.into(),
                audience,
                claims: Map::new(),
            }),
        )
    }

    fn with(endpoint: TokenEndpoint, assertion: Assertion) -> Self {
        Self {
            endpoint,
            grant: JwtBearerGrant {
                assertion,
                scope: None,
                params: Vec::new(),
            },
        }
    }

    /// The `aud` of a self-signed assertion (some servers want their issuer identifier).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        if let Assertion::Signed(assertion) = &mut self.grant.assertion {
            assertion.audience = audience.into();
        }
        self
    }

    /// Another claim of a self-signed assertion (`scope` for Google, say). The standard
    /// claims are not replaced.
    #[must_use]
    pub fn claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        if let Assertion::Signed(assertion) = &mut self.grant.assertion {
            assertion.claims.insert(name.into(), value.into());
        }
        self
    }

    /// Asks for these scopes.
    #[must_use]
    pub fn scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.grant.scope = join_scopes(scopes);
        self
    }

    /// Adds any other form parameter.
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.grant.params.push((name.into(), value.into()));
        self
    }

    /// The raw token source.
    pub fn build_source(self) -> GrantSource {
        GrantSource::new(self.endpoint, "jwt_bearer", self.grant)
    }

    /// The cached provider (see [`Cached`]).
    pub fn build(self) -> Cached<GrantSource> {
        self.build_source().cached()
    }
}

/// Token exchange (RFC 8693): trades a subject token (a user's access token, an ID token)
/// for a token to call another service, on its own behalf or by an actor (delegation).
///
/// A service that calls downstream for each incoming user builds one per subject token; the
/// issued token's type is [`TokenResponse::issued_token_type`].
#[derive(Debug)]
pub struct TokenExchange {
    endpoint: TokenEndpoint,
    grant: ExchangeGrant,
}

struct ExchangeGrant {
    subject: SecretString,
    subject_type: String,
    actor: Option<(SecretString, String)>,
    requested_type: Option<String>,
    scope: Option<String>,
    params: Vec<(&'static str, String)>,
}

impl Grant for ExchangeGrant {
    fn request(&self) -> GrantRequest<'_> {
        let mut request = GrantRequest::new(TOKEN_EXCHANGE_GRANT_TYPE)
            .secret_param("subject_token", self.subject.expose_secret())
            .param("subject_token_type", &self.subject_type);
        if let Some((token, kind)) = &self.actor {
            request = request
                .secret_param("actor_token", token.expose_secret())
                .param("actor_token_type", kind);
        }
        if let Some(kind) = &self.requested_type {
            request = request.param("requested_token_type", kind);
        }
        for (name, value) in &self.params {
            request = request.param(name, value);
        }
        if let Some(scope) = &self.scope {
            request = request.scope(scope);
        }
        request
    }
}

impl fmt::Debug for ExchangeGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeGrant")
            .field("subject_token", &"[redacted]")
            .field("subject_token_type", &self.subject_type)
            .field("actor_token_type", &self.actor.as_ref().map(|(_, t)| t))
            .field("requested_token_type", &self.requested_type)
            .field("scope", &self.scope)
            .field("params", &self.params)
            .finish()
    }
}

impl TokenExchange {
    /// Exchanges `subject_token`, of type `subject_token_type` (see [`token_type`]).
    pub fn new(
        endpoint: TokenEndpoint,
        subject_token: impl Into<String>,
        subject_token_type: impl Into<String>,
    ) -> Self {
        Self {
            endpoint,
            grant: ExchangeGrant {
                subject: SecretString::from(subject_token.into()),
                subject_type: subject_token_type.into(),
                actor: None,
                requested_type: None,
                scope: None,
                params: Vec::new(),
            },
        }
    }

    /// The party acting for the subject (delegation, RFC 8693 §1.1): its token and type.
    #[must_use]
    pub fn actor(mut self, token: impl Into<String>, token_type: impl Into<String>) -> Self {
        self.grant.actor = Some((SecretString::from(token.into()), token_type.into()));
        self
    }

    /// The type of token wanted (`requested_token_type`).
    #[must_use]
    pub fn requested_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.grant.requested_type = Some(token_type.into());
        self
    }

    /// A logical name of the target service (`audience`); may be given more than once.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.grant.params.push(("audience", audience.into()));
        self
    }

    /// The URI of the target resource (`resource`, RFC 8707); may be given more than once.
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.grant.params.push(("resource", resource.into()));
        self
    }

    /// Asks for these scopes.
    #[must_use]
    pub fn scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.grant.scope = join_scopes(scopes);
        self
    }

    /// Runs the exchange once, for the whole answer (`issued_token_type`, a refresh token).
    pub async fn exchange(&self) -> Result<TokenResponse, Error> {
        self.endpoint.exchange(&self.grant.request()).await
    }

    /// The raw token source.
    pub fn build_source(self) -> GrantSource {
        GrantSource::new(self.endpoint, "token_exchange", self.grant)
    }

    /// The cached provider (see [`Cached`]).
    pub fn build(self) -> Cached<GrantSource> {
        self.build_source().cached()
    }
}
