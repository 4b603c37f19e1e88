//! `tokensmith token`: gets a token with one of the grants and describes it.

use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use time::UtcOffset;
use tokensmith_core::{AccessToken, Error, ErrorKind, TokenSource};
use tokensmith_oauth2::{
    AuthorizationCode, Callback, ClientAuth, ClientCredentials, DeviceAuthorization, Password,
    TokenEndpoint, TokenResponse,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::decode::{self, span};
use crate::endpoint::{self, AuthArg, EndpointArgs};
use crate::out::{Mark, Out};
use crate::{Outcome, UsageError};

/// How long the code grant waits for the browser to come back.
const CALLBACK_WAIT: Duration = Duration::from_secs(300);
/// The most of a callback request read.
const MAX_CALLBACK: usize = 16 * 1024;
/// How long a connection to the redirect listener may take to send its request.
const IDLE: Duration = Duration::from_secs(10);
/// The most connections to the redirect listener served at once.
const MAX_CONNECTIONS: usize = 16;

#[derive(Args, Debug)]
pub(crate) struct TokenArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// The grant.
    #[arg(long, value_enum, default_value = "client_credentials")]
    grant: GrantArg,
    /// How the client authenticates (auto: Basic, then the body; none: a public client).
    #[arg(long, value_enum, default_value = "auto")]
    auth: AuthArg,
    /// Prints the token itself; it is masked otherwise.
    #[arg(long)]
    show_token: bool,
    /// The device authorization endpoint (device grant), unless --issuer names it.
    #[arg(long, value_name = "URL")]
    device_url: Option<String>,
    /// The authorization endpoint (code grant), unless --issuer names it.
    #[arg(long, value_name = "URL")]
    authorize_url: Option<String>,
    /// The loopback port for the code grant's redirect URI (0: any free port).
    #[arg(long, default_value_t = 0)]
    redirect_port: u16,
    /// Does not try to open a browser for the code grant; the URL is printed either way.
    #[arg(long)]
    no_browser: bool,
    /// The workload grant's platform token: `file:PATH` (read through symlinks, as Kubernetes
    /// rotates it), `spiffe:PATH` (a SPIFFE JWT-SVID file), `env:VAR`, or `github[:AUDIENCE]`
    /// (the GitHub Actions OIDC token).
    #[arg(long, value_name = "SOURCE")]
    identity_token: Option<String>,
    /// How the workload grant uses the platform token.
    #[arg(long, value_enum, default_value = "assertion")]
    workload_as: WorkloadUse,
    /// The platform token's type in a token exchange.
    #[arg(long, value_enum, default_value = "jwt")]
    subject_token_type: SubjectType,
    /// The target service of a token exchange (`audience`); repeat for several.
    #[arg(long)]
    audience: Vec<String>,
    /// A preset for the workload grant: `azure` reads AZURE_FEDERATED_TOKEN_FILE,
    /// AZURE_CLIENT_ID, AZURE_TENANT_ID (and AZURE_AUTHORITY_HOST) as the webhook sets them.
    #[arg(long, value_enum)]
    preset: Option<Preset>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum WorkloadUse {
    /// The client assertion (RFC 7523 §2.2), with the client credentials grant.
    Assertion,
    /// The JWT bearer grant (RFC 7523 §2.1).
    #[value(name = "jwt-bearer")]
    JwtBearer,
    /// Token exchange (RFC 8693).
    Exchange,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SubjectType {
    Jwt,
    #[value(name = "id_token", alias = "id-token")]
    IdToken,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    /// Azure workload identity: the federated token file as the client assertion at Entra ID.
    Azure,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GrantArg {
    /// The client on its own behalf (RFC 6749 §4.4).
    #[value(name = "client_credentials", alias = "client-credentials")]
    ClientCredentials,
    /// A user's name and password (RFC 6749 §4.3).
    Password,
    /// Sign-in on another device with a code (RFC 8628).
    Device,
    /// Sign-in in a browser, with PKCE, back to a loopback redirect URI (RFC 8252).
    Code,
    /// The platform's workload identity token instead of a secret (--identity-token, or
    /// --preset azure).
    Workload,
}

/// What a grant gave.
struct Got {
    access: AccessToken,
    refresh: bool,
    extra: serde_json::Map<String, Value>,
    /// The workload grant's platform token, described (never the token itself).
    platform: Option<Value>,
}

impl From<TokenResponse> for Got {
    fn from(response: TokenResponse) -> Self {
        let (access, refresh, extra) = response.into_parts();
        Self {
            access,
            refresh: refresh.is_some(),
            extra,
            platform: None,
        }
    }
}

pub(crate) async fn run(
    args: TokenArgs,
    out: &Out,
    offset: UtcOffset,
) -> Result<Outcome, UsageError> {
    if let GrantArg::Workload = args.grant {
        return match workload(&args, out).await? {
            Ok(got) => {
                show(&got, args.show_token, out, offset);
                Ok(Outcome::Ok)
            }
            Err(error) => failed(&error, "workload", out),
        };
    }
    let user_grant = matches!(args.grant, GrantArg::Device | GrantArg::Code);
    let secret = match args.auth {
        AuthArg::None => None,
        // A user-facing grant without a secret is a public client.
        AuthArg::Auto if user_grant => {
            endpoint::client_secret(&args.endpoint.client_id, false, out)?
        }
        _ => endpoint::client_secret(&args.endpoint.client_id, true, out)?,
    };
    let mut builder = endpoint::builder(&args.endpoint, out).await?;
    let auth = match (&secret, args.auth) {
        (None, _) => ClientAuth::None,
        (Some(_), auth) => auth.client_auth(),
    };
    builder = builder.auth(auth);
    if let Some(secret) = secret {
        builder = builder.client_secret(secret);
    }
    let endpoint = builder.build()?;
    let scopes = endpoint::scopes(&args.endpoint);
    let got = match args.grant {
        GrantArg::ClientCredentials => ClientCredentials::new(endpoint)
            .scope(&scopes)
            .build_source()
            .fetch()
            .await
            .map(|access| Got {
                access,
                refresh: false,
                extra: Default::default(),
                platform: None,
            }),
        GrantArg::Password => {
            let username = args
                .endpoint
                .username
                .clone()
                .ok_or_else(|| UsageError("the password grant needs --username".into()))?;
            let password = endpoint::password(&username, out)?;
            let source = Password::new(endpoint, username, password)
                .scope(&scopes)
                .build_source();
            match source.fetch().await {
                Ok(access) => Ok(Got {
                    access,
                    refresh: source.refresh_token().is_some(),
                    extra: Default::default(),
                    platform: None,
                }),
                Err(e) => Err(e),
            }
        }
        GrantArg::Device => device(&args, endpoint, &scopes, out).await.map(Got::from),
        GrantArg::Code => code(&args, endpoint, &scopes, out).await.map(Got::from),
        // Taken before the secret is read, above.
        GrantArg::Workload => Err(Error::config("the workload grant runs on its own path")),
    };
    match got {
        Ok(got) => {
            show(&got, args.show_token, out, offset);
            Ok(Outcome::Ok)
        }
        Err(error) => failed(&error, grant_name(args.grant), out),
    }
}

/// The `grant_type` of a grant.
fn grant_name(grant: GrantArg) -> &'static str {
    match grant {
        GrantArg::ClientCredentials => "client_credentials",
        GrantArg::Password => "password",
        GrantArg::Device => "urn:ietf:params:oauth:grant-type:device_code",
        GrantArg::Code => "authorization_code",
        GrantArg::Workload => "workload",
    }
}

/// The platform token source named by `--identity-token`.
fn identity_source(text: &str) -> Result<tokensmith_workload::WorkloadIdentity, UsageError> {
    use tokensmith_workload::WorkloadIdentity;
    let (kind, rest) = text.split_once(':').unwrap_or((text, ""));
    match kind {
        "file" if !rest.is_empty() => Ok(WorkloadIdentity::file(rest)),
        "spiffe" if !rest.is_empty() => Ok(WorkloadIdentity::spiffe_jwt_svid_file(rest)),
        "env" if !rest.is_empty() => Ok(WorkloadIdentity::env(rest)),
        "github" => Ok(WorkloadIdentity::github_actions(
            (!rest.is_empty()).then_some(rest),
        )?),
        _ => Err(UsageError(
            "--identity-token wants file:PATH, spiffe:PATH, env:VAR or github[:AUDIENCE]".into(),
        )),
    }
}

/// The workload grant: reads the platform token, says what it read (masked), and trades it.
async fn workload(args: &TokenArgs, out: &Out) -> Result<Result<Got, Error>, UsageError> {
    use tokensmith_core::ExposeSecret as _;
    use tokensmith_workload::{WorkloadGrant, azure};
    let scopes = endpoint::scopes(&args.endpoint);
    let (identity, endpoint) = match (args.preset, &args.identity_token) {
        (Some(Preset::Azure), None) => {
            let endpoint = azure::from_env()?;
            let file = std::env::var(azure::TOKEN_FILE_VAR).unwrap_or_default();
            (
                tokensmith_workload::WorkloadIdentity::file(file),
                Some(endpoint),
            )
        }
        (Some(_), Some(_)) => {
            return Err(UsageError(
                "--preset names where the platform token is: leave out --identity-token".into(),
            ));
        }
        (None, Some(source)) => (identity_source(source)?, None),
        (None, None) => {
            return Err(UsageError(
                "the workload grant needs --identity-token (file:PATH, spiffe:PATH, env:VAR, \
                 github[:AUDIENCE]) or --preset azure"
                    .into(),
            ));
        }
    };
    out.heading("platform token");
    let platform = match identity.token().await {
        Ok(platform) => platform,
        Err(error) => return Ok(Err(error)),
    };
    out.secrets().add(platform.secret().expose_secret());
    let expires = platform.expires_at().map_or("not stated".to_owned(), |at| {
        match at.duration_since(std::time::SystemTime::now()) {
            Ok(left) => format!("in {}", span(left.as_secs())),
            Err(_) => "expired".to_owned(),
        }
    });
    let described = json!({
        "read_from": identity.source_name(),
        "issuer": platform.issuer(),
        "subject": platform.subject(),
        "audience": platform.audiences(),
        "expires_in": platform
            .expires_at()
            .and_then(|at| at.duration_since(std::time::SystemTime::now()).ok())
            .map(|left| left.as_secs()),
    });
    out.rows(&[
        ("read from", identity.source_name()),
        ("issuer", platform.issuer().unwrap_or("-").to_owned()),
        ("subject", platform.subject().unwrap_or("-").to_owned()),
        ("audience", platform.audiences().join(", ")),
        ("expires", expires),
        (
            "token",
            format!(
                "[masked: {} characters]",
                platform.secret().expose_secret().len()
            ),
        ),
    ]);
    let endpoint = match endpoint {
        Some(endpoint) => endpoint,
        None => {
            let mut builder = endpoint::builder(&args.endpoint, out).await?;
            match args.workload_as {
                WorkloadUse::Assertion => builder = builder.client_assertion(identity.clone()),
                WorkloadUse::JwtBearer | WorkloadUse::Exchange => {
                    builder = match endpoint::client_secret(&args.endpoint.client_id, false, out)? {
                        Some(secret) => builder.client_secret(secret).auth(args.auth.client_auth()),
                        None => builder.auth(tokensmith_oauth2::ClientAuth::None),
                    };
                }
            }
            builder.build()?
        }
    };
    let subject_type = match args.subject_token_type {
        SubjectType::Jwt => tokensmith_oauth2::token_type::JWT,
        SubjectType::IdToken => tokensmith_oauth2::token_type::ID_TOKEN,
    };
    let fetched = match (args.preset, args.workload_as) {
        (Some(Preset::Azure), _) | (None, WorkloadUse::Assertion) => {
            ClientCredentials::new(endpoint)
                .scope(&scopes)
                .build_source()
                .fetch()
                .await
        }
        (None, WorkloadUse::JwtBearer) => {
            WorkloadGrant::jwt_bearer(endpoint, identity)
                .scope(scopes)
                .fetch()
                .await
        }
        (None, WorkloadUse::Exchange) => {
            let mut grant =
                WorkloadGrant::token_exchange(endpoint, identity, subject_type).scope(scopes);
            for audience in &args.audience {
                grant = grant.audience(audience.clone());
            }
            grant.fetch().await
        }
    };
    Ok(fetched.map(|access| Got {
        access,
        refresh: false,
        extra: Default::default(),
        platform: Some(described),
    }))
}

/// Reports a failure: a configuration error is a usage error (exit 2), the rest a refusal,
/// with the doctor's verdict when the server's error names a cause it knows.
pub(crate) fn failed(error: &Error, grant: &str, out: &Out) -> Result<Outcome, UsageError> {
    if matches!(error.kind(), ErrorKind::Config { .. }) {
        return Err(UsageError(error.to_string()));
    }
    out.mark(Mark::Fail, &error.to_string());
    let verdict = error.oauth().and_then(|oauth| {
        crate::doctor::from_oauth_error(
            error.status().map_or(400, |s| s.as_u16()),
            oauth.code.as_str(),
            oauth.description.as_deref().unwrap_or(""),
            grant,
        )
    });
    if let Some(verdict) = &verdict {
        out.mark(Mark::Info, &format!("verdict {}", verdict.line()));
    }
    out.document(&json!({
        "ok": false,
        "error": error.to_string(),
        "hint": error.hint(),
        "verdict": verdict.as_ref().map(|v| json!({
            "code": v.code.as_str(),
            "cause": v.cause,
            "fix": v.fix,
            "config": v.config,
        })),
    }));
    if !out.json() {
        crate::out::note!("tokensmith: no token");
    }
    Ok(Outcome::Refused)
}

fn show(got: &Got, show_token: bool, out: &Out, offset: UtcOffset) {
    let token = &got.access;
    let secret = token.secret().expose_secret();
    let lifetime = token
        .lifetime()
        .map_or("not stated (expires_in absent)".to_owned(), |l| {
            format!("{} ({} s)", span(l.as_secs()), l.as_secs())
        });
    let scopes = if token.scopes().is_empty() {
        "(none stated)".to_owned()
    } else {
        token.scopes().join(" ")
    };
    let shown = if show_token {
        secret.to_owned()
    } else {
        format!(
            "[masked: {} characters; --show-token prints it]",
            secret.len()
        )
    };
    out.heading("token");
    let mut rows = vec![
        ("type", token.token_type().to_string()),
        ("lifetime", lifetime),
        ("scopes", scopes),
        (
            "refresh token",
            if got.refresh {
                "issued (not shown)"
            } else {
                "none"
            }
            .to_owned(),
        ),
        ("access token", shown),
    ];
    if let Some(kind) = got.extra.get("issued_token_type").and_then(Value::as_str) {
        rows.push(("issued type", kind.to_owned()));
    }
    if got.extra.contains_key("id_token") {
        rows.push(("id token", "issued (not shown)".to_owned()));
    }
    out.rows(&rows);
    let (decoded_rows, decoded) = decode::describe(secret, offset);
    out.heading("what the access token says");
    out.rows(&decoded_rows);
    let mut document = json!({
        "ok": true,
        "token_type": token.token_type().to_string(),
        "expires_in": token.lifetime().map(|l| l.as_secs()),
        "scopes": token.scopes(),
        "refresh_token": got.refresh,
        "decoded": decoded,
    });
    if show_token {
        document["access_token"] = secret.into();
    }
    if let Some(platform) = &got.platform {
        document["platform_token"] = platform.clone();
    }
    out.document(&document);
}

async fn device(
    args: &TokenArgs,
    endpoint: TokenEndpoint,
    scopes: &[String],
    out: &Out,
) -> Result<TokenResponse, Error> {
    let flow = match &args.device_url {
        Some(url) => DeviceAuthorization::new(endpoint, url)?,
        None => DeviceAuthorization::discovered(endpoint).map_err(|e| {
            e.with_hint("give --device-url, or --issuer for a server that publishes it")
        })?,
    }
    .scope(scopes);
    let run = flow.run(|prompt| {
        let uri = prompt
            .verification_uri_complete
            .as_deref()
            .unwrap_or(&prompt.verification_uri);
        // To standard error, so that --json output stays one document; server text cleaned.
        out.note(&format!("open {}", crate::safe::one_line(uri, 2000)));
        out.note(&format!(
            "and enter the code: {}",
            crate::safe::one_line(&prompt.user_code, 100)
        ));
        out.note(&format!(
            "(the code is good for {}; waiting for you to approve)",
            span(prompt.expires_in.as_secs())
        ));
    });
    let mut run = std::pin::pin!(run);
    let frames = ['|', '/', '-', '\\'];
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut n = 0usize;
    let result = loop {
        tokio::select! {
            result = &mut run => break result,
            _ = tick.tick() => {
                out.progress(&format!("{} waiting for approval", frames[n % frames.len()]));
                n += 1;
            }
        }
    };
    out.progress("");
    result
}

async fn code(
    args: &TokenArgs,
    endpoint: TokenEndpoint,
    scopes: &[String],
    out: &Out,
) -> Result<TokenResponse, Error> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.redirect_port))
        .await
        .map_err(|e| {
            Error::config(format!(
                "cannot listen on 127.0.0.1:{}: {e}",
                args.redirect_port
            ))
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::other(format!("no local address: {e}")))?
        .port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let flow = match &args.authorize_url {
        Some(url) => AuthorizationCode::new(endpoint, url, &redirect)?,
        None => AuthorizationCode::discovered(endpoint, &redirect).map_err(|e| {
            e.with_hint("give --authorize-url, or --issuer for a server that publishes it")
        })?,
    }
    .scope(scopes);
    let pending = flow.start()?;
    out.note(&format!("sign in at: {}", pending.url()));
    out.note(&format!("(waiting for the browser at {redirect})"));
    if !args.no_browser {
        let header_vars: Vec<&str> = args
            .endpoint
            .headers
            .iter()
            .filter_map(|h| h.split_once(":env:").map(|(_, var)| var.trim()))
            .collect();
        open_browser(pending.url().as_str(), &header_vars);
    }
    out.progress("waiting for the sign-in to come back");
    let query = tokio::time::timeout(CALLBACK_WAIT, callback(&listener, pending.state()))
        .await
        .map_err(|_| {
            Error::timeout(&redirect, CALLBACK_WAIT)
                .with_hint("the browser never came back to the redirect URI")
        })??;
    out.progress("");
    pending.finish(Callback::from_query(&query)).await
}

