//! Where a platform's identity token comes from, and when it is read again.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tokensmith_core::{Error, ExposeSecret, SecretString};
use tokensmith_http::display_url;
use tokensmith_oauth2::{ClientAssertion, IssuedAssertion, JWT_BEARER_ASSERTION_TYPE};
use tokio::sync::Mutex;

use crate::read;

/// `client_assertion_type` of the SPIFFE client authentication draft
/// (draft-ietf-oauth-spiffe-client-auth): a JWT-SVID as the client assertion.
pub const SPIFFE_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-spiffe";

/// The largest token read: platform tokens are a few kilobytes.
pub(crate) const MAX_TOKEN: usize = 64 * 1024;
/// A token this close to its expiry is not handed out: the request it goes on takes time too.
const MARGIN: Duration = Duration::from_secs(10);
/// A token fetched from a command or an endpoint is fetched again this long before it expires.
const REFETCH_AHEAD: Duration = Duration::from_secs(60);
/// How long a command or the GitHub endpoint may take.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the token comes from.
enum Source {
    File(PathBuf),
    Env(String),
    Command {
        program: String,
        args: Vec<String>,
    },
    GitHub {
        url: url::Url,
        request_token: SecretString,
        audience: Option<String>,
        http: reqwest::Client,
    },
    #[cfg(feature = "spiffe")]
    Spiffe {
        /// The agent's socket (`unix:/run/spire/sockets/agent.sock`); `None`:
        /// `SPIFFE_ENDPOINT_SOCKET`.
        endpoint: Option<String>,
        audience: Vec<String>,
    },
}

impl Source {
    /// Where the token came from, as errors name it.
    fn name(&self) -> String {
        match self {
            Self::File(path) => format!("the file {}", path.display()),
            Self::Env(var) => format!("the environment variable {var}"),
            Self::Command { program, .. } => format!("the command `{program}`"),
            Self::GitHub { url, .. } => {
                format!("the GitHub Actions OIDC endpoint ({})", display_url(url))
            }
            #[cfg(feature = "spiffe")]
            Self::Spiffe { endpoint, .. } => format!(
                "the SPIFFE Workload API at {}",
                endpoint.as_deref().unwrap_or("$SPIFFE_ENDPOINT_SOCKET")
            ),
        }
    }

    /// Whether reading it is cheap enough to do for every token request.
    fn cheap(&self) -> bool {
        matches!(self, Self::File(_) | Self::Env(_))
    }
}

struct Inner {
    source: Source,
    /// The last token read.
    last: Mutex<Option<PlatformToken>>,
}

/// A source of the platform's identity token, read again whenever it may have changed: a file
/// on every use (Kubernetes rotates projected tokens by swapping a symlink, so the path is
/// opened anew each time and never held), a variable on every use, a command or the GitHub
/// Actions endpoint once per token, a minute before it expires.
///
/// It is a [`ClientAssertion`]: give it to
/// [`TokenEndpointBuilder::client_assertion`](tokensmith_oauth2::TokenEndpointBuilder::client_assertion)
/// to authenticate without a secret, or to a [`WorkloadGrant`](crate::WorkloadGrant) for the
/// JWT bearer grant or token exchange. A token that has expired is never sent: the error names
/// the source and the likely cause.
///
/// ```no_run
/// use tokensmith_oauth2::{ClientCredentials, TokenEndpoint};
/// use tokensmith_workload::WorkloadIdentity;
///
/// let identity = WorkloadIdentity::file("/var/run/secrets/tokens/oidc-token");
/// let endpoint = TokenEndpoint::builder("https://login.example.com/oauth2/token")
///     .client_id("reports")
///     .client_assertion(identity)
///     .build()?;
/// let tokens = ClientCredentials::new(endpoint).scope(["reports.read"]).build();
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone)]
pub struct WorkloadIdentity {
    inner: Arc<Inner>,
    assertion_type: Arc<str>,
}

impl fmt::Debug for WorkloadIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkloadIdentity")
            .field("source", &self.inner.source.name())
            .field("assertion_type", &self.assertion_type)
            .finish_non_exhaustive()
    }
}

