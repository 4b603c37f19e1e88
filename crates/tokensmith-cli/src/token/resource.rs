//! `tokensmith token --resource URL`: the resource's 401 leads to the token (its metadata,
//! the server's metadata, the client's registration or id, a sign-in or client credentials).

use tokensmith_oauth2::resource::{ClientMetadata, LoopbackRedirect, ResourceAuth};
use tokensmith_reqwest::BearerAuth;

use super::user::{CALLBACK_WAIT, open_browser};
use super::*;

/// Calls `url` through the discovering middleware, then describes the token it led to and
/// what the resource answered with it.
pub(super) async fn resource(
    args: &TokenArgs,
    url: &str,
    out: &Out,
) -> Result<Result<Got, Error>, UsageError> {
    let mut builder = ResourceAuth::builder(url);
    if args.endpoint.insecure_http {
        builder = builder.danger_allow_insecure_http();
    }
    let scopes = endpoint::scopes(&args.endpoint);
    if !scopes.is_empty() {
        builder = builder.scope(scopes);
    }
    let machine = match (args.grant, &args.endpoint.client_id) {
        (GrantArg::Code, _) | (GrantArg::ClientCredentials, None) => false,
        (GrantArg::ClientCredentials, Some(_)) => true,
        _ => {
            return Err(UsageError(
                "--resource takes --grant code (a user signs in) or client_credentials".into(),
            ));
        }
    };
    if machine {
        let id = args.endpoint.client_id()?;
        let secret = endpoint::client_secret(id, true, out)?
            .ok_or_else(|| UsageError("client credentials need a secret".into()))?;
        builder = builder.client_credentials(id, secret);
    } else {
        if let Some(id) = &args.endpoint.client_id {
            builder = builder.client_id(id);
            if let Some(secret) = endpoint::client_secret(id, false, out)? {
                builder = builder.client_secret(secret);
            }
        }
        if let Some(document) = &args.client_metadata_url {
            builder = builder.client_metadata_document(document);
        }
        let no_browser = args.no_browser;
        let header_vars: Vec<String> = user::header_vars(args)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let loopback = LoopbackRedirect::new()
            .port(args.redirect_port)
            .timeout(CALLBACK_WAIT)
            .open_with(move |url| {
                crate::out::note!("sign in at: {url}");
                if !no_browser {
                    let vars: Vec<&str> = header_vars.iter().map(String::as_str).collect();
                    open_browser(url.as_str(), &vars);
                }
                Ok(())
            });
        builder = builder
            .registration(
                ClientMetadata::new("tokensmith command line")
                    .software("tokensmith-cli", env!("CARGO_PKG_VERSION")),
            )
            .loopback(loopback);
    }
    let auth = builder.build()?;
    let client = BearerAuth::discover(auth.clone())
        .build()?
        .into_client(None)?;
    out.progress("calling the resource");
    let answer = client.get(url).send().await;
    out.progress("");
    let response = match answer {
        Ok(response) => response,
        Err(error) => {
            let error = tokensmith_reqwest::auth_error(&error)
                .cloned()
                .unwrap_or_else(|| {
                    Error::other(format!("the resource could not be called: {error}"))
                });
            return Ok(Err(error));
        }
    };
    let status = response.status();
    let discovered = auth.discover().await;
    out.heading("resource");
    let mut rows = vec![("answer", status.to_string())];
    if let Ok(found) = &discovered {
        rows.push(("resource", found.resource.clone()));
        rows.push(("authorization server", found.issuer.clone()));
    }
    out.rows(&rows);
    let Some(access) = tokensmith_core::TokenProvider::current(&auth) else {
        return Ok(Err(Error::other(format!(
            "the resource answered {status} and led to no token"
        ))
        .with_hint(
            "it did not challenge the request (no 401), or its challenge led nowhere",
        )));
    };
    if !status.is_success() {
        out.mark(
            Mark::Info,
            &format!("the resource answered {status} with the token it led to"),
        );
    }
    Ok(Ok(Got {
        access,
        refresh: false,
        extra: Default::default(),
        platform: None,
    }))
}
