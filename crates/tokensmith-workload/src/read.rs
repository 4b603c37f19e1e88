//! Reading a platform token from where it lives: a file, a command, the GitHub Actions
//! endpoint. Each read is bounded in size and time.

use std::path::Path;

use serde_json::Value;
use tokensmith_core::{Error, ExposeSecret, SecretString};
use tokensmith_http::{display_url, read_limited, scrub_excerpt};
use tokio::io::AsyncReadExt;

use crate::identity::{FETCH_TIMEOUT, MAX_TOKEN};

/// The file's contents, at most [`MAX_TOKEN`] bytes, through whatever symlinks lead to it now.
pub(crate) async fn file(path: &Path) -> Result<SecretString, String> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| e.to_string())?;
    if bytes.len() > MAX_TOKEN {
        return Err(format!("larger than {} KiB", MAX_TOKEN / 1024));
    }
    String::from_utf8(bytes)
        .map(SecretString::from)
        .map_err(|_| "not UTF-8 text".to_owned())
}

/// Runs a command for its standard output, bounded in time and size.
pub(crate) async fn command(program: &str, args: &[String]) -> Result<SecretString, Error> {
    let name = format!("the command `{program}`");
    let output = tokio::time::timeout(
        FETCH_TIMEOUT,
        tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| Error::timeout(&name, FETCH_TIMEOUT))?
    .map_err(|e| Error::other(format!("cannot run {name}: {e}")))?;
    if !output.status.success() {
        let stderr = scrub_excerpt(&output.stderr, &[]);
        return Err(Error::other(format!(
            "{name} failed ({}){}",
            output.status,
            if stderr.is_empty() {
                String::new()
            } else {
                format!(": {stderr}")
            }
        )));
    }
    if output.stdout.len() > MAX_TOKEN {
        return Err(Error::other(format!(
            "{name} printed more than {} KiB",
            MAX_TOKEN / 1024
        )));
    }
    String::from_utf8(output.stdout)
        .map(SecretString::from)
        .map_err(|_| Error::other(format!("{name} printed something other than text")))
}

/// The GitHub Actions OIDC token: `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with the
/// request token as a bearer token, answered with `{"value": "<jwt>"}`.
pub(crate) async fn github(
    http: &reqwest::Client,
    url: &url::Url,
    request_token: &SecretString,
    audience: Option<&str>,
) -> Result<SecretString, Error> {
    let display = display_url(url);
    let mut target = url.clone();
    if let Some(audience) = audience {
        target.query_pairs_mut().append_pair("audience", audience);
    }
    let response = http
        .get(target)
        .bearer_auth(request_token.expose_secret())
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                Error::timeout(&display, FETCH_TIMEOUT)
            } else {
                Error::transport(&display, e.without_url().to_string(), None)
            }
        })?;
    let status = response.status();
    let body = read_limited(http::Response::from(response).into_body(), MAX_TOKEN)
        .await
        .map_err(|_| Error::other(format!("{display} answered more than 64 KiB")))?;
    if !status.is_success() {
        return Err(Error::other(format!(
            "{display} answered {status}: {}",
            scrub_excerpt(&body, &[request_token.expose_secret()])
        ))
        .with_hint(
            "the request token lives as long as the job; the job needs `permissions: id-token: \
             write`",
        ));
    }
    serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("value").and_then(Value::as_str).map(str::to_owned))
        .map(SecretString::from)
        .ok_or_else(|| Error::other(format!("{display} answered without a `value`")))
}

/// A JWT-SVID from the SPIFFE Workload API, bounded in time.
#[cfg(feature = "spiffe")]
pub(crate) async fn spiffe(
    endpoint: Option<&str>,
    audience: &[String],
) -> Result<SecretString, Error> {
    let name = format!(
        "the SPIFFE Workload API at {}",
        endpoint.unwrap_or("$SPIFFE_ENDPOINT_SOCKET")
    );
    let hint = "is the SPIRE agent running, this workload registered with it, and \
                SPIFFE_ENDPOINT_SOCKET (or the endpoint given) its socket, \
                unix:/run/spire/sockets/agent.sock?";
    let fetch = async {
        let client = match endpoint {
            Some(endpoint) => spiffe::WorkloadApiClient::connect_to(endpoint).await,
            None => spiffe::WorkloadApiClient::connect_env().await,
        }
        .map_err(|e| Error::other(format!("cannot reach {name}: {e}")).with_hint(hint))?;
        client
            .fetch_jwt_token(audience, None)
            .await
            .map_err(|e| Error::other(format!("{name} gave no JWT-SVID: {e}")).with_hint(hint))
    };
    tokio::time::timeout(FETCH_TIMEOUT, fetch)
        .await
        .map_err(|_| Error::timeout(&name, FETCH_TIMEOUT))?
        .map(SecretString::from)
}
