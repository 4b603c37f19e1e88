//! The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636), in two typed steps.
//!
//! [`AuthorizationCode::start`] gives the URL to send the user to and a
//! [`PendingAuthorization`] that owns everything the second step needs: the PKCE verifier,
//! the `state`, and the exact `redirect_uri`. [`PendingAuthorization::finish`] takes the
//! callback and exchanges the code; it cannot send another `redirect_uri`, and it refuses a
//! callback whose `state` differs before sending anything.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use tokensmith_core::{Error, OAuthError, SecretString};
use url::Url;

use crate::random_urlsafe;
use crate::request::join_scopes;
use crate::{GrantRequest, TokenEndpoint, TokenResponse};

/// How the PKCE challenge is derived from the verifier (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PkceMethod {
    /// `S256`: the challenge is BASE64URL(SHA256(verifier)). The default.
    #[default]
    S256,
    /// `plain`: the challenge is the verifier itself, so anyone who sees the authorization
    /// request can redeem the code (RFC 7636 §7.2). A downgrade, for servers that know
    /// nothing else.
    PlainDowngrade,
}

impl PkceMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::PlainDowngrade => "plain",
        }
    }

    fn challenge(self, verifier: &str) -> String {
        match self {
            Self::S256 => URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                verifier.as_bytes(),
            )),
            Self::PlainDowngrade => verifier.to_owned(),
        }
    }
}

/// Configures the authorization code flow.
///
/// ```
/// use tokensmith_oauth2::{AuthorizationCode, TokenEndpoint, ClientAuth};
///
/// let endpoint = TokenEndpoint::builder("https://auth.example.com/oauth/token")
///     .client_id("my-app")
///     .auth(ClientAuth::None)
///     .build()?;
/// let flow = AuthorizationCode::new(endpoint, "https://auth.example.com/authorize", "http://127.0.0.1:8080/callback")?
///     .scope(["profile", "offline_access"]);
/// let pending = flow.start()?;
/// assert!(pending.url().as_str().contains("code_challenge_method=S256"));
/// // Send the user to pending.url(); then: pending.finish_url(&callback_url).await
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone)]
pub struct AuthorizationCode {
    endpoint: TokenEndpoint,
    authorize_url: Url,
    redirect_uri: String,
    scope: Option<String>,
    pkce: PkceMethod,
    params: Vec<(String, String)>,
    resource: Option<String>,
}

impl AuthorizationCode {
    /// The flow for an endpoint built from discovery: the authorization endpoint comes from
    /// the server's metadata, and its issuer is checked in responses (RFC 9207).
    pub fn discovered(
        endpoint: TokenEndpoint,
        redirect_uri: impl Into<String>,
    ) -> Result<Self, Error> {
        let authorize = endpoint
            .metadata()
            .and_then(|m| m.authorization_endpoint.clone())
            .ok_or_else(|| {
                Error::config("the server metadata names no `authorization_endpoint`").with_hint(
                    "build the token endpoint with `Issuer::token_endpoint`, or use \
                     `AuthorizationCode::new` with the URL",
                )
            })?;
        Self::new(endpoint, authorize, redirect_uri)
    }

    /// The flow for `endpoint`'s client, with the server's authorization endpoint and the
    /// redirect URI registered for the client.
    pub fn new(
        endpoint: TokenEndpoint,
        authorize_url: impl AsRef<str>,
        redirect_uri: impl Into<String>,
    ) -> Result<Self, Error> {
        let authorize_url = Url::parse(authorize_url.as_ref())
            .map_err(|e| Error::config(format!("authorization endpoint URL is not a URL: {e}")))?;
        endpoint.check_secret_url("authorization endpoint", &authorize_url)?;
        let redirect_uri = redirect_uri.into();
        let redirect = Url::parse(&redirect_uri)
            .map_err(|e| Error::config(format!("redirect URI is not a URL: {e}")))?;
        // The code travels to the redirect URI (RFC 6749 §3.1.2.1): https, or loopback for
        // native apps (RFC 8252 §7.3); a private-use scheme (RFC 8252 §7.1) stays on the device.
        if redirect.scheme() == "http" {
            endpoint.check_secret_url("redirect URI", &redirect)?;
        }
        Ok(Self {
            endpoint,
            authorize_url,
            redirect_uri,
            scope: None,
            pkce: PkceMethod::default(),
            params: Vec::new(),
            resource: None,
        })
    }

