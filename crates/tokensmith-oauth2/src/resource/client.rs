//! How a client that was not configured for a server identifies itself there: a Client ID
//! Metadata Document (the client id is the https URL of a JSON document the application
//! serves), or dynamic registration (RFC 7591), whose result a [`TokenStore`] keeps.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tokensmith_core::{Error, OAuthError};
use tokensmith_http::{Transport, display_url, scrub_excerpt};
use url::Url;

use crate::fetch::send_json;
use crate::{ClientAuth, StoredClient, TokenStore};

/// The largest registration response read, in bytes.
const MAX_REGISTRATION_BYTES: usize = 64 * 1024;

/// What a client says about itself (RFC 7591 §2): sent in a dynamic registration, or served
/// as its Client ID Metadata Document ([`document`](Self::document)).
///
/// ```
/// use tokensmith_oauth2::resource::ClientMetadata;
///
/// let metadata = ClientMetadata::new("Report exporter")
///     .client_uri("https://reports.example.com")
///     .redirect_uri("http://127.0.0.1/callback");
/// // Serve this at https://reports.example.com/oauth/client.json:
/// let document = metadata.document("https://reports.example.com/oauth/client.json");
/// assert_eq!(document["client_id"], "https://reports.example.com/oauth/client.json");
/// assert_eq!(document["token_endpoint_auth_method"], "none");
/// ```
#[derive(Clone, Debug)]
pub struct ClientMetadata {
    client_name: String,
    redirect_uris: Vec<String>,
    client_uri: Option<String>,
    software_id: Option<String>,
    software_version: Option<String>,
    extra: Map<String, Value>,
}

impl ClientMetadata {
    /// A client named `client_name` (shown to users on the consent screen).
    pub fn new(client_name: impl Into<String>) -> Self {
        Self {
            client_name: client_name.into(),
            redirect_uris: Vec::new(),
            client_uri: None,
            software_id: None,
            software_version: None,
            extra: Map::new(),
        }
    }

    /// A redirect URI the client uses, besides the one its [`Authorizer`](super::Authorizer)
    /// gives at registration.
    #[must_use]
    pub fn redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// `client_uri`: the client's home page.
    #[must_use]
    pub fn client_uri(mut self, uri: impl Into<String>) -> Self {
        self.client_uri = Some(uri.into());
        self
    }

    /// `software_id` and `software_version` (RFC 7591 §2).
    #[must_use]
    pub fn software(mut self, id: impl Into<String>, version: impl Into<String>) -> Self {
        self.software_id = Some(id.into());
        self.software_version = Some(version.into());
        self
    }

    /// Another metadata field (`logo_uri`, `contacts`, …).
    #[must_use]
    pub fn field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(name.into(), value.into());
        self
    }

    /// The client's name.
    pub fn client_name(&self) -> &str {
        &self.client_name
    }

    /// The Client ID Metadata Document to serve at `client_id` (an https URL): a public client
    /// of the authorization code flow with refresh tokens, its redirect URIs, and the fields
    /// set here.
    pub fn document(&self, client_id: &str) -> Value {
        let mut document = self.fields(&[], "none", true);
        document.insert("client_id".into(), client_id.into());
        Value::Object(document)
    }

    /// The registration request's fields.
    fn fields(
        &self,
        redirect_uris: &[String],
        auth_method: &str,
        user: bool,
    ) -> Map<String, Value> {
        let mut uris: Vec<&str> = self.redirect_uris.iter().map(String::as_str).collect();
        for uri in redirect_uris {
            if !uris.contains(&uri.as_str()) {
                uris.push(uri);
            }
        }
        let mut fields = self.extra.clone();
        fields.insert("client_name".into(), self.client_name.clone().into());
        if user {
            // OpenID Connect Registration §2, RFC 8252 §8.4: a client that comes back to a
            // loopback address or a private-use scheme is a native app.
            let native = !uris.is_empty()
                && uris.iter().all(|uri| {
                    Url::parse(uri).is_ok_and(|url| {
                        !matches!(url.scheme(), "https" | "http")
                            || (url.scheme() == "http" && tokensmith_http::is_loopback(&url))
                    })
                });
            if native {
                fields
                    .entry("application_type")
                    .or_insert_with(|| "native".into());
            }
            fields.insert("redirect_uris".into(), json!(uris));
            fields.insert(
                "grant_types".into(),
                json!(["authorization_code", "refresh_token"]),
            );
            fields.insert("response_types".into(), json!(["code"]));
        } else {
            fields.insert("grant_types".into(), json!(["client_credentials"]));
            fields.insert("response_types".into(), json!([]));
        }
        fields.insert("token_endpoint_auth_method".into(), auth_method.into());
        if let Some(uri) = &self.client_uri {
            fields.insert("client_uri".into(), uri.clone().into());
        }
        if let Some(id) = &self.software_id {
            fields.insert("software_id".into(), id.clone().into());
        }
        if let Some(version) = &self.software_version {
            fields.insert("software_version".into(), version.clone().into());
        }
        fields
    }
}