impl WorkloadIdentity {
    fn with(source: Source) -> Self {
        Self {
            inner: Arc::new(Inner {
                source,
                last: Mutex::new(None),
            }),
            assertion_type: Arc::from(JWT_BEARER_ASSERTION_TYPE),
        }
    }

    /// The token in a file, read on every use: a Kubernetes projected service account token
    /// (`/var/run/secrets/tokens/...`), `AZURE_FEDERATED_TOKEN_FILE`, a file a sidecar keeps
    /// fresh.
    pub fn file(path: impl AsRef<Path>) -> Self {
        Self::with(Source::File(path.as_ref().to_owned()))
    }

    /// A SPIFFE JWT-SVID in a file (as spiffe-helper writes it), sent with the SPIFFE
    /// assertion type ([`SPIFFE_ASSERTION_TYPE`]) when used as a client assertion.
    pub fn spiffe_jwt_svid_file(path: impl AsRef<Path>) -> Self {
        Self::file(path).assertion_type(SPIFFE_ASSERTION_TYPE)
    }

    /// A JWT-SVID for `audience` from the SPIFFE Workload API (a SPIRE agent's Unix socket,
    /// `unix:/run/spire/sockets/agent.sock`; `None`: the `SPIFFE_ENDPOINT_SOCKET` variable),
    /// fetched once per SVID and again a minute before it expires; sent with the SPIFFE
    /// assertion type when used as a client assertion. Feature `spiffe`.
    #[cfg(feature = "spiffe")]
    #[cfg_attr(docsrs, doc(cfg(feature = "spiffe")))]
    pub fn spiffe_workload_api<I, S>(endpoint: Option<&str>, audience: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with(Source::Spiffe {
            endpoint: endpoint.map(str::to_owned),
            audience: audience.into_iter().map(Into::into).collect(),
        })
        .assertion_type(SPIFFE_ASSERTION_TYPE)
    }

    /// The token in an environment variable, read on every use.
    pub fn env(var: impl Into<String>) -> Self {
        Self::with(Source::Env(var.into()))
    }

    /// The token a command prints on standard output (trimmed), run once per token and again a
    /// minute before it expires (on every use when the token states no expiry). The command
    /// gets 30 seconds.
    pub fn command<I, S>(program: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with(Source::Command {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        })
    }

