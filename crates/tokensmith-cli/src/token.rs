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
}

/// What a grant gave.
struct Got {
    access: AccessToken,
    refresh: bool,
    extra: serde_json::Map<String, Value>,
}

impl From<TokenResponse> for Got {
    fn from(response: TokenResponse) -> Self {
        let (access, refresh, extra) = response.into_parts();
        Self {
            access,
            refresh: refresh.is_some(),
            extra,
        }
    }
}

pub(crate) async fn run(
    args: TokenArgs,
    out: &Out,
    offset: UtcOffset,
) -> Result<Outcome, UsageError> {
    let user_grant = matches!(args.grant, GrantArg::Device | GrantArg::Code);
    let secret = match args.auth {
        AuthArg::None => None,
        // A user-facing grant without a secret is a public client.
        AuthArg::Auto if user_grant => endpoint::client_secret(false)?,
        _ => endpoint::client_secret(true)?,
    };
    let mut builder = endpoint::builder(&args.endpoint).await?;
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
            }),
        GrantArg::Password => {
            let username = args
                .endpoint
                .username
                .clone()
                .ok_or_else(|| UsageError("the password grant needs --username".into()))?;
            let password = endpoint::password(&username)?;
            let source = Password::new(endpoint, username, password)
                .scope(&scopes)
                .build_source();
            match source.fetch().await {
                Ok(access) => Ok(Got {
                    access,
                    refresh: source.refresh_token().is_some(),
                    extra: Default::default(),
                }),
                Err(e) => Err(e),
            }
        }
        GrantArg::Device => device(&args, endpoint, &scopes, out).await.map(Got::from),
        GrantArg::Code => code(&args, endpoint, &scopes, out).await.map(Got::from),
    };
    match got {
        Ok(got) => {
            show(&got, args.show_token, out, offset);
            Ok(Outcome::Ok)
        }
        Err(error) => failed(&error, out),
    }
}

/// Reports a failure: a configuration error is a usage error (exit 2), the rest a refusal.
pub(crate) fn failed(error: &Error, out: &Out) -> Result<Outcome, UsageError> {
    if matches!(error.kind(), ErrorKind::Config { .. }) {
        return Err(UsageError(error.to_string()));
    }
    out.mark(Mark::Fail, &error.to_string());
    out.document(&json!({"ok": false, "error": error.to_string(), "hint": error.hint()}));
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
        // To standard error, so that --json output stays one document.
        crate::out::note!("open {uri}");
        crate::out::note!("and enter the code: {}", prompt.user_code);
        crate::out::note!(
            "(the code is good for {}; waiting for you to approve)",
            span(prompt.expires_in.as_secs())
        );
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
    crate::out::note!("sign in at: {}", pending.url());
    crate::out::note!("(waiting for the browser at {redirect})");
    if !args.no_browser {
        open_browser(pending.url().as_str());
    }
    out.progress("waiting for the sign-in to come back");
    let query = tokio::time::timeout(CALLBACK_WAIT, callback(&listener))
        .await
        .map_err(|_| {
            Error::timeout(&redirect, CALLBACK_WAIT)
                .with_hint("the browser never came back to the redirect URI")
        })??;
    out.progress("");
    pending.finish(Callback::from_query(&query)).await
}

/// The query of the first request to `/callback`, answered with a short page.
async fn callback(listener: &tokio::net::TcpListener) -> Result<String, Error> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|e| Error::other(format!("the redirect listener failed: {e}")))?;
        let mut buffer = vec![0u8; MAX_CALLBACK];
        let mut read = 0;
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
        let request = String::from_utf8_lossy(&buffer[..read]).into_owned();
        let target = request.split_whitespace().nth(1).unwrap_or("");
        let Some(query) = target.strip_prefix("/callback") else {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await;
            continue;
        };
        let page = "<!doctype html><title>tokensmith</title><p>Signed in: you can close this window and return to the terminal.</p>";
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
            page.len()
        );
        let _ = stream.write_all(answer.as_bytes()).await;
        return Ok(query.trim_start_matches('?').to_owned());
    }
}

/// Opens `url` in the desktop's browser, if there is one; the URL was printed either way.
fn open_browser(url: &str) {
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
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
