//! Azure workload identity: the federated token file the Azure workload identity webhook
//! projects into the pod, as a client assertion at Microsoft Entra ID's token endpoint.
//!
//! The webhook sets `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and
//! `AZURE_AUTHORITY_HOST`; the request is the client credentials grant to
//! `{authority}/{tenant}/oauth2/v2.0/token` with `client_id`, `scope` (`{resource}/.default`),
//! `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and
//! `client_assertion` (the file's token, read anew for every request).

use tokensmith_core::Error;
use tokensmith_oauth2::TokenEndpoint;
use url::Url;

use crate::WorkloadIdentity;

/// The variable naming the federated token file.
pub const TOKEN_FILE_VAR: &str = "AZURE_FEDERATED_TOKEN_FILE";
/// The variable with the application's client id.
pub const CLIENT_ID_VAR: &str = "AZURE_CLIENT_ID";
/// The variable with the tenant id.
pub const TENANT_ID_VAR: &str = "AZURE_TENANT_ID";
/// The variable with the authority host (default [`PUBLIC_CLOUD`]).
pub const AUTHORITY_HOST_VAR: &str = "AZURE_AUTHORITY_HOST";
/// The authority of Azure's public cloud.
pub const PUBLIC_CLOUD: &str = "https://login.microsoftonline.com/";

/// The Entra ID token endpoint from the variables the workload identity webhook sets. Ask
/// for `{resource}/.default` scopes with it:
///
/// ```no_run
/// use tokensmith_oauth2::ClientCredentials;
///
/// let graph = ClientCredentials::new(tokensmith_workload::azure::from_env()?)
///     .scope(["https://graph.microsoft.com/.default"])
///     .build();
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
pub fn from_env() -> Result<TokenEndpoint, Error> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                Error::config(format!("{name} is not set")).with_hint(
                    "the Azure workload identity webhook sets it in pods whose service account \
                     has the `azure.workload.identity/client-id` annotation and the label \
                     `azure.workload.identity/use: \"true\"`",
                )
            })
    };
    let authority = std::env::var(AUTHORITY_HOST_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| PUBLIC_CLOUD.to_owned());
    token_endpoint(
        &authority,
        &var(TENANT_ID_VAR)?,
        &var(CLIENT_ID_VAR)?,
        WorkloadIdentity::file(var(TOKEN_FILE_VAR)?),
    )
}

/// The Entra ID token endpoint of `tenant` at `authority`, authenticating `client_id` with
/// `identity`'s token as the client assertion.
pub fn token_endpoint(
    authority: &str,
    tenant: &str,
    client_id: &str,
    identity: WorkloadIdentity,
) -> Result<TokenEndpoint, Error> {
    if tenant.is_empty()
        || !tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(Error::config(format!(
            "{TENANT_ID_VAR} is not a tenant id or domain"
        )));
    }
    let mut base = Url::parse(authority.trim())
        .map_err(|_| Error::config(format!("{AUTHORITY_HOST_VAR} is not a URL")))?;
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    let url = base
        .join(&format!("{tenant}/oauth2/v2.0/token"))
        .map_err(|e| Error::config(format!("the Entra token endpoint URL: {e}")))?;
    TokenEndpoint::builder(url.as_str())
        .client_id(client_id)
        .client_assertion(identity)
        .build()
}