/// What a registered client needs here: how it authenticates, and whether it is still good.
impl StoredClient {
    /// The client authentication it registered.
    pub(crate) fn auth(&self) -> ClientAuth {
        match self.auth_method.as_str() {
            "client_secret_post" => ClientAuth::RequestBody,
            "client_secret_basic" => ClientAuth::Basic,
            "client_secret_jwt" => ClientAuth::ClientSecretJwt,
            "private_key_jwt" => ClientAuth::PrivateKeyJwt,
            _ if self.client_secret.is_some() && self.auth_method != "none" => ClientAuth::Basic,
            _ => ClientAuth::None,
        }
    }

    /// Whether it can still be used: its secret has not expired, and it was registered for
    /// `redirect_uri` (a loopback one on any port, RFC 8252 §7.3).
    pub(crate) fn usable_for(&self, redirect_uri: Option<&str>) -> bool {
        let live = self
            .secret_expires_at
            .is_none_or(|at| at > SystemTime::now() + Duration::from_secs(60));
        let Some(wanted) = redirect_uri else {
            return live;
        };
        live && self
            .redirect_uris
            .iter()
            .any(|uri| uri == wanted || same_loopback_uri(uri, wanted))
    }
}

/// Two loopback redirect URIs that differ only in their port (RFC 8252 §7.3).
fn same_loopback_uri(a: &str, b: &str) -> bool {
    let (Ok(mut a), Ok(mut b)) = (Url::parse(a), Url::parse(b)) else {
        return false;
    };
    if a.scheme() != "http" || !tokensmith_http::is_loopback(&a) {
        return false;
    }
    let _ = a.set_port(None);
    let _ = b.set_port(None);
    a == b
}

/// The `token_endpoint_auth_method` to register, from those the server lists: a public client
/// (`none`) for user sign-in where the server takes one, else a secret in a Basic header, else
/// in the body.
pub(crate) fn auth_method_to_register(methods: &[&str], user: bool) -> &'static str {
    let preference: &[&'static str] = if user {
        &["none", "client_secret_basic", "client_secret_post"]
    } else {
        &["client_secret_basic", "client_secret_post"]
    };
    preference
        .iter()
        .find(|m| methods.contains(m))
        .copied()
        .unwrap_or("client_secret_basic")
}

/// A dynamic registration (RFC 7591 §3.1) at `endpoint` of `issuer`.
pub(crate) struct Registration<'a> {
    pub(crate) transport: &'a dyn Transport,
    pub(crate) endpoint: &'a Url,
    pub(crate) issuer: &'a str,
    pub(crate) metadata: &'a ClientMetadata,
    pub(crate) redirect_uris: &'a [String],
    pub(crate) auth_method: &'a str,
    pub(crate) user: bool,
    pub(crate) timeout: Duration,
}

