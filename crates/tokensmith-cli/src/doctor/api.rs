//! Whether the API takes the token: an AirVantage region's API, or any API URL the user names.
//! The token goes only to that origin.

use serde_json::Value;
use tokensmith_airvantage::{Region, TOKEN_PATH};
use tokensmith_http::{display_url, read_limited};
use url::Url;

use super::DoctorArgs;
use super::diagnose::{Code, Probe, Shape, Style, Verdict};
use super::probe::{Client, Sent};
use crate::UsageError;
use crate::out::{Mark, Out};
use crate::safe::one_line;

/// The most of an API answer read.
const MAX_ANSWER: usize = 16 * 1024;

/// An API's answer to the token: status, its `error` code (JSON body), and the
/// `WWW-Authenticate` challenge.
struct ApiAnswer {
    status: u16,
    code: String,
    challenge: String,
}

async fn call(
    http: &reqwest::Client,
    url: &Url,
    token: &str,
    sent: &mut Vec<Sent>,
) -> Result<ApiAnswer, String> {
    let response = http
        .get(url.clone())
        .bearer_auth(token)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| one_line(&e.without_url().to_string(), 160))?;
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(|v| one_line(v, 300))
        .unwrap_or_default();
    let body = read_limited(http::Response::from(response).into_body(), MAX_ANSWER)
        .await
        .unwrap_or_default();
    let code = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| match v.get("error") {
            Some(Value::String(code)) => Some(code.clone()),
            Some(Value::Object(inner)) => {
                inner.get("code").and_then(Value::as_str).map(str::to_owned)
            }
            _ => None,
        })
        .map(|code| one_line(&code, 80))
        .unwrap_or_default();
    sent.push(Sent {
        method: "GET",
        url: display_url(url),
        placement: vec!["Authorization: Bearer (the token) in a header".into()],
        answer: format!("{status} {code}").trim_end().to_owned(),
        curl: format!(
            "curl -sS -H \"Authorization: Bearer $TOKEN\" {}",
            crate::safe::shell_quote(&display_url(url))
        ),
    });
    Ok(ApiAnswer {
        status,
        code,
        challenge,
    })
}

/// A parameter of a `WWW-Authenticate` challenge (`error="invalid_token"`), unquoted.
fn auth_param(challenge: &str, name: &str) -> Option<String> {
    let lower = challenge.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(name) {
        let start = from + at;
        from = start + name.len();
        let before = lower[..start].chars().last();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = challenge[from..].trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => return Some(value),
                    c => value.push(c),
                }
            }
            return Some(value);
        }
        return Some(rest.split([',', ' ']).next().unwrap_or_default().to_owned());
    }
    None
}

/// The verdict for an API that refused the token, from its challenge and body.
fn refused(answer: &ApiAnswer, api: &str) -> Verdict {
    let error = auth_param(&answer.challenge, "error").unwrap_or_else(|| answer.code.clone());
    let description = auth_param(&answer.challenge, "error_description").unwrap_or_default();
    let wanted = auth_param(&answer.challenge, "scope");
    let detail = if description.is_empty() {
        String::new()
    } else {
        format!(": {}", one_line(&description, 160))
    };
    let (cause, fix) = if error.eq_ignore_ascii_case("insufficient_scope") || answer.status == 403 {
        (
            format!(
                "{api} accepts the token but it lacks the scope the API wants ({} {error}{detail}{}).",
                answer.status,
                wanted
                    .as_deref()
                    .map(|s| format!("; it asks for `{}`", one_line(s, 120)))
                    .unwrap_or_default()
            ),
            "Ask for that scope (--scope) and grant it to the client in the vendor's console."
                .to_owned(),
        )
    } else {
        (
            format!(
                "{api} refuses the token ({} {error}{detail}): it is most likely for another \
                 audience or resource, or from an issuer the API does not trust.",
                answer.status
            ),
            "Ask for a token for this API: the `audience` or `resource` parameter (RFC 8707) or \
             the scope that names it, as the vendor documents."
                .to_owned(),
        )
    };
    Verdict {
        code: Code::ApiRefusedToken,
        cause,
        fix,
        config: Some(
            "ClientCredentials::new(endpoint).param(\"audience\", …) or .resource(…) / .scope([...])"
                .into(),
        ),
    }
}

/// Calls `api` with the token: `None` when it takes it, else the verdict.
pub(super) async fn check(
    http: &reqwest::Client,
    api: &Url,
    token: &str,
    out: &Out,
    sent: &mut Vec<Sent>,
) -> Option<Verdict> {
    out.heading("the API");
    match call(http, api, token, sent).await {
        Ok(answer) if (200..300).contains(&answer.status) => {
            out.mark(
                Mark::Ok,
                &format!("the API accepts the token ({})", answer.status),
            );
            None
        }
        Ok(answer) if matches!(answer.status, 401 | 403) => Some(refused(&answer, "The API")),
        Ok(answer) => {
            out.mark(
                Mark::Warn,
                &format!(
                    "the API answered {} {}: not a refusal of the token; check the URL",
                    answer.status, answer.code
                ),
            );
            None
        }
        Err(why) => {
            out.mark(Mark::Warn, &format!("the API cannot be reached: {why}"));
            None
        }
    }
}

