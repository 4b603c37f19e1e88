//! An authorization server's metadata document (RFC 8414 §2, OpenID Connect Discovery 1.0),
//! read and checked, and the client authentication chosen from it.

use serde_json::{Map, Value};
use tokensmith_core::Error;

use crate::ClientAuth;

/// An authorization server's metadata document (RFC 8414 §2), the fields tokensmith uses
/// plus the rest in [`extra`](Self::extra).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ServerMetadata {
    /// `issuer`: identical to the URL the document was fetched for.
    pub issuer: String,
    /// `token_endpoint`.
    pub token_endpoint: Option<String>,
    /// `authorization_endpoint`.
    pub authorization_endpoint: Option<String>,
    /// `device_authorization_endpoint` (RFC 8628).
    pub device_authorization_endpoint: Option<String>,
    /// `revocation_endpoint` (RFC 7009).
    pub revocation_endpoint: Option<String>,
    /// `introspection_endpoint` (RFC 7662).
    pub introspection_endpoint: Option<String>,
    /// `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// `registration_endpoint` (RFC 7591 §3).
    pub registration_endpoint: Option<String>,
    /// `scopes_supported`, when the server lists them.
    pub scopes_supported: Option<Vec<String>>,
    /// `client_id_metadata_document_supported`: the server accepts an https URL of a client
    /// metadata document as a client id (OAuth Client ID Metadata Document).
    pub client_id_metadata_document_supported: bool,
    /// `token_endpoint_auth_methods_supported`; absent means `client_secret_basic` only
    /// (RFC 8414 §2).
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `token_endpoint_auth_signing_alg_values_supported`.
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    /// `grant_types_supported`.
    pub grant_types_supported: Vec<String>,
    /// `code_challenge_methods_supported` (RFC 7636).
    pub code_challenge_methods_supported: Vec<String>,
    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1).
    pub dpop_signing_alg_values_supported: Vec<String>,
    /// `authorization_response_iss_parameter_supported` (RFC 9207 §3).
    pub authorization_response_iss_parameter_supported: bool,
    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.3).
    pub tls_client_certificate_bound_access_tokens: bool,
    /// `mtls_endpoint_aliases` (RFC 8705 §5): endpoint name → URL to use with a client
    /// certificate.
    pub mtls_endpoint_aliases: Vec<(String, String)>,
    /// Every other field, as the server sent it.
    pub extra: Map<String, Value>,
}

