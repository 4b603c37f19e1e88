//! `tokensmith doctor`: tries a token endpoint the ways servers differ, reasons over all the
//! answers together, and says in one line what is wrong, how to fix it and which tokensmith
//! configuration works.
//!
//! Only grants that can be repeated safely are used (client credentials, password). The probes
//! are bounded ([`diagnose::MAX_PROBES`] requests, each with a timeout), never follow a
//! redirect, never put a secret in a URL, and never send one over plain http to a host that is
//! not this machine. Every request is listed (method, URL without secrets, which parameters
//! went where) and, with `--curl`, printed as a curl command with the secrets as environment
//! variables. Nothing secret is printed in any format.

mod api;
mod confirm;
mod diagnose;
mod probe;

use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::json;
use tokensmith_airvantage::{Region, TOKEN_PATH};
use tokensmith_core::{RetryPolicy, TokenSource};
use tokensmith_http::display_url;
use tokensmith_oauth2::{ClientCredentials, Password, TokenEndpoint};
use url::Url;

use self::confirm::{read_with_tokensmith, shape_name};
use self::diagnose::{Attempt, Context, Diagnosis, Note, Seen, Shape, Style, Verdict};
pub(crate) use self::diagnose::{Code, from_oauth_error};
use self::probe::{Client, Sent};
use crate::decode::span;
use crate::endpoint::{self, EndpointArgs};
use crate::out::{Mark, Out};
use crate::{Outcome, UsageError};

/// The `--json` document's schema name; its fields are listed in the README.
const SCHEMA: &str = "tokensmith-doctor/1";

