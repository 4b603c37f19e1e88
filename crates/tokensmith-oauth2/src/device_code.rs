//! The device authorization grant (RFC 8628), for command-line tools and headless machines.

use std::fmt;
use std::time::Duration;

use serde_json::Value;
use tokensmith_core::{Error, ErrorCode};
use tokio::time::Instant;
use url::Url;

use crate::exchange::Call;
use crate::request::join_scopes;
use crate::response::{RawResponse, unexpected};
use crate::{GrantRequest, TokenEndpoint, TokenResponse};
use tokensmith_http::display_url;

/// The `grant_type` of the device grant (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Longest polling interval accepted from a server, so a bad answer cannot stall the flow.
const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// Longest lifetime accepted for a device code.
const MAX_LIFETIME: Duration = Duration::from_secs(3600);

/// What to show the user: where to go and which code to enter (RFC 8628 §3.2).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DevicePrompt {
    /// The code the user enters.
    pub user_code: String,
    /// Where the user enters it.
    pub verification_uri: String,
    /// A URI with the code filled in, if the server gave one (for a QR code).
    pub verification_uri_complete: Option<String>,
    /// How long the code stays valid.
    pub expires_in: Duration,
}

impl fmt::Debug for DevicePrompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevicePrompt")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The device authorization answer, with the device code kept private.
struct DeviceStart {
    device_code: String,
    prompt: DevicePrompt,
    interval: Duration,
}

/// Runs the device grant: asks for a device code, hands the prompt to the caller, polls the
/// token endpoint at the server's interval (5 s more after each `slow_down`), and stops on
/// success, `expired_token`, `access_denied`, or when the code's lifetime has passed. Dropping
/// the future stops the polling.
///
/// ```
/// use tokensmith_oauth2::{ClientAuth, DeviceAuthorization, TokenEndpoint};
///
/// let endpoint = TokenEndpoint::builder("https://auth.example.com/oauth/token")
///     .client_id("my-cli")
///     .auth(ClientAuth::None)
///     .build()?;
/// let flow = DeviceAuthorization::new(endpoint, "https://auth.example.com/device_authorization")?
///     .scope(["offline_access"]);
/// // let tokens = flow.run(|prompt| println!("Go to {} and enter {}",
/// //     prompt.verification_uri, prompt.user_code)).await?;
/// # let _ = flow;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone)]
pub struct DeviceAuthorization {
    endpoint: TokenEndpoint,
    device_url: Url,
    display: String,
    scope: Option<String>,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("endpoint", &self.endpoint)
            .field("device_url", &self.display)
            .field("scope", &self.scope)
            .finish()
    }
}

impl DeviceAuthorization {
    /// The flow for an endpoint built from discovery, with the server's
    /// `device_authorization_endpoint`.
    pub fn discovered(endpoint: TokenEndpoint) -> Result<Self, Error> {
        let url = endpoint
            .metadata()
            .and_then(|m| m.device_authorization_endpoint.clone())
            .ok_or_else(|| {
                Error::config("the server metadata names no `device_authorization_endpoint`")
            })?;
        Self::new(endpoint, url)
    }

    /// The flow for `endpoint`'s client, with the server's device authorization endpoint.
    pub fn new(
        endpoint: TokenEndpoint,
        device_authorization_url: impl AsRef<str>,
    ) -> Result<Self, Error> {
        let device_url = Url::parse(device_authorization_url.as_ref())
            .map_err(|e| Error::config(format!("device authorization URL is not a URL: {e}")))?;
        endpoint.check_secret_url("device authorization endpoint", &device_url)?;
        let display = display_url(&device_url);
        Ok(Self {
            endpoint,
            device_url,
            display,
            scope: None,
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

    /// Runs the flow; `prompt` is called once, with what to show the user.
    pub async fn run(&self, prompt: impl FnOnce(&DevicePrompt)) -> Result<TokenResponse, Error> {
        let mut request = GrantRequest::without_grant_type("device_authorization");
        if let Some(scope) = &self.scope {
            request = request.scope(scope);
        }
        let call = Call {
            url: &self.device_url,
            display: &self.display,
            request: &request,
            parse: parse_device_start,
        };
        let start = self.endpoint.call(&call).await?;
        prompt(&start.prompt);
        self.poll(start).await
    }

    async fn poll(&self, start: DeviceStart) -> Result<TokenResponse, Error> {
        let deadline = Instant::now() + start.prompt.expires_in;
        let mut interval = start.interval;
        let request = GrantRequest::new(DEVICE_CODE_GRANT_TYPE)
            .secret_param("device_code", &start.device_code);
        loop {
            if Instant::now() + interval > deadline {
                return Err(Error::from(tokensmith_core::OAuthError::new(
                    http::StatusCode::BAD_REQUEST,
                    "expired_token",
                ))
                .with_hint("the user did not finish in time; start the flow again"));
            }
            tokio::time::sleep(interval).await;
            match self.endpoint.exchange(&request).await {
                Ok(tokens) => return Ok(tokens),
                Err(e) => match e.oauth().map(|o| o.code.clone()) {
                    Some(ErrorCode::AuthorizationPending) => {}
                    Some(ErrorCode::SlowDown) => {
                        interval = (interval + Duration::from_secs(5)).min(MAX_INTERVAL);
                        tracing::debug!(target: "tokensmith::oauth2", interval_s = interval.as_secs(), "device flow: slowing down");
                    }
                    Some(ErrorCode::ExpiredToken) => {
                        return Err(e.with_hint("the device code expired before the user finished; start the flow again"));
                    }
                    Some(ErrorCode::AccessDenied) => {
                        return Err(e.with_hint("the user denied the request"));
                    }
                    _ => return Err(e),
                },
            }
        }
    }
}

/// Reads the device authorization answer (RFC 8628 §3.2), or an OAuth error.
fn parse_device_start(answer: &RawResponse<'_>) -> Result<DeviceStart, Error> {
    let unexpected = |reason: &str| unexpected(answer, reason);
    if !answer.status.is_success() {
        // Errors have the token endpoint's shape: let its parser read them.
        return match crate::response::parse(answer) {
            Err(e) => Err(e),
            Ok(_) => Err(unexpected("a token where a device code was expected")),
        };
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(answer.body) else {
        return Err(unexpected(
            "the device authorization answer is not a JSON object",
        ));
    };
    let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
    let seconds = |name: &str| {
        fields.get(name).and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let (Some(device_code), Some(user_code)) = (text("device_code"), text("user_code")) else {
        return Err(unexpected("the answer lacks `device_code` or `user_code`"));
    };
    // Some servers spell it `verification_url`.
    let Some(verification_uri) = text("verification_uri").or_else(|| text("verification_url"))
    else {
        return Err(unexpected("the answer lacks `verification_uri`"));
    };
    let expires_in = Duration::from_secs(seconds("expires_in").unwrap_or(600)).min(MAX_LIFETIME);
    let interval = Duration::from_secs(seconds("interval").unwrap_or(5).max(1)).min(MAX_INTERVAL);
    Ok(DeviceStart {
        device_code,
        prompt: DevicePrompt {
            user_code,
            verification_uri,
            verification_uri_complete: text("verification_uri_complete"),
            expires_in,
        },
        interval,
    })
}
