//! `tokensmith discover`: an authorization server's metadata, readable.

use clap::Args;
use serde_json::{Value, json};
use tokensmith_oauth2::Issuer;

use crate::out::Out;
use crate::{Outcome, UsageError};

#[derive(Args, Debug)]
pub(crate) struct DiscoverArgs {
    /// The issuer URL (`https://login.example.com/tenant`).
    issuer: String,
    /// Allows a plain-http issuer that is not loopback (closed test networks only).
    #[arg(long)]
    insecure_http: bool,
}

pub(crate) async fn run(args: DiscoverArgs, out: &Out) -> Result<Outcome, UsageError> {
    let mut builder = Issuer::builder(&args.issuer);
    if args.insecure_http {
        builder = builder.danger_allow_insecure_http();
    }
    let issuer = builder.build()?;
    let metadata = match issuer.metadata().await {
        Ok(metadata) => metadata,
        Err(error) => return crate::token::failed(&error, "", out),
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.join(", ")
        }
    };
    let mut rows = vec![
        ("issuer", metadata.issuer.clone()),
        ("token endpoint", text(&metadata.token_endpoint)),
        (
            "authorization endpoint",
            text(&metadata.authorization_endpoint),
        ),
        (
            "device endpoint",
            text(&metadata.device_authorization_endpoint),
        ),
        ("revocation endpoint", text(&metadata.revocation_endpoint)),
        (
            "introspection endpoint",
            text(&metadata.introspection_endpoint),
        ),
        ("jwks_uri", text(&metadata.jwks_uri)),
        ("client authentication", metadata.auth_methods().join(", ")),
        (
            "assertion algorithms",
            list(&metadata.token_endpoint_auth_signing_alg_values_supported),
        ),
        ("grant types", list(&metadata.grant_types_supported)),
        (
            "PKCE methods",
            list(&metadata.code_challenge_methods_supported),
        ),
        (
            "DPoP algorithms",
            list(&metadata.dpop_signing_alg_values_supported),
        ),
        (
            "iss in responses",
            if metadata.authorization_response_iss_parameter_supported {
                "yes (RFC 9207)"
            } else {
                "no"
            }
            .to_owned(),
        ),
        (
            "certificate-bound tokens",
            if metadata.tls_client_certificate_bound_access_tokens {
                "yes"
            } else {
                "no"
            }
            .to_owned(),
        ),
    ];
    for (name, url) in &metadata.mtls_endpoint_aliases {
        rows.push(("mTLS alias", format!("{name}: {url}")));
    }
    out.heading(&format!("authorization server {}", metadata.issuer));
    out.rows(&rows);
    out.line(&format!("  ({} other fields)", metadata.extra.len()));
    let mut document = json!({
        "issuer": metadata.issuer,
        "token_endpoint": metadata.token_endpoint,
        "authorization_endpoint": metadata.authorization_endpoint,
        "device_authorization_endpoint": metadata.device_authorization_endpoint,
        "revocation_endpoint": metadata.revocation_endpoint,
        "introspection_endpoint": metadata.introspection_endpoint,
        "jwks_uri": metadata.jwks_uri,
        "token_endpoint_auth_methods_supported": metadata.auth_methods(),
        "grant_types_supported": metadata.grant_types_supported,
        "code_challenge_methods_supported": metadata.code_challenge_methods_supported,
        "dpop_signing_alg_values_supported": metadata.dpop_signing_alg_values_supported,
        "authorization_response_iss_parameter_supported": metadata.authorization_response_iss_parameter_supported,
    });
    document["other"] = Value::Object(metadata.extra.clone());
    out.document(&document);
    Ok(Outcome::Ok)
}
