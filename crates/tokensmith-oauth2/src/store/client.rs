//! A client registered with a server (RFC 7591), as a store keeps it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokensmith_core::Error;
use url::Url;

use crate::{ClientAuth, ClientSecret};

/// A client registered with a server (RFC 7591 §3.2.1), as a [`TokenStore`] keeps it: the
/// server's issuer, the id, the secret if one was issued, and how it authenticates.
#[derive(Clone)]
#[non_exhaustive]
pub struct StoredClient {
    /// The issuer the client is registered with.
    pub issuer: String,
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, if the server issued one.
    pub client_secret: Option<ClientSecret>,
    /// `token_endpoint_auth_method` as registered.
    pub auth_method: String,
    /// The redirect URIs registered.
    pub redirect_uris: Vec<String>,
    /// When the secret expires (`client_secret_expires_at`), if it does.
    pub secret_expires_at: Option<SystemTime>,
}

impl StoredClient {
    /// A client registered with `issuer`.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            auth_method: "none".into(),
            redirect_uris: Vec::new(),
            secret_expires_at: None,
        }
    }

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

    /// The record as JSON, secret included (for stores that keep it on disk).
    pub fn to_json(&self) -> Value {
        json!({
            "issuer": self.issuer,
            "client_id": self.client_id,
            "client_secret": self.client_secret.as_ref().map(|s| s.expose_secret().to_owned()),
            "token_endpoint_auth_method": self.auth_method,
            "redirect_uris": self.redirect_uris,
            "client_secret_expires_at": self.secret_expires_at
                .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_secs()),
        })
    }

    /// A record written by [`to_json`](Self::to_json).
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(issuer), Some(client_id)) = (text("issuer"), text("client_id")) else {
            return Err(Error::other(
                "a stored client record has no `issuer` or `client_id`",
            ));
        };
        let mut client = Self::new(issuer, client_id);
        client.client_secret = text("client_secret").map(ClientSecret::from);
        client.auth_method = text("token_endpoint_auth_method").unwrap_or_else(|| "none".into());
        client.redirect_uris = value
            .get("redirect_uris")
            .and_then(Value::as_array)
            .map(|uris| {
                uris.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        client.secret_expires_at = value
            .get("client_secret_expires_at")
            .and_then(Value::as_u64)
            .filter(|at| *at > 0)
            .map(|at| UNIX_EPOCH + Duration::from_secs(at));
        Ok(client)
    }
}

impl fmt::Debug for StoredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredClient")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("has_secret", &self.client_secret.is_some())
            .field("auth_method", &self.auth_method)
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_clients_round_trip_and_hide_the_secret() {
        let mut client = StoredClient::new("https://as.example", "abc");
        client.client_secret = Some(ClientSecret::from("CANARY-secret-9"));
        client.auth_method = "client_secret_post".into();
        client.redirect_uris = vec!["http://127.0.0.1:4000/callback".into()];
        let back = StoredClient::from_json(&client.to_json()).unwrap();
        assert_eq!(back.client_id, "abc");
        assert_eq!(back.auth(), ClientAuth::RequestBody);
        assert_eq!(
            back.client_secret.as_ref().unwrap().expose_secret(),
            "CANARY-secret-9"
        );
        assert!(!format!("{back:?}").contains("CANARY"));
        // A loopback redirect URI on another port is the same one (RFC 8252 §7.3).
        assert!(back.usable_for(Some("http://127.0.0.1:5000/callback")));
        assert!(!back.usable_for(Some("http://127.0.0.1:5000/other")));
        assert!(!back.usable_for(Some("https://app.example/callback")));
    }
}
