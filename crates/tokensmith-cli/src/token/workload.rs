//! `tokensmith token --grant workload`: a platform's identity token read, and what it was
//! exchanged for.

use super::*;

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
pub(super) async fn workload(
    args: &TokenArgs,
    out: &Out,
) -> Result<Result<Got, Error>, UsageError> {
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
                    builder = match endpoint::client_secret(args.endpoint.client_id()?, false, out)?
                    {
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