    /// The GitHub Actions OIDC token for `audience` (the job needs `permissions: id-token:
    /// write`, which sets `ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`).
    /// The request token goes only to the URL GitHub gave.
    pub fn github_actions(audience: Option<&str>) -> Result<Self, Error> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| {
                Error::config(format!("{name} is not set")).with_hint(
                    "GitHub sets ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN \
                     only in a job with `permissions: id-token: write`",
                )
            })
        };
        let url = var("ACTIONS_ID_TOKEN_REQUEST_URL")?;
        let request_token = SecretString::from(var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")?);
        Self::github_endpoint(&url, request_token, audience)
    }

    /// [`github_actions`](Self::github_actions) with the URL and request token given, for a
    /// runner that passes them otherwise (and for tests).
    pub fn github_endpoint(
        url: &str,
        request_token: SecretString,
        audience: Option<&str>,
    ) -> Result<Self, Error> {
        let parsed = url::Url::parse(url)
            .map_err(|_| Error::config("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL"))?;
        if !tokensmith_http::secure_or_loopback(&parsed) {
            return Err(Error::config(
                "ACTIONS_ID_TOKEN_REQUEST_URL is not https: the request token would cross the \
                 network unencrypted",
            ));
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))?;
        Ok(Self::with(Source::GitHub {
            url: parsed,
            request_token,
            audience: audience.map(str::to_owned),
            http,
        }))
    }

    /// The `client_assertion_type` sent when this is a client assertion (default JWT bearer).
    #[must_use]
    pub fn assertion_type(mut self, assertion_type: impl Into<String>) -> Self {
        self.assertion_type = Arc::from(assertion_type.into());
        self
    }

    /// Where the token comes from, as errors and the CLI name it.
    pub fn source_name(&self) -> String {
        self.inner.source.name()
    }

    /// The current token: read anew when the source is a file or a variable, fetched anew
    /// from a command or an endpoint when the last one is near its expiry.
    pub async fn token(&self) -> Result<PlatformToken, Error> {
        let source = &self.inner.source;
        let mut last = self.inner.last.lock().await;
        if !source.cheap()
            && let Some(token) = last.as_ref()
            && token
                .claims
                .expires_at
                .is_some_and(|exp| exp > SystemTime::now() + REFETCH_AHEAD)
        {
            return Ok(token.clone());
        }
        let text = self.read().await?;
        let token = match last.as_ref() {
            // The same text as before: nothing to parse again.
            Some(known) if known.secret.expose_secret() == text.expose_secret() => known.clone(),
            _ => PlatformToken {
                claims: claims_of(text.expose_secret()),
                secret: text,
            },
        };
        self.check(&token)?;
        *last = Some(token.clone());
        Ok(token)
    }

    /// A token that has expired (or is about to) is refused, naming the source.
    fn check(&self, token: &PlatformToken) -> Result<(), Error> {
        let Some(exp) = token.claims.expires_at else {
            return Ok(());
        };
        let now = SystemTime::now();
        if exp > now + MARGIN {
            return Ok(());
        }
        let ago = now.duration_since(exp).unwrap_or_default().as_secs();
        let cause = match &self.inner.source {
            Source::File(_) => {
                "the platform has not rotated it: on Kubernetes, check that the projected volume \
                 is mounted and the kubelet runs (a copied token file never rotates); elsewhere, \
                 that whatever writes the file still runs"
            }
            Source::Env(_) => {
                "a variable is read once by whoever set it: prefer a file the platform rotates"
            }
            Source::Command { .. } => "the command printed an expired token",
            Source::GitHub { .. } => "the runner's clock, or GitHub's, is far off",
            #[cfg(feature = "spiffe")]
            Source::Spiffe { .. } => "the agent's clock, or this machine's, is far off",
        };
        Err(Error::other(format!(
            "the workload identity token from {} expired {ago} s ago (or expires within {} s)",
            self.inner.source.name(),
            MARGIN.as_secs()
        ))
        .with_hint(cause))
    }

    /// Reads the token's text from its source.
    async fn read(&self) -> Result<SecretString, Error> {
        let source = &self.inner.source;
        let text = match source {
            Source::File(path) => read::file(path).await.map_err(|e| {
                Error::other(format!("cannot read {}: {e}", source.name())).with_hint(
                    "on Kubernetes: a projected service account token volume mounted at that \
                     path; for Azure, AZURE_FEDERATED_TOKEN_FILE names it",
                )
            })?,
            Source::Env(var) => std::env::var(var)
                .map(SecretString::from)
                .map_err(|_| Error::config(format!("{} is not set", source.name())))?,
            Source::Command { program, args } => read::command(program, args).await?,
            Source::GitHub {
                url,
                request_token,
                audience,
                http,
            } => read::github(http, url, request_token, audience.as_deref()).await?,
            #[cfg(feature = "spiffe")]
            Source::Spiffe { endpoint, audience } => {
                read::spiffe(endpoint.as_deref(), audience).await?
            }
        };
        let trimmed = text.expose_secret().trim();
        if trimmed.is_empty() {
            return Err(Error::other(format!("{} holds no token", source.name())));
        }
        if !trimmed.bytes().all(|b| (0x21..0x7f).contains(&b)) {
            return Err(Error::other(format!(
                "{} holds something other than a token (spaces, control or non-ASCII \
                 characters)",
                source.name()
            )));
        }
        Ok(SecretString::from(trimmed.to_owned()))
    }
}

#[async_trait]
impl ClientAssertion for WorkloadIdentity {
    fn assertion_type(&self) -> &str {
        &self.assertion_type
    }

    async fn assertion(&self) -> Result<IssuedAssertion, Error> {
        let token = self.token().await?;
        let assertion = IssuedAssertion::new(token.secret);
        Ok(match token.claims.expires_at {
            Some(at) => assertion.expires_at(at),
            None => assertion,
        })
    }
}

mod token;

pub use self::token::PlatformToken;
use self::token::claims_of;

#[cfg(test)]
mod tests;