impl Registration<'_> {
    /// Registers, and keeps the result in `store` when there is one.
    pub(crate) async fn run(&self, store: Option<&dyn TokenStore>) -> Result<StoredClient, Error> {
        let shown = display_url(self.endpoint);
        let fields = self
            .metadata
            .fields(self.redirect_uris, self.auth_method, self.user);
        let body = Bytes::from(Value::Object(fields).to_string());
        let sent = send_json(
            self.transport,
            Method::POST,
            self.endpoint,
            Some(body),
            self.timeout,
            MAX_REGISTRATION_BYTES,
            "the registration endpoint",
        )
        .await?;
        let Ok(response) = sent else {
            return Err(Error::other(format!(
                "the registration response from {shown} is larger than \
                 {MAX_REGISTRATION_BYTES} bytes"
            )));
        };
        let status = response.status();
        let value: Option<Value> = serde_json::from_slice(response.body()).ok();
        if !status.is_success() {
            return Err(registration_error(
                status,
                value.as_ref(),
                response.body(),
                &shown,
            ));
        }
        let Some(value) = value.filter(Value::is_object) else {
            return Err(Error::other(format!(
                "the registration response from {shown} is not a JSON object"
            )));
        };
        let Some(client) =
            StoredClient::registered(self.issuer, &value, self.auth_method, self.redirect_uris)
        else {
            return Err(Error::other(format!(
                "the registration response from {shown} has no `client_id` (RFC 7591 §3.2.1)"
            )));
        };
        tracing::info!(
            target: "tokensmith::oauth2",
            issuer = self.issuer,
            client_id = %client.client_id,
            auth_method = %client.auth_method,
            "registered a client (RFC 7591)"
        );
        if let Some(store) = store
            && let Err(error) = store.save_client(&client).await
        {
            // The client works for this run either way; a failed save costs a new
            // registration after a restart.
            tracing::warn!(target: "tokensmith::oauth2", error = %error, "could not save the registered client");
        }
        Ok(client)
    }
}

/// A registration refused (RFC 7591 §3.2.2), as a typed OAuth error with a hint.
fn registration_error(
    status: StatusCode,
    value: Option<&Value>,
    body: &[u8],
    shown: &str,
) -> Error {
    let code = value.and_then(|v| v.get("error")).and_then(Value::as_str);
    let Some(code) = code else {
        return Error::other(format!(
            "the registration endpoint {shown} answered {status}: {}",
            scrub_excerpt(body, &[])
        ))
        .with_hint("the server may not allow dynamic registration; configure a client id");
    };
    let mut error = OAuthError::new(status, code);
    error.description = value
        .and_then(|v| v.get("error_description"))
        .and_then(Value::as_str)
        .map(|d| scrub_excerpt(d.as_bytes(), &[]));
    let hint = match code {
        "invalid_redirect_uri" => {
            "the server does not accept the redirect URI; give the authorizer one it allows"
        }
        "invalid_client_metadata" => {
            "the server refused a field of the client metadata (often the grant types or the \
             authentication method); its description names which"
        }
        "invalid_software_statement" | "unapproved_software_statement" => {
            "the server wants a software statement it trusts"
        }
        _ => "the server refused to register this client; configure a pre-registered client id",
    };
    Error::from(error).with_hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_client_is_used_for_its_redirect_uri_while_its_secret_lives() {
        let mut client = StoredClient::new("https://as.example", "abc");
        client.auth_method = "client_secret_post".into();
        client.client_secret = Some(crate::ClientSecret::from("s"));
        client.redirect_uris = vec!["http://127.0.0.1:4000/callback".into()];
        assert_eq!(client.auth(), ClientAuth::RequestBody);
        // A loopback redirect URI on another port is the same one (RFC 8252 §7.3).
        assert!(client.usable_for(Some("http://127.0.0.1:5000/callback")));
        assert!(!client.usable_for(Some("http://127.0.0.1:5000/other")));
        assert!(!client.usable_for(Some("https://app.example/callback")));
        client.secret_expires_at = Some(SystemTime::now());
        assert!(!client.usable_for(None));
    }

    #[test]
    fn the_method_registered_follows_what_the_server_lists() {
        assert_eq!(auth_method_to_register(&["none"], true), "none");
        assert_eq!(
            auth_method_to_register(&["client_secret_post"], true),
            "client_secret_post"
        );
        assert_eq!(
            auth_method_to_register(&["none", "client_secret_basic"], false),
            "client_secret_basic"
        );
    }
}
