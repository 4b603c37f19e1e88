//! Token revocation (RFC 7009): telling the server a token is no longer needed.

use http::StatusCode;
use tokensmith_core::{Error, UnexpectedResponse};
use url::Url;

use crate::exchange::Call;
use crate::response::{RawResponse, parse};
use crate::{GrantRequest, TokenEndpoint};

/// Which kind of token is revoked (`token_type_hint`, RFC 7009 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// The parameter's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
        }
    }
}

impl TokenEndpoint {
    /// The revocation endpoint, from discovery or
    /// [`revocation_url`](crate::TokenEndpointBuilder::revocation_url).
    pub fn revocation_url(&self) -> Option<&Url> {
        self.inner.revocation.as_ref().map(|(url, _)| url)
    }

    /// Revokes `token` at the revocation endpoint, authenticating the client as for token
    /// requests. A token the server does not know counts as revoked (RFC 7009 §2.2); a
    /// server that cannot revoke that kind of token answers `unsupported_token_type`.
    pub async fn revoke(&self, token: &str, hint: Option<TokenTypeHint>) -> Result<(), Error> {
        let (url, display) = self.inner.revocation.as_ref().ok_or_else(|| {
            Error::config("no revocation endpoint is known for this server").with_hint(
                "set `.revocation_url(..)` on the token endpoint, or build it from discovery \
                 (`Issuer::token_endpoint`) when the server publishes `revocation_endpoint`",
            )
        })?;
        let mut request =
            GrantRequest::without_grant_type("revocation").secret_param("token", token);
        if let Some(hint) = hint {
            request = request.param("token_type_hint", hint.as_str());
        }
        let call = Call {
            url,
            display,
            request: &request,
            parse: revoked,
        };
        self.call(&call).await
    }
}

/// 200 is success, whatever the body; anything else is read as a token endpoint error.
fn revoked(answer: &RawResponse<'_>) -> Result<(), Error> {
    if answer.status == StatusCode::OK {
        return Ok(());
    }
    match parse(answer) {
        Err(error) => Err(error),
        Ok(_) => Err(UnexpectedResponse::new(
            answer.status,
            answer.content_type.map(str::to_owned),
            "the revocation endpoint answered with a token",
            String::new(),
        )
        .into()),
    }
}
