//! The grants a user takes part in: the device flow, and the code grant with a loopback
//! redirect listener (RFC 8252).

use super::*;

use tokensmith_oauth2::resource::{Authorizer, LoopbackRedirect};

/// How long the code grant waits for the browser to come back.
pub(super) const CALLBACK_WAIT: Duration = Duration::from_secs(300);

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
    // The URL is shown and the browser opened here, between the steps; the listener only
    // waits for the callback that carries this sign-in's `state`.
    let loopback = LoopbackRedirect::new()
        .port(args.redirect_port)
        .timeout(CALLBACK_WAIT)
        .open_with(|_| Ok(()));
    let redirect = loopback.redirect().await?;
    let uri = redirect.redirect_uri().to_owned();
    let flow = match &args.authorize_url {
        Some(url) => AuthorizationCode::new(endpoint, url, &uri)?,
        None => AuthorizationCode::discovered(endpoint, &uri).map_err(|e| {
            e.with_hint("give --authorize-url, or --issuer for a server that publishes it")
        })?,
    }
    .scope(scopes);
    let pending = flow.start()?;
    out.note(&format!("sign in at: {}", pending.url()));
    out.note(&format!("(waiting for the browser at {uri})"));
    if !args.no_browser {
        open_browser(pending.url().as_str(), &header_vars(args));
    }
    out.progress("waiting for the sign-in to come back");
    let callback = redirect.complete(pending.url()).await;
    out.progress("");
    pending.finish_url(&callback?).await
}

/// The environment variables the `--header` arguments read, which the browser must not see.
pub(super) fn header_vars(args: &TokenArgs) -> Vec<&str> {
    args.endpoint
        .headers
        .iter()
        .filter_map(|h| h.split_once(":env:").map(|(_, var)| var.trim()))
        .collect()
}

/// Opens `url` in the desktop's browser, if there is one; the URL was printed either way.
pub(super) fn open_browser(url: &str, header_vars: &[&str]) {
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
