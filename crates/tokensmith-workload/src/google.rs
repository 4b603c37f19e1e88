//! Google Cloud workload identity federation: the platform's token exchanged at Google's
//! Security Token Service for a federated access token, then, optionally, a service
//! account's access token through the IAM Credentials API.
//!
//! The wire format, as Google documents it: `POST https://sts.googleapis.com/v1/token` with a
//! form body `grant_type=urn:ietf:params:oauth:grant-type:token-exchange`, `audience`
//! (`//iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{pool}/providers/{provider}`),
//! `scope`, `requested_token_type=urn:ietf:params:oauth:token-type:access_token`,
//! `subject_token_type` and `subject_token`, no client authentication; then
//! `POST https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{email}:generateAccessToken`
//! with the federated token as a bearer token and `{"scope": [...], "lifetime": "3600s"}`,
//! answered with `{"accessToken": ..., "expireTime": "...Z"}`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::{Value, json};
use tokensmith_core::{AccessToken, Cached, Error, ExposeSecret, TokenSource};
use tokensmith_http::{display_url, read_limited, scrub_excerpt};
use tokensmith_oauth2::{TOKEN_EXCHANGE_GRANT_TYPE, token_type};
use url::Url;

use crate::WorkloadIdentity;
use crate::grant::bounded;

/// Google's Security Token Service.
pub const STS_URL: &str = "https://sts.googleapis.com/v1/token";
/// The IAM Credentials API.
pub const IAM_CREDENTIALS_URL: &str = "https://iamcredentials.googleapis.com/";
/// The scope most Google APIs take.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The largest answer read.
const MAX_ANSWER: usize = 64 * 1024;

/// The STS `audience` of a workload identity pool provider.
pub fn pool_audience(project_number: &str, pool: &str, provider: &str) -> String {
    format!(
        "//iam.googleapis.com/projects/{project_number}/locations/global/workloadIdentityPools/{pool}/providers/{provider}"
    )
}

/// Google Cloud access tokens for a workload outside Google Cloud, from its platform token.
///
/// ```no_run
/// use tokensmith_workload::WorkloadIdentity;
/// use tokensmith_workload::google::{GoogleFederation, pool_audience};
///
/// let identity = WorkloadIdentity::file("/var/run/secrets/tokens/gcp-token");
/// let tokens = GoogleFederation::new(identity, pool_audience("123456", "ci-pool", "github"))
///     .impersonate("deployer@my-project.iam.gserviceaccount.com")
///     .build()?;
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Debug)]
pub struct GoogleFederation {
    identity: WorkloadIdentity,
    audience: String,
    subject_token_type: String,
    scopes: Vec<String>,
    impersonate: Option<String>,
    lifetime: Duration,
    sts_url: String,
    iam_url: String,
    /// Made once, by [`build`](Self::build).
    http: Option<reqwest::Client>,
}

impl GoogleFederation {
    /// Federation through the pool provider named by `audience` (see [`pool_audience`]), the
    /// platform token sent as a JWT; the `cloud-platform` scope.
    pub fn new(identity: WorkloadIdentity, audience: impl Into<String>) -> Self {
        Self {
            identity,
            audience: audience.into(),
            subject_token_type: token_type::JWT.to_owned(),
            scopes: vec![CLOUD_PLATFORM_SCOPE.to_owned()],
            impersonate: None,
            lifetime: Duration::from_secs(3600),
            sts_url: STS_URL.to_owned(),
            iam_url: IAM_CREDENTIALS_URL.to_owned(),
            http: None,
        }
    }

    /// The platform token's type (default [`token_type::JWT`]; [`token_type::ID_TOKEN`] for
    /// an OIDC provider's ID token).
    #[must_use]
    pub fn subject_token_type(mut self, kind: impl Into<String>) -> Self {
        self.subject_token_type = kind.into();
        self
    }