    /// Asks for these scopes.
    #[must_use]
    pub fn scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.scope = join_scopes(scopes);
        self
    }

    /// The resource the token is for (RFC 8707 `resource`, an absolute URI without fragment):
    /// sent in the authorization request and again in the code exchange, as §2.1 and §2.2
    /// want both.
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// The PKCE method (default `S256`).
    #[must_use]
    pub fn pkce(mut self, method: PkceMethod) -> Self {
        self.pkce = method;
        self
    }

    /// Another query parameter for the authorization URL (`prompt`, `login_hint`, …). The
    /// ones the flow sets itself (`state`, `redirect_uri`, `code_challenge`, …) are refused
    /// by [`start`](Self::start): a second `state` would defeat the callback check.
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Step one: a fresh verifier and `state`, and the URL to send the user to.
    pub fn start(&self) -> Result<PendingAuthorization, Error> {
        if let Some((name, _)) = self
            .params
            .iter()
            .find(|(name, _)| FLOW_PARAMS.contains(&name.as_str()))
        {
            let how = match name.as_str() {
                "scope" => "set scopes with `.scope(..)`",
                "state" => {
                    "the flow makes a fresh `state` for each sign-in and checks it on the \
                     callback; keep your own data beside the `PendingAuthorization`"
                }
                _ => "the flow sets it from its own settings",
            };
            return Err(Error::config(format!(
                "`{name}` cannot be an extra authorization parameter: {how}"
            )));
        }
        let verifier = random_urlsafe(32)?;
        let state = random_urlsafe(16)?;
        let mut url = self.authorize_url.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", self.endpoint.client_id())
                .append_pair("redirect_uri", &self.redirect_uri)
                .append_pair("state", &state)
                .append_pair("code_challenge", &self.pkce.challenge(&verifier))
                .append_pair("code_challenge_method", self.pkce.as_str());
            if let Some(scope) = &self.scope {
                query.append_pair("scope", scope);
            }
            if let Some(resource) = &self.resource {
                query.append_pair("resource", resource);
            }
            for (name, value) in &self.params {
                query.append_pair(name, value);
            }
        }
        Ok(PendingAuthorization {
            endpoint: self.endpoint.clone(),
            url,
            state,
            verifier: SecretString::from(verifier),
            redirect_uri: self.redirect_uri.clone(),
            resource: self.resource.clone(),
        })
    }
}

/// The authorization request parameters the flow sets itself (RFC 6749 §4.1.1, RFC 7636).
const FLOW_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
];

/// Between the two steps: holds the verifier (a secret), the `state` and the redirect URI.
pub struct PendingAuthorization {
    endpoint: TokenEndpoint,
    url: Url,
    state: String,
    verifier: SecretString,
    redirect_uri: String,
    resource: Option<String>,
}

impl PendingAuthorization {
    /// The URL to send the user to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The `state` sent; the callback must bring it back.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The redirect URI sent, which the exchange sends again.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// RFC 9207: an `iss` in the response must be the server's issuer, and a server that
    /// says it sends `iss` must have sent it; otherwise the response may come from another
    /// server the client also uses (a mix-up attack) and its code is not used.
    fn check_issuer(&self, iss: Option<&str>) -> Result<(), Error> {
        let expected = self.endpoint.issuer();
        let promised = self
            .endpoint
            .metadata()
            .is_some_and(|m| m.authorization_response_iss_parameter_supported);
        match (iss, expected) {
            (Some(iss), Some(expected)) if iss != expected => Err(Error::refused(format!(
                "the authorization response comes from issuer `{}`, not `{expected}`; its code \
                 was not used",
                tokensmith_http::scrub_excerpt(iss.as_bytes(), &[])
            ))
            .with_hint(
                "a response from another authorization server reached this flow's redirect URI \
                 (RFC 9207 mix-up defence); use a distinct redirect URI per server, and start \
                 the flow again",
            )),
            (None, Some(expected)) if promised => Err(Error::refused(format!(
                "the authorization response has no `iss`, though `{expected}` says it sends one; \
                 its code was not used"
            ))
            .with_hint("the response did not come from that server (RFC 9207 §2.4)")),
            _ => Ok(()),
        }
    }

    /// Step two, from the full callback URL the browser was sent to.
    pub async fn finish_url(self, callback_url: &str) -> Result<TokenResponse, Error> {
        let callback = Callback::from_url(callback_url)?;
        self.finish(callback).await
    }

    /// Step two: checks `state`, turns an `error=` into a typed error, and exchanges the code
    /// with the verifier and the same redirect URI.
    pub async fn finish(self, callback: Callback) -> Result<TokenResponse, Error> {
        if callback.state.as_deref() != Some(self.state.as_str()) {
            return Err(Error::refused(
                "the callback's `state` does not match the one sent; its code was not used",
            )
            .with_hint(
                "the callback belongs to another sign-in attempt, or was forged; start the flow \
                 again",
            ));
        }
        self.check_issuer(callback.iss.as_deref())?;
        if let Some(code) = callback.error {
            // Anyone who can open the redirect URI writes these: bounded and scrubbed.
            let mut error = OAuthError::new(StatusCode::FOUND, code);
            error.description = callback.error_description;
            error.uri = callback.error_uri;
            let error =
                tokensmith_http::scrub::mask_oauth_error(error, &self.endpoint.secret_values());
            let hint = match error.code {
                tokensmith_core::ErrorCode::AccessDenied => {
                    "the user declined, or the server refused this client the scopes it asked for"
                }
                _ => "the authorization server refused the request before the user signed in",
            };
            return Err(Error::from(error).with_hint(hint));
        }
        let Some(code) = callback.code else {
            return Err(Error::config("the callback has neither `code` nor `error`")
                .with_hint("pass the full callback URL or its query"));
        };
        let verifier = tokensmith_core::ExposeSecret::expose_secret(&self.verifier);
        let mut request = GrantRequest::new("authorization_code")
            .secret_param("code", &code)
            .param("redirect_uri", &self.redirect_uri)
            .secret_param("code_verifier", verifier)
            .single_use();
        if let Some(resource) = &self.resource {
            request = request.param("resource", resource);
        }
        self.endpoint.exchange(&request).await
    }
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationCode")
            .field("endpoint", &self.endpoint)
            .field(
                "authorize_url",
                &tokensmith_http::display_url(&self.authorize_url),
            )
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .field("pkce", &self.pkce)
            .field(
                "params",
                &self.params.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("url", &self.url.origin().ascii_serialization())
            .field("redirect_uri", &self.redirect_uri)
            .field("verifier", &"[redacted]")
            .finish_non_exhaustive()
    }
}

mod callback;

pub use self::callback::Callback;

#[cfg(test)]
mod tests;