impl ServerMetadata {
    /// Reads a metadata document; `issuer` is required, other fields are optional and a field
    /// of the wrong type is an error that names it.
    pub fn from_json(document: &[u8]) -> Result<Self, Error> {
        let mut doc = Document::parse(
            document,
            "the metadata document",
            "the URL may be a web page rather than the discovery document",
        )?;
        let issuer = doc
            .text("issuer")?
            .ok_or_else(|| Error::other("the metadata document has no `issuer`"))?;
        let token_endpoint = doc.text("token_endpoint")?;
        let authorization_endpoint = doc.text("authorization_endpoint")?;
        let device_authorization_endpoint = doc.text("device_authorization_endpoint")?;
        let revocation_endpoint = doc.text("revocation_endpoint")?;
        let introspection_endpoint = doc.text("introspection_endpoint")?;
        let jwks_uri = doc.text("jwks_uri")?;
        let registration_endpoint = doc.text("registration_endpoint")?;
        let token_endpoint_auth_methods_supported =
            doc.list("token_endpoint_auth_methods_supported")?;
        let scopes_supported = doc.list("scopes_supported")?;
        let token_endpoint_auth_signing_alg_values_supported = doc
            .list("token_endpoint_auth_signing_alg_values_supported")?
            .unwrap_or_default();
        let grant_types_supported = doc.list("grant_types_supported")?.unwrap_or_default();
        let code_challenge_methods_supported = doc
            .list("code_challenge_methods_supported")?
            .unwrap_or_default();
        let dpop_signing_alg_values_supported = doc
            .list("dpop_signing_alg_values_supported")?
            .unwrap_or_default();
        let authorization_response_iss_parameter_supported =
            doc.flag("authorization_response_iss_parameter_supported")?;
        let tls_client_certificate_bound_access_tokens =
            doc.flag("tls_client_certificate_bound_access_tokens")?;
        let client_id_metadata_document_supported =
            doc.flag("client_id_metadata_document_supported")?;
        let mut fields = doc.rest();
        let mtls_endpoint_aliases = match fields.remove("mtls_endpoint_aliases") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(aliases)) => aliases
                .into_iter()
                .map(|(name, url)| match url {
                    Value::String(url) => Ok((name, url)),
                    _ => Err(wrong_type("mtls_endpoint_aliases", "an object of strings")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(wrong_type("mtls_endpoint_aliases", "an object")),
        };
        Ok(Self {
            issuer,
            token_endpoint,
            authorization_endpoint,
            device_authorization_endpoint,
            revocation_endpoint,
            introspection_endpoint,
            jwks_uri,
            registration_endpoint,
            scopes_supported,
            client_id_metadata_document_supported,
            token_endpoint_auth_methods_supported,
            token_endpoint_auth_signing_alg_values_supported,
            grant_types_supported,
            code_challenge_methods_supported,
            dpop_signing_alg_values_supported,
            authorization_response_iss_parameter_supported,
            tls_client_certificate_bound_access_tokens,
            mtls_endpoint_aliases,
            extra: fields,
        })
    }

    /// The client authentication methods the token endpoint accepts; `client_secret_basic`
    /// alone when the document does not say (RFC 8414 §2).
    pub fn auth_methods(&self) -> Vec<&str> {
        match &self.token_endpoint_auth_methods_supported {
            Some(methods) => methods.iter().map(String::as_str).collect(),
            None => vec!["client_secret_basic"],
        }
    }

    /// Whether the token endpoint accepts `auth`.
    pub fn supports_auth(&self, auth: ClientAuth) -> bool {
        let name = match auth {
            ClientAuth::BasicUnencoded => "client_secret_basic",
            ClientAuth::AutoDetect => return true,
            other => other.as_str(),
        };
        self.auth_methods().contains(&name)
    }

    /// The first endpoint field whose URL is plain http, if any (its name).
    pub(crate) fn plain_http_endpoint(&self) -> Option<&str> {
        let named = [
            ("token_endpoint", &self.token_endpoint),
            ("authorization_endpoint", &self.authorization_endpoint),
            (
                "device_authorization_endpoint",
                &self.device_authorization_endpoint,
            ),
            ("revocation_endpoint", &self.revocation_endpoint),
            ("introspection_endpoint", &self.introspection_endpoint),
            ("jwks_uri", &self.jwks_uri),
            ("registration_endpoint", &self.registration_endpoint),
        ];
        let plain = |url: &str| {
            url.trim()
                .get(..7)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
        };
        named
            .into_iter()
            .find(|(_, url)| url.as_deref().is_some_and(plain))
            .map(|(name, _)| name)
            .or_else(|| {
                let alias = self
                    .mtls_endpoint_aliases
                    .iter()
                    .find(|(_, url)| plain(url))?;
                Some(alias.0.as_str())
            })
            .or_else(|| {
                self.extra
                    .iter()
                    .find(|(name, value)| {
                        name.ends_with("_endpoint") && value.as_str().is_some_and(plain)
                    })
                    .map(|(name, _)| name.as_str())
            })
    }

    /// The mTLS alias of an endpoint (`token_endpoint`, `revocation_endpoint`, …), if any.
    pub fn mtls_alias(&self, endpoint: &str) -> Option<&str> {
        self.mtls_endpoint_aliases
            .iter()
            .find(|(name, _)| name == endpoint)
            .map(|(_, url)| url.as_str())
    }
}

fn wrong_type(field: &str, expected: &str) -> Error {
    Error::other(format!("the metadata field `{field}` is not {expected}"))
}

/// A JSON metadata document whose fields are taken one by one; a field of the wrong type is
/// an error that names it, and what is not taken is kept.
pub(crate) struct Document {
    fields: Map<String, Value>,
    what: &'static str,
}

impl Document {
    /// Reads `bytes` as a JSON object; `what` names the document in errors, `hint` says what
    /// a body that is not JSON likely is.
    pub(crate) fn parse(
        bytes: &[u8],
        what: &'static str,
        hint: &'static str,
    ) -> Result<Self, Error> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::other(format!("{what} is not JSON: {e}")).with_hint(hint))?;
        let Value::Object(fields) = value else {
            return Err(Error::other(format!("{what} is not a JSON object")));
        };
        Ok(Self { fields, what })
    }

    fn wrong_type(&self, field: &str, expected: &str) -> Error {
        let what = self.what.trim_end_matches(" document");
        Error::other(format!("{what} field `{field}` is not {expected}"))
    }

    /// A string field.
    pub(crate) fn text(&mut self, name: &str) -> Result<Option<String>, Error> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.wrong_type(name, "a string")),
        }
    }

    /// A list of strings.
    pub(crate) fn list(&mut self, name: &str) -> Result<Option<Vec<String>>, Error> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    _ => Err(self.wrong_type(name, "a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(self.wrong_type(name, "a list of strings")),
        }
    }

    /// A boolean; absent is false.
    pub(crate) fn flag(&mut self, name: &str) -> Result<bool, Error> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(b),
            Some(_) => Err(self.wrong_type(name, "true or false")),
        }
    }

    /// The fields not taken.
    pub(crate) fn rest(self) -> Map<String, Value> {
        self.fields
    }
}