    /// The scopes asked for (default `cloud-platform`).
    #[must_use]
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Trades the federated token for a token of this service account (the pool's principal
    /// needs `roles/iam.workloadIdentityUser` on it).
    #[must_use]
    pub fn impersonate(mut self, service_account: impl Into<String>) -> Self {
        self.impersonate = Some(service_account.into());
        self
    }

    /// The impersonated token's lifetime (default and at most an hour without an
    /// organisation policy that allows more).
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Other endpoints than Google's (a private endpoint, or a simulator on 127.0.0.1).
    #[must_use]
    pub fn endpoints(mut self, sts_url: impl Into<String>, iam_url: impl Into<String>) -> Self {
        self.sts_url = sts_url.into();
        self.iam_url = iam_url.into();
        self
    }

    /// Checks the settings and builds the cached provider.
    pub fn build(mut self) -> Result<Cached<Self>, Error> {
        if !self.audience.starts_with("//iam.googleapis.com/") {
            return Err(Error::config(
                "the audience of a workload identity pool provider starts with \
                 //iam.googleapis.com/projects/…; see google::pool_audience",
            ));
        }
        for url in [&self.sts_url, &self.iam_url] {
            let parsed =
                Url::parse(url).map_err(|_| Error::config(format!("`{url}` is not a URL")))?;
            if !tokensmith_http::secure_or_loopback(&parsed) {
                return Err(Error::config(
                    "Google endpoints must be https: the platform token is a secret",
                ));
            }
        }
        if let Some(account) = &self.impersonate
            && (!account.contains('@') || account.contains(['/', '?', '#', ' ']))
        {
            return Err(Error::config(
                "the service account to impersonate is an e-mail address \
                 (name@project.iam.gserviceaccount.com)",
            ));
        }
        self.http = Some(Self::http()?);
        Ok(Cached::new(self))
    }

    fn http() -> Result<reqwest::Client, Error> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))
    }

    /// The STS exchange: the platform token for a federated access token.
    async fn exchange(
        &self,
        http: &reqwest::Client,
        subject: &str,
    ) -> Result<(String, Duration), Error> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", TOKEN_EXCHANGE_GRANT_TYPE)
            .append_pair("audience", &self.audience)
            .append_pair("scope", &self.scopes.join(" "))
            .append_pair("requested_token_type", token_type::ACCESS_TOKEN)
            .append_pair("subject_token_type", &self.subject_token_type)
            .append_pair("subject_token", subject)
            .finish();
        let request = http
            .post(&self.sts_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form);
        let body = send(request, &self.sts_url, &[subject], |status, text| {
            if text.contains("audience") {
                "the pool provider's allowed audiences must include the platform token's `aud`, \
                 and the audience here must name that provider"
            } else if text.contains("invalid_grant") || status == 400 {
                "check the provider's issuer URL and attribute condition against the platform \
                 token's `iss` and claims"
            } else {
                "check that the pool and provider exist and are enabled"
            }
        })
        .await?;
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::other("Google STS answered without an access_token"))?;
        let lifetime = body
            .get("expires_in")
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or(Duration::from_secs(3600), Duration::from_secs_f64);
        Ok((token.to_owned(), lifetime))
    }

    /// The IAM Credentials call: the federated token for a service account's.
    async fn impersonated(
        &self,
        http: &reqwest::Client,
        account: &str,
        federated: &str,
        subject: &str,
    ) -> Result<(String, Duration), Error> {
        let base = Url::parse(&self.iam_url)
            .map_err(|_| Error::config("the IAM Credentials URL is not a URL"))?;
        let url = base
            .join(&format!(
                "v1/projects/-/serviceAccounts/{account}:generateAccessToken"
            ))
            .map_err(|e| Error::config(format!("the IAM Credentials URL: {e}")))?;
        let request = http
            .post(url.as_str())
            .bearer_auth(federated)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(
                json!({
                    "scope": self.scopes,
                    "lifetime": format!("{}s", self.lifetime.as_secs()),
                })
                .to_string(),
            );
        let body = send(request, url.as_str(), &[federated, subject], |status, _| {
            if status == 403 {
                "the pool's principal needs roles/iam.workloadIdentityUser (Workload Identity \
                 User) on the service account"
            } else {
                "check the service account's e-mail address"
            }
        })
        .await?;
        let token = body
            .get("accessToken")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::other("IAM Credentials answered without an accessToken"))?;
        let left = body
            .get("expireTime")
            .and_then(Value::as_str)
            .and_then(rfc3339_utc)
            .and_then(|at| at.duration_since(SystemTime::now()).ok())
            .unwrap_or(self.lifetime);
        Ok((token.to_owned(), left))
    }
}

