//! What `token` and `doctor` share: the token endpoint's settings and where secrets come from.

use std::io::IsTerminal;

use clap::{Args, ValueEnum};
use tokensmith_oauth2::{ClientAuth, Issuer, TokenEndpoint, TokenEndpointBuilder};

use crate::UsageError;
use crate::out::Out;

/// The environment variable that holds the client secret.
pub(crate) const SECRET_VAR: &str = "TOKENSMITH_CLIENT_SECRET";
/// The environment variable that holds a user's password.
pub(crate) const PASSWORD_VAR: &str = "TOKENSMITH_PASSWORD";

#[derive(Args, Clone, Debug)]
pub(crate) struct EndpointArgs {
    /// The token endpoint URL.
    #[arg(long, value_name = "URL")]
    pub(crate) token_url: Option<String>,
    /// An issuer URL: the token endpoint and the others come from its metadata.
    #[arg(long, value_name = "URL", conflicts_with = "token_url")]
    pub(crate) issuer: Option<String>,
    /// The client id (needed, but with `token --resource`, where a client can register
    /// itself). The secret comes from TOKENSMITH_CLIENT_SECRET or a prompt.
    #[arg(long, value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// A scope to ask for; repeat it, or give several separated by spaces.
    #[arg(long = "scope", value_name = "SCOPE")]
    pub(crate) scopes: Vec<String>,
    /// An extra header on token requests, `NAME:env:VAR` (its value read from the environment
    /// variable VAR) or `NAME:prompt` (asked for on the terminal). Values never come from the
    /// command line, where `ps` and shell history keep them; they are masked in all output.
    #[arg(long = "header", value_name = "NAME:env:VAR")]
    pub(crate) headers: Vec<String>,
    /// The user, for the password grant. The password comes from TOKENSMITH_PASSWORD or a
    /// prompt.
    #[arg(long)]
    pub(crate) username: Option<String>,
    /// Allows plain http to a host that is not loopback (closed test networks only).
    #[arg(long)]
    pub(crate) insecure_http: bool,
}

/// How the client authenticates.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum AuthArg {
    /// HTTP Basic with the id and secret form-encoded (client_secret_basic).
    Basic,
    /// In the form body (client_secret_post).
    Body,
    /// Basic first, then the body; or what the server's metadata lists.
    Auto,
    /// A public client: `client_id` in the body, no secret.
    None,
}

impl AuthArg {
    pub(crate) fn client_auth(self) -> ClientAuth {
        match self {
            Self::Basic => ClientAuth::Basic,
            Self::Body => ClientAuth::RequestBody,
            Self::Auto => ClientAuth::AutoDetect,
            Self::None => ClientAuth::None,
        }
    }
}

/// A secret from `var`, else a prompt on a terminal; `None` without either.
fn secret(var: &str, prompt: &str) -> Result<Option<String>, UsageError> {
    if let Ok(value) = std::env::var(var) {
        return Ok(Some(value));
    }
    ask(prompt)
}

/// A value typed on the terminal without echo; `None` without a terminal.
fn ask(prompt: &str) -> Result<Option<String>, UsageError> {
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        let value = rpassword::prompt_password(prompt)
            .map_err(|e| UsageError(format!("cannot read {prompt}: {e}")))?;
        return Ok(Some(value));
    }
    Ok(None)
}

/// The client secret of `client_id`, or why there is none; masked in all output from here on.
pub(crate) fn client_secret(
    client_id: &str,
    required: bool,
    out: &Out,
) -> Result<Option<String>, UsageError> {
    match secret(SECRET_VAR, "client secret: ")? {
        None if required => Err(UsageError(format!(
            "no client secret: set {SECRET_VAR} (secrets are never taken from the command line), \
             or use --auth none for a public client"
        ))),
        found => {
            if let Some(secret) = &found {
                out.secrets().add_client(client_id, secret);
            }
            Ok(found)
        }
    }
}

