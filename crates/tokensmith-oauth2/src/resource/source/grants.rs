//! The grants run once the server and the client are known: refresh, a user's sign-in,
//! client credentials, cross-app access.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokensmith_core::{Error, ExposeSecret};

use super::super::discover::Discovered;
use super::super::{ID_JAG_TOKEN_TYPE, IdentityAssertion};
use super::{ResourceSource, State};
use crate::request::join_scopes;
use crate::{
    AuthorizationCode, ClientAuth, GrantRequest, JWT_BEARER_GRANT_TYPE, RefreshToken,
    TokenEndpoint, TokenExchange, TokenResponse,
};

impl ResourceSource {
    pub(super) async fn refresh(
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

    pub(super) async fn sign_in(
        &self,
        state: &mut State,
        discovered: &Discovered,
        authorizer: &dyn super::super::Authorizer,
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
            .resource(&discovered.resource)
            .scope(scopes);
        for (name, value) in self.hints().auth_params.clone() {
            flow = flow.param(name, value);
        }
        let pending = flow.start()?;
        let callback = redirect.complete(pending.url()).await?;
        pending.finish_url(&callback).await
    }

    pub(super) async fn client_credentials(
        &self,
        state: &mut State,
        discovered: &Discovered,
        scopes: &BTreeSet<String>,
    ) -> Result<TokenResponse, Error> {
        let endpoint = self.endpoint(state, discovered, None).await?;
        let scope = join_scopes(scopes);
        let mut request =
            GrantRequest::new("client_credentials").param("resource", &discovered.resource);
        if let Some(scope) = &scope {
            request = request.scope(scope);
        }
        endpoint.exchange(&request).await
    }

    /// The identity assertion exchanged for a grant at the identity provider (RFC 8693), then
    /// that grant at the resource's server (RFC 7523).
    pub(super) async fn cross_app(
        &self,
        state: &mut State,
        discovered: &Discovered,
        assertion: &IdentityAssertion,
        scopes: &BTreeSet<String>,
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
        let exchange = TokenExchange::new(
            idp.build()?,
            assertion.subject_token.expose_secret(),
            &assertion.subject_token_type,
        )
        .requested_token_type(ID_JAG_TOKEN_TYPE)
        .audience(&discovered.issuer)
        .resource(&discovered.resource)
        .scope(scopes);
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
        let scope = join_scopes(scopes);
        let mut request = GrantRequest::new(JWT_BEARER_GRANT_TYPE)
            .secret_param("assertion", secret.expose_secret())
            .param("resource", &discovered.resource);
        if let Some(scope) = &scope {
            request = request.scope(scope);
        }
        endpoint.exchange(&request).await
    }
}