/// The URL of `path` on `region`'s host; a path that leads to another origin is refused.
fn on_region(region: &Region, path: &str) -> Result<Url, UsageError> {
    let base = Url::parse(region.base_url().as_str())
        .map_err(|e| UsageError(format!("the region's URL: {e}")))?;
    let url = base
        .join(path.trim_start_matches('/'))
        .map_err(|e| UsageError(format!("--api-path: {e}")))?;
    if url.origin() != base.origin() {
        return Err(UsageError(format!(
            "--api-path must stay on {}: the token goes nowhere else",
            display_url(&base)
        )));
    }
    Ok(url)
}

/// AirVantage: does the API of the region asked for know a token from this region?
pub(super) async fn airvantage(
    client: &Client<'_>,
    region: &Region,
    args: &DoctorArgs,
    token: &str,
    sent: &mut Vec<Sent>,
) -> Result<Option<Verdict>, UsageError> {
    let Some(path) = &args.api_path else {
        return Ok(None);
    };
    let out = client.out;
    out.heading("AirVantage region");
    let api_region = match &args.api_region {
        Some(text) => text
            .parse::<Region>()
            .map_err(|e| UsageError(e.to_string()))?,
        None => region.clone(),
    };
    let url = on_region(&api_region, path)?;
    let answer = match call(client.http, &url, token, sent).await {
        Ok(answer) => answer,
        Err(why) => {
            out.mark(Mark::Warn, &format!("the API cannot be reached: {why}"));
            return Ok(None);
        }
    };
    if (200..300).contains(&answer.status) {
        out.mark(
            Mark::Ok,
            &format!("the {api_region} API accepts a token from {region}"),
        );
        return Ok(None);
    }
    if answer.code != "context.unknown" {
        return Ok(Some(refused(&answer, &format!("The {api_region} API"))));
    }
    let mut fix = "Use one region for the token and the API: the one the account was created in \
                   (AirVantage accounts live in one region, and its tokens work there only)."
        .to_owned();
    if api_region != *region && works_in(client, &api_region, &url, sent).await {
        let line = format!(
            "these credentials work in {api_region}: use --region {api_region} \
             (Region::{api_region:?}) for both the token and the API"
        );
        out.mark(Mark::Info, &line);
        fix = format!("Use {api_region} for both the token and the API (Region::{api_region:?}).");
    }
    Ok(Some(Verdict {
        code: Code::WrongRegion,
        cause: format!(
            "The {api_region} API does not know a token from {region} (`context.unknown`)."
        ),
        fix,
        config: Some("AirVantage::builder(Region::…) with the account's region".into()),
    }))
}

/// Whether the client gets a token from `region` (the standard request, as the first probe
/// sends it) that its API takes.
async fn works_in(client: &Client<'_>, region: &Region, api: &Url, sent: &mut Vec<Sent>) -> bool {
    let Ok(token_url) = region
        .base_url()
        .join(TOKEN_PATH)
        .map(|u| Url::parse(u.as_str()))
    else {
        return false;
    };
    let Ok(token_url) = token_url else {
        return false;
    };
    let other = Client {
        url: &token_url,
        ..*client
    };
    let outcome = other
        .send(Probe {
            style: Style::Basic,
            shape: Shape::Form,
        })
        .await;
    sent.push(outcome.sent);
    let Some(token) = outcome.token else {
        return false;
    };
    call(client.http, api, &token, sent)
        .await
        .is_ok_and(|answer| (200..300).contains(&answer.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_parameters_quoted_and_not() {
        let challenge = r#"Bearer realm="api", error="insufficient_scope", scope="read \"all\"", error_description=x"#;
        assert_eq!(
            auth_param(challenge, "error").as_deref(),
            Some("insufficient_scope")
        );
        assert_eq!(
            auth_param(challenge, "scope").as_deref(),
            Some(r#"read "all""#)
        );
        assert_eq!(
            auth_param(challenge, "error_description").as_deref(),
            Some("x")
        );
        assert_eq!(auth_param(challenge, "nonce"), None);
    }

    #[test]
    fn an_api_path_cannot_leave_the_region() {
        let region: Region = "https://eu.example/".parse().unwrap();
        assert!(on_region(&region, "api/v1/users").is_ok());
        let relative = on_region(&region, "//evil.example/x").unwrap();
        assert_eq!(
            relative.host_str(),
            Some("eu.example"),
            "a path, not a host"
        );
        assert!(on_region(&region, "https://evil.example/x").is_err());
    }
}