/// The password of `username`; masked in all output from here on.
pub(crate) fn password(username: &str, out: &Out) -> Result<String, UsageError> {
    let password =
        secret(PASSWORD_VAR, &format!("password for {username}: "))?.ok_or_else(|| {
            UsageError(format!(
                "no password for {username}: set {PASSWORD_VAR} (secrets are never taken from the \
             command line)"
            ))
        })?;
    out.secrets().add(&password);
    Ok(password)
}

/// The `--header` values: `(name, value, variable)`, each value from the environment variable
/// named (or a prompt: the variable is then `HEADER_VALUE`), and masked in all output from
/// here on.
pub(crate) fn headers(
    args: &EndpointArgs,
    out: &Out,
) -> Result<Vec<(String, String, String)>, UsageError> {
    args.headers
        .iter()
        .map(|header| {
            let (name, source) = header.split_once(':').ok_or_else(|| {
                UsageError(format!(
                    "--header wants NAME:env:VAR or NAME:prompt, got `{}`",
                    header_name(header)
                ))
            })?;
            let name = name.trim();
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(UsageError(format!(
                    "--header: `{}` is not a header name",
                    crate::safe::one_line(name, 60)
                )));
            }
            let source = source.trim();
            let (value, var) = if let Some(var) = source.strip_prefix("env:") {
                let var = var.trim();
                if var.is_empty() || var.contains(['=', '\0']) {
                    return Err(UsageError(format!(
                        "--header {name}: `env:` wants a variable name"
                    )));
                }
                let value = std::env::var(var).map_err(|_| {
                    UsageError(format!("--header {name}: the variable {var} is not set"))
                })?;
                (value, var.to_owned())
            } else if source == "prompt" {
                let value = ask(&format!("{name}: "))?.ok_or_else(|| {
                    UsageError(format!(
                        "--header {name}:prompt needs a terminal; use {name}:env:VAR"
                    ))
                })?;
                (value, "HEADER_VALUE".to_owned())
            } else {
                return Err(UsageError(format!(
                    "--header {name}: give the value as {name}:env:VAR (or {name}:prompt), not \
                     on the command line, where `ps` and shell history keep it"
                )));
            };
            out.secrets().add(&value);
            Ok((name.to_owned(), value, var))
        })
        .collect()
}

/// A header argument as it may be shown: its name only.
fn header_name(header: &str) -> &str {
    header.split(':').next().unwrap_or("").trim()
}

impl EndpointArgs {
    /// The client id, which every command but `token --resource` needs.
    pub(crate) fn client_id(&self) -> Result<&str, UsageError> {
        self.client_id
            .as_deref()
            .ok_or_else(|| UsageError("say which client: --client-id ID".into()))
    }
}

/// The scopes, each split on spaces.
pub(crate) fn scopes(args: &EndpointArgs) -> Vec<String> {
    args.scopes
        .iter()
        .flat_map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .collect()
}

/// The token endpoint builder: from the URL, or from the issuer's metadata.
pub(crate) async fn builder(
    args: &EndpointArgs,
    out: &Out,
) -> Result<TokenEndpointBuilder, UsageError> {
    let builder = match (&args.token_url, &args.issuer) {
        (Some(url), _) => TokenEndpoint::builder(url),
        (None, Some(issuer)) => {
            let mut issuer_builder = Issuer::builder(issuer);
            if args.insecure_http {
                issuer_builder = issuer_builder.danger_allow_insecure_http();
            }
            issuer_builder.build()?.token_endpoint().await?
        }
        (None, None) => {
            return Err(UsageError(
                "say where the token endpoint is: --token-url URL, or --issuer URL".into(),
            ));
        }
    };
    let mut builder = builder.client_id(args.client_id()?);
    if args.insecure_http {
        builder = builder.danger_allow_insecure_http();
    }
    for (name, value, _) in headers(args, out)? {
        builder = builder.header(name, value);
    }
    Ok(builder)
}
