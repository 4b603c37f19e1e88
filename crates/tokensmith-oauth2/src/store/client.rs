//! A client registered with a server (RFC 7591), as a store keeps it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokensmith_core::Error;

use crate::ClientSecret;

/// A client registered with a server (RFC 7591 §3.2.1), as a [`TokenStore`](crate::TokenStore) keeps it: the
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
        let issuer = value.get("issuer").and_then(Value::as_str);
        issuer
            .and_then(|issuer| Self::registered(issuer, value, "none", &[]))
            .ok_or_else(|| Error::other("a stored client record has no `issuer` or `client_id`"))
    }

    /// The client a registration response (RFC 7591 §3.2.1) describes, or a stored record:
    /// `None` without a `client_id`. What the response leaves out is what was asked for
    /// (`method`, `redirect_uris`).
    pub(crate) fn registered(
        issuer: &str,
        value: &Value,
        method: &str,
        redirect_uris: &[String],
    ) -> Option<Self> {
        let text = |name: &str| value.get(name).and_then(Value::as_str);
        let mut client = Self::new(issuer, text("client_id")?);
        client.client_secret = text("client_secret")
            .filter(|s| !s.is_empty())
            .map(ClientSecret::from);
        client.auth_method = text("token_endpoint_auth_method")
            .unwrap_or(method)
            .to_owned();
        client.redirect_uris = value
            .get("redirect_uris")
            .and_then(Value::as_array)
            .map(|uris| {
                uris.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_else(|| redirect_uris.to_vec());
        client.secret_expires_at = value
            .get("client_secret_expires_at")
            .and_then(Value::as_u64)
            .filter(|at| *at > 0)
            .map(|at| UNIX_EPOCH + Duration::from_secs(at));
        Some(client)
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
        assert_eq!(back.auth_method, "client_secret_post");
        assert_eq!(back.redirect_uris, client.redirect_uris);
        assert_eq!(
            back.client_secret.as_ref().unwrap().expose_secret(),
            "CANARY-secret-9"
        );
        assert!(!format!("{back:?}").contains("CANARY"));
        assert!(StoredClient::from_json(&serde_json::json!({"issuer": "x"})).is_err());
    }
}
