//! `tokensmith token`: gets a token with one of the grants and describes it.

use std::time::Duration;

use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use time::UtcOffset;
use tokensmith_core::{AccessToken, Error, ErrorKind, TokenSource};
use tokensmith_oauth2::{
    AuthorizationCode, ClientAuth, ClientCredentials, DeviceAuthorization, Password, TokenEndpoint,
    TokenResponse,
};

use crate::decode::{self, span};
use crate::endpoint::{self, AuthArg, EndpointArgs};
use crate::out::{Mark, Out};
use crate::{Outcome, UsageError};

mod resource;
mod user;
mod workload;

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
    /// A protected resource's URL instead of a token endpoint: its 401 leads to the token
    /// (RFC 9728 metadata, the server's metadata, a registration, a sign-in). With
    /// --client-id and a secret, and no --grant code, a machine client (client credentials).
    #[arg(long, value_name = "URL", conflicts_with_all = ["token_url", "issuer"])]
    resource: Option<String>,
    /// With --resource: the client id, an https URL of its metadata document, for servers
    /// that take Client ID Metadata Documents.
    #[arg(long, value_name = "URL", requires = "resource")]
    client_metadata_url: Option<String>,
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
    if let Some(url) = args.resource.clone() {
        return match resource::resource(&args, &url, out).await? {
            Ok(got) => {
                show(&got, args.show_token, out, offset);
                Ok(Outcome::Ok)
            }
            Err(error) => failed(&error, "resource", out),
        };
    }
    if let GrantArg::Workload = args.grant {
        return match workload::workload(&args, out).await? {
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
            endpoint::client_secret(args.endpoint.client_id()?, false, out)?
        }
        _ => endpoint::client_secret(args.endpoint.client_id()?, true, out)?,
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
        GrantArg::Device => user::device(&args, endpoint, &scopes, out)
            .await
            .map(Got::from),
        GrantArg::Code => user::code(&args, endpoint, &scopes, out)
            .await
            .map(Got::from),
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