#[derive(Args, Debug)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// The grant to try: only grants that can be repeated safely.
    #[arg(long, value_enum, default_value = "client_credentials")]
    grant: DoctorGrant,
    /// A vendor whose rules the doctor knows.
    #[arg(long, value_enum)]
    vendor: Option<Vendor>,
    /// The vendor's region (`na`, `eu`, or a base URL) whose token endpoint to check.
    #[arg(long)]
    region: Option<String>,
    /// The region whose API the token is used against (default: --region).
    #[arg(long)]
    api_region: Option<String>,
    /// An API path on the region's host to call with the token (`api/v1/users/current`), to
    /// check that the API accepts it.
    #[arg(long)]
    api_path: Option<String>,
    /// An API URL to call (GET) with the token, to check that the API accepts it: its answer
    /// tells a token for the wrong audience or without the scope the API wants.
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// Seconds to wait for each answer (1 to 60).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=60))]
    timeout: u64,
    /// Prints every request as a curl command, secrets as $TOKENSMITH_CLIENT_SECRET and
    /// $TOKENSMITH_PASSWORD.
    #[arg(long)]
    curl: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DoctorGrant {
    #[value(name = "client_credentials", alias = "client-credentials")]
    ClientCredentials,
    Password,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Vendor {
    /// AirVantage: regions `na` and `eu`, token endpoint at `api/oauth/token`.
    Airvantage,
    /// A generic Basic-client vendor: its error shapes and hints (`tokensmith-basic`).
    Basic,
}

/// Whether plain http may carry secrets to `url`.
fn check_transport(url: &Url, insecure: bool, what: &str) -> Result<(), UsageError> {
    if tokensmith_http::secure_or_loopback(url) || insecure {
        return Ok(());
    }
    Err(UsageError(format!(
        "refusing plain http to {} ({what}): secrets would cross the network unencrypted \
         (--insecure-http for a closed test network)",
        url.host_str().unwrap_or("")
    )))
}

pub(crate) async fn run(args: DoctorArgs, out: &Out) -> Result<Outcome, UsageError> {
    let region = match (&args.vendor, &args.region) {
        (Some(Vendor::Airvantage), Some(region)) => Some(
            region
                .parse::<Region>()
                .map_err(|e| UsageError(e.to_string()))?,
        ),
        (Some(Vendor::Airvantage), None) => {
            return Err(UsageError(
                "--vendor airvantage needs --region (na, eu or a URL)".into(),
            ));
        }
        (_, Some(_)) => return Err(UsageError("--region needs --vendor airvantage".into())),
        (_, None) => None,
    };
    if args.api_path.is_some() && region.is_none() {
        return Err(UsageError(
            "--api-path is a path on an AirVantage region's host (--vendor airvantage \
             --region); for any other API give --api-url"
                .into(),
        ));
    }
    let url_text = match (&region, &args.endpoint.token_url) {
        (Some(region), None) => region
            .base_url()
            .join(TOKEN_PATH)
            .map_err(|e| UsageError(e.to_string()))?
            .to_string(),
        (_, Some(url)) => url.clone(),
        (None, None) => match &args.endpoint.issuer {
            Some(issuer) => {
                let mut builder = tokensmith_oauth2::Issuer::builder(issuer);
                if args.endpoint.insecure_http {
                    builder = builder.danger_allow_insecure_http();
                }
                builder
                    .build()?
                    .metadata()
                    .await?
                    .token_endpoint
                    .clone()
                    .ok_or_else(|| {
                        UsageError("the issuer's metadata names no token endpoint".into())
                    })?
            }
            None => {
                return Err(UsageError(
                    "say which token endpoint to check: --token-url URL, --issuer URL, or \
                     --vendor and --region"
                        .into(),
                ));
            }
        },
    };
    let url = Url::parse(url_text.trim())
        .map_err(|e| UsageError(format!("the token endpoint URL is not a URL: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UsageError(
            "the token endpoint URL has a user name or password in it: give the client id with \
             --client-id and the secret in TOKENSMITH_CLIENT_SECRET"
                .into(),
        ));
    }
    check_transport(&url, args.endpoint.insecure_http, "the token endpoint")?;
    let api_url = match &args.api_url {
        Some(text) => {
            let api = Url::parse(text.trim())
                .map_err(|e| UsageError(format!("--api-url is not a URL: {e}")))?;
            check_transport(&api, args.endpoint.insecure_http, "the API")?;
            Some(api)
        }
        None => None,
    };
    let client_id = args.endpoint.client_id()?.to_owned();
    let secret = endpoint::client_secret(&client_id, true, out)?.unwrap_or_default();
    let (username, password) = match args.grant {
        DoctorGrant::Password => {
            let username = args
                .endpoint
                .username
                .clone()
                .ok_or_else(|| UsageError("--grant password needs --username".into()))?;
            let password = endpoint::password(&username, out)?;
            (Some(username), Some(password))
        }
        DoctorGrant::ClientCredentials => (None, None),
    };
    let scopes = endpoint::scopes(&args.endpoint);
    let scope = (!scopes.is_empty()).then(|| scopes.join(" "));
    let headers = endpoint::headers(&args.endpoint, out)?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(args.timeout))
        .user_agent(concat!("tokensmith-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| UsageError(format!("cannot build the HTTP client: {e}")))?;
    let grant = match args.grant {
        DoctorGrant::ClientCredentials => "client_credentials",
        DoctorGrant::Password => "password",
    };
    let special = |s: &str| {
        s.chars()
            .any(|c| !c.is_ascii_alphanumeric() && !"-._~*".contains(c))
    };
    let context = Context {
        grant: grant.to_owned(),
        scope: scope.clone(),
        special_characters: special(&client_id) || special(&secret),
        headers: headers.iter().map(|(name, _, _)| name.clone()).collect(),
    };
    let client = Client {
        http: &http,
        url: &url,
        client_id: &client_id,
        secret: &secret,
        username: username.as_deref(),
        password: password.as_deref(),
        grant,
        scope: scope.as_deref(),
        headers: &headers,
        out,
    };
    out.heading(&format!("tokensmith doctor: {}", display_url(&url)));
    out.heading("requests and answers");
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut sent: Vec<Sent> = Vec::new();
    let mut findings: Vec<(Mark, String)> = Vec::new();
    let find = |mark: Mark, text: String, findings: &mut Vec<(Mark, String)>| {
        out.mark(mark, &text);
        findings.push((mark, text));
    };
    let mut raw_token = None;
    while let Some(probe) = diagnose::next_probe(&attempts, &context) {
        let outcome = client.send(probe).await;
        let mark = match outcome.seen {
            Seen::Token { .. } => Mark::Ok,
            _ => Mark::Warn,
        };
        find(
            mark,
            format!(
                "{} with {}: {}",
                shape_name(probe.shape),
                probe.style.name(),
                outcome.seen.summary()
            ),
            &mut findings,
        );
        if outcome.token.is_some() {
            raw_token = outcome.token;
        }
        sent.push(outcome.sent);
        attempts.push(Attempt {
            probe,
            seen: outcome.seen,
        });
    }
    let mut diagnosis = diagnose::diagnose(&attempts, &context);
    // tokensmith itself, with what worked (or the standard request, for its hint).
    let tokensmith_style = match diagnosis.best {
        Some(probe) if probe.shape == Shape::Form => Some(probe.style),
        Some(_) => None,
        None if attempts
            .iter()
            .any(|a| matches!(a.seen, Seen::OAuth { .. })) =>
        {
            Some(Style::Basic)
        }
        None => None,
    };
    let mut tokensmith_ok = false;
    let mut token = raw_token;
    if let Some(style) = tokensmith_style {
        out.heading("tokensmith");
        let read = read_with_tokensmith(&client, style, &args, out).await;
        sent.push(read.sent);
        for (mark, text) in read.findings {
            find(mark, text, &mut findings);
        }
        if let Some(read) = read.token {
            tokensmith_ok = true;
            token = Some(read);
        }
    }
    if let Some(token) = token.as_deref()
        && diagnosis.verdict.code.works()
    {
        let checked = match (&region, &api_url) {
            (Some(region), _) if args.api_path.is_some() => {
                api::airvantage(&client, region, &args, token, &mut sent).await?
            }
            (_, Some(api)) => api::check(&http, api, token, out, &mut sent).await,
            _ => None,
        };
        if let Some(verdict) = checked {
            if diagnosis.verdict.code != Code::Ok {
                diagnosis.notes.push(Note {
                    code: diagnosis.verdict.code.as_str(),
                    text: diagnosis.verdict.line(),
                });
            }
            diagnosis.verdict = verdict;
        }
    }
    let ok = diagnosis.verdict.code.works() && tokensmith_ok;
    report(
        out,
        &url,
        &diagnosis,
        &sent,
        &findings,
        ok,
        args.curl,
        tokensmith_style.filter(|_| tokensmith_ok),
    );
    Ok(if ok { Outcome::Ok } else { Outcome::Refused })
}

#[allow(clippy::too_many_arguments)]
fn report(
    out: &Out,
    url: &Url,
    diagnosis: &Diagnosis,
    sent: &[Sent],
    findings: &[(Mark, String)],
    ok: bool,
    curl: bool,
    style: Option<Style>,
) {
    out.heading("requests sent");
    for (n, sent) in sent.iter().enumerate() {
        out.line(&format!("  {}. {} {}", n + 1, sent.method, sent.url));
        for place in &sent.placement {
            out.line(&format!("       {place}"));
        }
        out.line(&format!("       -> {}", sent.answer));
        if curl && !sent.curl.is_empty() {
            out.line(&format!("       $ {}", sent.curl));
        }
    }
    let verdict: &Verdict = &diagnosis.verdict;
    out.line("");
    out.mark(
        if ok { Mark::Ok } else { Mark::Fail },
        &format!("verdict {}", verdict.line()),
    );
    for note in &diagnosis.notes {
        out.mark(Mark::Info, &format!("note [{}] {}", note.code, note.text));
    }
    out.document(&json!({
        "schema": SCHEMA,
        "ok": ok,
        "endpoint": display_url(url),
        "verdict": {
            "code": verdict.code.as_str(),
            "cause": verdict.cause,
            "fix": verdict.fix,
            "config": verdict.config,
        },
        "notes": diagnosis.notes.iter().map(|n| json!({"code": n.code, "message": n.text})).collect::<Vec<_>>(),
        "client_authentication": style.map(Style::name),
        "requests": sent.iter().map(|s| json!({
            "method": s.method,
            "url": s.url,
            "placement": s.placement,
            "answer": s.answer,
            "curl": (!s.curl.is_empty()).then_some(&s.curl),
        })).collect::<Vec<_>>(),
        "findings": findings.iter().map(|(mark, text)| json!({"level": mark.name(), "message": text})).collect::<Vec<_>>(),
    }));
}
