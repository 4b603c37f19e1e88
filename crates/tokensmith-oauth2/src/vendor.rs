//! Vendor hooks: what a vendor crate adds to the token endpoint's reading of answers and to
//! its hints.

use http::StatusCode;
use serde_json::{Map, Value};
use tokensmith_core::{Error, OAuthError, TokenType};

use crate::ClientAuth;

/// A vendor's quirks at the token endpoint, plugged in with
/// [`TokenEndpointBuilder::vendor`](crate::TokenEndpointBuilder::vendor).
///
/// # What needs no hook
/// The protocol crate itself reads RFC 6749 shapes and the tolerant variants many servers
/// send, so no hook is needed for them: form bodies, string `expires_in`, a 200 carrying an
/// error, and error answers in these shapes:
///
/// | shape | seen from |
/// | --- | --- |
/// | `{"error":"invalid_client","error_description":"…","error_uri":"…"}` | RFC 6749 §5.2: Keycloak, Auth0, Okta, Microsoft Entra, Google, Cognito, Salesforce, PayPal, oidc-provider |
/// | the code in any casing, `-` or spaces: `{"error":"Invalid_request"}` | Deyel and other Basic-client vendors |
/// | `error` with `message`, `reason`, `error_message` or `detail` for the text | Spring Boot (`{"status":401,"error":"Unauthorized","message":"…"}`), Zoom (`reason`) |
/// | a 200 answer with an error: `{"ok":false,"error":"invalid_client_id"}` | Slack, GitHub (form-encoded) |
/// | `{"error":{"code":"…","message":"…"}}`, with `type` or `status` when the code is a number | Microsoft Graph, Google APIs, Facebook (`OAuthException`) |
/// | `{"errors":[{"message":"…","attribute-name":"refresh_token"}]}`: the code from the attribute | Deyel |
/// | `{"errors":[{"code":99,"message":"…","label":"…"}]}` | Twitter |
/// | `{"ErrorCode":"invalid_request","Error":"Invalid client id : …"}` | Apigee's OAuth policies |
/// | `{"errorCode":"…","errorSummary":"…"}` | Okta's API errors |
/// | only a text on a 400, 401, 403 or 429: `error_description`, `message`, `detail`/`title` (RFC 9457) | AWS API Gateway, Kong (`{"message":"No API key found in request"}`), ASP.NET problem details |
///
/// Codes that servers use for an RFC 6749 cause (`invalid_client_id`, `bad_client_secret`,
/// `bad_verification_code`, `redirect_uri_mismatch`, …) keep their own spelling and get the
/// hint of the cause they name.
///
/// # Example
/// ```
/// use http::StatusCode;
/// use serde_json::{Map, Value};
/// use tokensmith_core::OAuthError;
/// use tokensmith_oauth2::{TokenEndpoint, TokenVendor};
///
/// /// A vendor that answers `{"fault": "bad_secret"}`.
/// struct Acme;
///
/// impl TokenVendor for Acme {
///     fn error(&self, status: StatusCode, fields: &Map<String, Value>) -> Option<OAuthError> {
///         let fault = fields.get("fault")?.as_str()?;
///         Some(OAuthError::new(status, if fault == "bad_secret" { "invalid_client" } else { fault }))
///     }
/// }
///
/// let endpoint = TokenEndpoint::builder("https://auth.acme.example/token")
///     .client_id("id")
///     .client_secret("secret")
///     .vendor(Acme)
///     .build()?;
/// # let _ = endpoint;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
pub trait TokenVendor: Send + Sync + 'static {
    /// An error in a shape neither RFC 6749 §5.2 nor the tolerant reading (see the module
    /// docs) knows, from the answer's fields (a JSON object, or form fields as strings).
    /// Called when the body holds no error the protocol crate can read. The texts are
    /// scrubbed and bounded afterwards.
    fn error(&self, status: StatusCode, fields: &Map<String, Value>) -> Option<OAuthError> {
        let _ = (status, fields);
        None
    }

    /// The type a non-standard `token_type` spelling stands for (`BearerToken`, say).
    fn token_type(&self, token_type: &str) -> Option<TokenType> {
        let _ = token_type;
        None
    }

    /// The hint for a failed request, before the generic rules; `None` leaves it to them.
    fn hint(&self, error: &Error, request: &HintContext<'_>) -> Option<String> {
        let _ = (error, request);
        None
    }
}

/// What was sent, for hints to refer to.
#[derive(Debug, Clone, Copy)]
pub struct HintContext<'a> {
    pub(crate) grant_type: &'a str,
    pub(crate) auth: ClientAuth,
    pub(crate) scope: Option<&'a str>,
    pub(crate) endpoint: &'a str,
    pub(crate) key_id: Option<&'a str>,
    pub(crate) key_alg: Option<&'a str>,
    /// The client assertion was issued by someone else (a workload identity token).
    pub(crate) external_assertion: bool,
}

impl<'a> HintContext<'a> {
    /// The grant type sent (`client_credentials`, `password`, …).
    pub fn grant_type(&self) -> &'a str {
        self.grant_type
    }

    /// The client authentication style used.
    pub fn auth(&self) -> ClientAuth {
        self.auth
    }

    /// The scope sent, if any.
    pub fn scope(&self) -> Option<&'a str> {
        self.scope
    }

    /// The endpoint, as logs show it (no query or user info).
    pub fn endpoint(&self) -> &'a str {
        self.endpoint
    }

    /// The hint for a client the server did not accept: the id/secret pair, or the client
    /// authentication style (naming the other styles to try).
    pub fn invalid_client_hint(&self) -> String {
        crate::hints::invalid_client_hint(self)
    }
}