/// Sends `request` and reads a JSON object from a 2xx answer; otherwise an error with the
/// answer's masked excerpt and the hint `hint` gives for it.
async fn send(
    request: reqwest::RequestBuilder,
    url: &str,
    secrets: &[&str],
    hint: impl Fn(u16, &str) -> &'static str,
) -> Result<serde_json::Map<String, Value>, Error> {
    let display = Url::parse(url).map_or_else(|_| url.to_owned(), |u| display_url(&u));
    let response = request.send().await.map_err(|e| {
        if e.is_timeout() {
            Error::timeout(&display, Duration::from_secs(30))
        } else {
            Error::transport(&display, e.without_url().to_string(), None)
        }
    })?;
    let status = response.status().as_u16();
    let body = read_limited(http::Response::from(response).into_body(), MAX_ANSWER)
        .await
        .map_err(|_| Error::other(format!("{display} answered more than 64 KiB")))?;
    if !(200..300).contains(&status) {
        let text = scrub_excerpt(&body, secrets);
        let lower = text.to_ascii_lowercase();
        return Err(Error::other(format!("{display} answered {status}: {text}"))
            .with_hint(hint(status, &lower)));
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::other(format!(
            "{display} answered {status} without a JSON object"
        ))),
    }
}

/// An RFC 3339 time in UTC (`2026-12-06T14:00:00Z`, fractions allowed).
fn rfc3339_utc(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (time, fraction) = time.split_once('.').unwrap_or((time, ""));
    let mut time = time.splitn(3, ':').map(|p| p.parse::<u64>().ok());
    let (hour, minute, second) = (time.next()??, time.next()??, time.next()??);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    let nanos = if fraction.is_empty() {
        0
    } else {
        let digits: String = fraction.chars().take(9).collect();
        digits.parse::<u64>().ok()? * 10u64.pow(9 - digits.len() as u32)
    };
    UNIX_EPOCH.checked_add(
        Duration::from_secs(days * 86_400 + hour * 3600 + minute * 60 + second)
            + Duration::from_nanos(nanos),
    )
}

#[async_trait]
impl TokenSource for GoogleFederation {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let platform = self.identity.token().await?;
        let subject = platform.secret().expose_secret();
        // Made by `build`; made here only for a source used without it.
        let http = match &self.http {
            Some(http) => http.clone(),
            None => Self::http()?,
        };
        let (federated, lifetime) = self.exchange(&http, subject).await?;
        let (token, lifetime) = match &self.impersonate {
            Some(account) => {
                self.impersonated(&http, account, &federated, subject)
                    .await?
            }
            None => (federated, lifetime),
        };
        let token = AccessToken::builder(token)
            .expires_in(lifetime)
            .scopes(self.scopes.iter().cloned())
            .build()?;
        bounded(token, platform.expires_at())
    }

    fn name(&self) -> &str {
        "google_workload_identity_federation"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_in_utc() {
        assert_eq!(rfc3339_utc("1970-01-01T00:00:00Z"), Some(UNIX_EPOCH));
        assert_eq!(
            rfc3339_utc("2026-12-06T14:00:00.5Z"),
            Some(UNIX_EPOCH + Duration::from_millis(1_796_565_600_500))
        );
        assert_eq!(rfc3339_utc("2026-12-06T14:00:00+01:00"), None);
        assert_eq!(rfc3339_utc("2026-13-06T14:00:00Z"), None);
        assert_eq!(rfc3339_utc("garbage"), None);
    }
}