/// The client authentication to use with a server's metadata: the configured one if the
/// server accepts it, else the strongest the client can do that the server lists.
pub(crate) fn choose_auth(
    metadata: &ServerMetadata,
    configured: Option<ClientAuth>,
    can: &dyn Fn(ClientAuth) -> bool,
) -> Result<ClientAuth, Error> {
    if let Some(auth) = configured.filter(|a| *a != ClientAuth::AutoDetect) {
        if metadata.supports_auth(auth) {
            return Ok(auth);
        }
        return Err(Error::config(format!(
            "the server does not list `{}` among its client authentication methods",
            auth.as_str()
        ))
        .with_hint(format!(
            "it lists: {}; leave `.auth(..)` unset to choose from these",
            metadata.auth_methods().join(", ")
        )));
    }
    let preference = [
        ClientAuth::PrivateKeyJwt,
        ClientAuth::TlsClientAuth,
        ClientAuth::SelfSignedTlsClientAuth,
        ClientAuth::Basic,
        ClientAuth::RequestBody,
        ClientAuth::ClientSecretJwt,
        ClientAuth::None,
    ];
    preference
        .into_iter()
        .find(|auth| can(*auth) && metadata.supports_auth(*auth))
        .ok_or_else(|| {
            Error::config("none of the server's client authentication methods fits this client")
                .with_hint(format!(
                    "the server lists: {}; give the client what one of them needs (a secret, \
                     a signing key with `.signer(..)`, or a certificate with `.client_certificate_pem(..)`)",
                    metadata.auth_methods().join(", ")
                ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_endpoints_are_found_in_every_field() {
        let document = |field: &str, url: &str| {
            let mut doc = serde_json::json!({
                "issuer": "https://login.example",
                "token_endpoint": "https://login.example/token",
            });
            if field == "mtls" {
                doc["mtls_endpoint_aliases"] = serde_json::json!({"token_endpoint": url});
            } else {
                doc[field] = Value::String(url.to_owned());
            }
            ServerMetadata::from_json(doc.to_string().as_bytes()).unwrap()
        };
        for field in [
            "token_endpoint",
            "revocation_endpoint",
            "device_authorization_endpoint",
            "jwks_uri",
            "pushed_authorization_request_endpoint",
        ] {
            for url in ["http://127.0.0.1:8080/x", "HTTP://login.example/x"] {
                assert_eq!(
                    document(field, url).plain_http_endpoint(),
                    Some(field),
                    "{url}"
                );
            }
        }
        assert_eq!(
            document("mtls", "http://mtls.login.example/token").plain_http_endpoint(),
            Some("token_endpoint")
        );
        assert_eq!(
            document("revocation_endpoint", "https://login.example/revoke").plain_http_endpoint(),
            None
        );
    }

    #[test]
    fn metadata_fields_and_wrong_types() {
        let doc = br#"{"issuer":"https://a","token_endpoint":"https://a/t",
            "token_endpoint_auth_methods_supported":["private_key_jwt","client_secret_post"],
            "mtls_endpoint_aliases":{"token_endpoint":"https://mtls.a/t"},
            "authorization_response_iss_parameter_supported":true,"x":1}"#;
        let m = ServerMetadata::from_json(doc).unwrap();
        assert_eq!(m.token_endpoint.as_deref(), Some("https://a/t"));
        assert!(m.supports_auth(ClientAuth::RequestBody));
        assert!(!m.supports_auth(ClientAuth::Basic));
        assert_eq!(m.mtls_alias("token_endpoint"), Some("https://mtls.a/t"));
        assert!(m.authorization_response_iss_parameter_supported);
        assert_eq!(m.extra["x"], 1);
        let none = ServerMetadata::from_json(br#"{"issuer":"https://a"}"#).unwrap();
        assert_eq!(none.auth_methods(), ["client_secret_basic"]);
        let bad =
            ServerMetadata::from_json(br#"{"issuer":"https://a","grant_types_supported":"x"}"#)
                .unwrap_err();
        assert!(bad.to_string().contains("grant_types_supported"), "{bad}");
        assert!(ServerMetadata::from_json(b"<html>").is_err());
        assert!(ServerMetadata::from_json(b"{}").is_err());
    }

    #[test]
    fn auth_is_chosen_from_what_both_sides_can() {
        let m = ServerMetadata::from_json(
            br#"{"issuer":"https://a","token_endpoint_auth_methods_supported":["client_secret_post","private_key_jwt"]}"#,
        )
        .unwrap();
        let secret_only = |a: ClientAuth| matches!(a, ClientAuth::Basic | ClientAuth::RequestBody);
        assert_eq!(
            choose_auth(&m, None, &secret_only).unwrap(),
            ClientAuth::RequestBody
        );
        let all = |_| true;
        assert_eq!(
            choose_auth(&m, None, &all).unwrap(),
            ClientAuth::PrivateKeyJwt
        );
        let err = choose_auth(&m, Some(ClientAuth::Basic), &all).unwrap_err();
        assert!(
            err.hint().unwrap().contains("client_secret_post"),
            "{err:?}"
        );
        let nothing = |_| false;
        assert!(choose_auth(&m, None, &nothing).is_err());
    }
}