/// The query of the first request to `/callback` that carries this sign-in's `state`,
/// answered with a short page. Each connection is served on its own task, so that one that
/// sends nothing (dropped after [`IDLE`]) holds up no other; a request for another path or
/// with a wrong or missing `state` is answered and the wait goes on. At most
/// [`MAX_CONNECTIONS`] are served at once.
async fn callback(listener: &tokio::net::TcpListener, state: &str) -> Result<String, Error> {
    let (found, mut arrived) = tokio::sync::mpsc::channel::<String>(1);
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            query = arrived.recv() => {
                if let Some(query) = query {
                    return Ok(query);
                }
                continue;
            }
            accepted = listener.accept() => accepted,
        };
        let (stream, _) =
            accepted.map_err(|e| Error::other(format!("the redirect listener failed: {e}")))?;
        let Ok(slot) = std::sync::Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let found = found.clone();
        let state = state.to_owned();
        tokio::spawn(async move {
            if let Some(query) = serve_callback(stream, &state).await {
                let _ = found.send(query).await;
            }
            drop(slot);
        });
    }
}

/// Reads one request on the redirect listener and answers it; the query when it is this
/// sign-in's callback.
async fn serve_callback(mut stream: tokio::net::TcpStream, state: &str) -> Option<String> {
    let mut buffer = vec![0u8; MAX_CALLBACK];
    let mut read = 0;
    tokio::time::timeout(IDLE, async {
        while read < buffer.len() {
            let n = stream.read(&mut buffer[read..]).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            read += n;
            if buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await
    .ok()?;
    let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
    let target = request.split_whitespace().nth(1).unwrap_or("");
    let query = target.strip_prefix("/callback").and_then(|rest| {
        let query = rest.strip_prefix('?').unwrap_or(rest);
        (rest.is_empty() || rest.starts_with('?')).then_some(query)
    });
    let page = |status: &str, text: &str| {
        let page = format!("<!doctype html><title>tokensmith</title><p>{text}</p>");
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        )
    };
    let Some(query) = query else {
        let _ = stream
            .write_all(page("404 Not Found", "Not here.").as_bytes())
            .await;
        return None;
    };
    let carries_state = url::form_urlencoded::parse(query.as_bytes())
        .any(|(name, value)| name == "state" && value == state);
    if !carries_state {
        let _ = stream
            .write_all(
                page(
                    "400 Bad Request",
                    "This is not the sign-in tokensmith is waiting for.",
                )
                .as_bytes(),
            )
            .await;
        return None;
    }
    let _ = stream
        .write_all(
            page(
                "200 OK",
                "Signed in: you can close this window and return to the terminal.",
            )
            .as_bytes(),
        )
        .await;
    Some(query.to_owned())
}

/// Opens `url` in the desktop's browser, if there is one; the URL was printed either way.
fn open_browser(url: &str, header_vars: &[&str]) {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return;
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    // The browser gets none of the secrets this process was given.
    let mut command = std::process::Command::new(opener);
    command
        .env_remove(crate::endpoint::SECRET_VAR)
        .env_remove(crate::endpoint::PASSWORD_VAR);
    for var in header_vars
        .iter()
        .filter(|v| !v.is_empty() && !v.contains(['=', '\0']))
    {
        command.env_remove(var);
    }
    let _ = command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
