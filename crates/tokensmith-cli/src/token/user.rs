//! The grants a user takes part in: the device flow, and the code grant with a loopback
//! redirect listener (RFC 8252).

use super::*;

/// How long the code grant waits for the browser to come back.
const CALLBACK_WAIT: Duration = Duration::from_secs(300);
/// The most of a callback request read.
const MAX_CALLBACK: usize = 16 * 1024;
/// How long a connection to the redirect listener may take to send its request.
const IDLE: Duration = Duration::from_secs(10);
/// The most connections to the redirect listener served at once.
const MAX_CONNECTIONS: usize = 16;

pub(super) async fn device(
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

pub(super) async fn code(
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
