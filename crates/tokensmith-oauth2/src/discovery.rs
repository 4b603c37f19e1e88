//! Authorization server metadata (RFC 8414, OpenID Connect Discovery 1.0).
//!
//! [`Issuer`] fetches the server's metadata from its issuer URL, checks that the document
//! names exactly that issuer, and keeps it for a bounded time. A token endpoint built from it
//! ([`Issuer::token_endpoint`]) takes the token, revocation and mTLS endpoints from the
//! document and chooses the client authentication from what the server says it supports,
//! so nothing is guessed or probed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value};
use tokensmith_core::Error;
use tokensmith_http::{BodyError, display_url, read_limited, scrub_excerpt};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::endpoint::check_scheme;
use crate::{ClientAuth, TokenEndpoint, TokenEndpointBuilder};

/// The largest metadata document read, in bytes.
pub const MAX_METADATA_BYTES: usize = 256 * 1024;

const OAUTH_WELL_KNOWN: &str = ".well-known/oauth-authorization-server";
const OIDC_WELL_KNOWN: &str = ".well-known/openid-configuration";

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
        let value: Value = serde_json::from_slice(document).map_err(|e| {
            Error::other(format!("the metadata document is not JSON: {e}"))
                .with_hint("the URL may be a web page rather than the discovery document")
        })?;
        let Value::Object(mut fields) = value else {
            return Err(Error::other("the metadata document is not a JSON object"));
        };
        let mut text = |name: &str| -> Result<Option<String>, Error> {
            match fields.remove(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(wrong_type(name, "a string")),
            }
        };
        let issuer =
            text("issuer")?.ok_or_else(|| Error::other("the metadata document has no `issuer`"))?;
        let token_endpoint = text("token_endpoint")?;
        let authorization_endpoint = text("authorization_endpoint")?;
        let device_authorization_endpoint = text("device_authorization_endpoint")?;
        let revocation_endpoint = text("revocation_endpoint")?;
        let introspection_endpoint = text("introspection_endpoint")?;
        let jwks_uri = text("jwks_uri")?;
        let mut list = |name: &str| -> Result<Option<Vec<String>>, Error> {
            match fields.remove(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Array(items)) => items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(s),
                        _ => Err(wrong_type(name, "a list of strings")),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(wrong_type(name, "a list of strings")),
            }
        };
        let token_endpoint_auth_methods_supported = list("token_endpoint_auth_methods_supported")?;
        let token_endpoint_auth_signing_alg_values_supported =
            list("token_endpoint_auth_signing_alg_values_supported")?.unwrap_or_default();
        let grant_types_supported = list("grant_types_supported")?.unwrap_or_default();
        let code_challenge_methods_supported =
            list("code_challenge_methods_supported")?.unwrap_or_default();
        let dpop_signing_alg_values_supported =
            list("dpop_signing_alg_values_supported")?.unwrap_or_default();
        let mut flag = |name: &str| -> Result<bool, Error> {
            match fields.remove(name) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(b),
                Some(_) => Err(wrong_type(name, "true or false")),
            }
        };
        let authorization_response_iss_parameter_supported =
            flag("authorization_response_iss_parameter_supported")?;
        let tls_client_certificate_bound_access_tokens =
            flag("tls_client_certificate_bound_access_tokens")?;
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
    fn plain_http_endpoint(&self) -> Option<&str> {
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

/// An authorization server known by its issuer URL, with its metadata fetched on first use
/// and again once it is older than [`IssuerBuilder::max_age`].
///
/// ```no_run
/// # async fn demo() -> Result<(), tokensmith_core::Error> {
/// use tokensmith_oauth2::{ClientCredentials, Issuer};
/// let issuer = Issuer::new("https://login.example.com/tenant")?;
/// let endpoint = issuer
///     .token_endpoint()
///     .await?
///     .client_id("reports")
///     .client_secret(std::env::var("CLIENT_SECRET").unwrap_or_default())
///     .build()?;
/// let tokens = ClientCredentials::new(endpoint).scope(["reports.read"]).build();
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Issuer {
    inner: Arc<IssuerInner>,
}

struct IssuerInner {
    url: Url,
    text: String,
    http: reqwest::Client,
    allow_http: bool,
    max_age: Duration,
    timeout: Duration,
    cached: Mutex<Option<(Instant, Arc<ServerMetadata>)>>,
}

impl Issuer {
    /// An issuer with default settings: https (or loopback http), metadata kept an hour.
    pub fn new(issuer: impl AsRef<str>) -> Result<Self, Error> {
        Self::builder(issuer).build()
    }

    /// Settings for an issuer.
    pub fn builder(issuer: impl AsRef<str>) -> IssuerBuilder {
        IssuerBuilder {
            issuer: issuer.as_ref().to_owned(),
            http: None,
            allow_http: false,
            max_age: Duration::from_secs(3600),
            timeout: Duration::from_secs(30),
        }
    }

    /// The issuer identifier, as configured.
    pub fn as_str(&self) -> &str {
        &self.inner.text
    }

    /// The metadata, fetched when none is held or what is held is older than the maximum
    /// age. If a refetch fails while an older copy is held, the older copy is returned and
    /// the failure logged: a server's brief outage does not stop token requests.
    pub async fn metadata(&self) -> Result<Arc<ServerMetadata>, Error> {
        let mut cached = self.inner.cached.lock().await;
        if let Some((at, metadata)) = cached.as_ref()
            && at.elapsed() < self.inner.max_age
        {
            return Ok(Arc::clone(metadata));
        }
        match self.fetch().await {
            Ok(metadata) => {
                let metadata = Arc::new(metadata);
                *cached = Some((Instant::now(), Arc::clone(&metadata)));
                Ok(metadata)
            }
            Err(error) => match cached.as_ref() {
                Some((_, stale)) => {
                    tracing::warn!(
                        target: "tokensmith::oauth2",
                        issuer = %self.inner.text,
                        error = %error,
                        "could not refresh the server metadata; using the copy held"
                    );
                    Ok(Arc::clone(stale))
                }
                None => Err(error),
            },
        }
    }

    /// A token endpoint builder for this server: its token endpoint (the mTLS alias once
    /// the builder is given a client certificate), its revocation endpoint, its issuer for
    /// RFC 9207 checks, and, unless [`auth`](TokenEndpointBuilder::auth) is set, the client
    /// authentication chosen from the methods it supports. The issuer's HTTP client settings
    /// are not carried over: give the endpoint its own
    /// [`http_client`](TokenEndpointBuilder::http_client) when it needs one.
    pub async fn token_endpoint(&self) -> Result<TokenEndpointBuilder, Error> {
        let metadata = self.metadata().await?;
        let url = metadata.token_endpoint.as_deref().ok_or_else(|| {
            Error::config(format!(
                "the server at {} publishes no `token_endpoint`",
                self.inner.text
            ))
        })?;
        let mut builder = TokenEndpoint::builder(url).metadata(metadata);
        if self.inner.allow_http {
            builder = builder.danger_allow_insecure_http();
        }
        Ok(builder)
    }

    async fn fetch(&self) -> Result<ServerMetadata, Error> {
        let (oauth, oidc) = well_known_urls(&self.inner.url);
        match self.fetch_one(&oauth).await? {
            Some(metadata) => Ok(metadata),
            None => self.fetch_one(&oidc).await?.ok_or_else(|| {
                Error::config(format!(
                    "no metadata at {} or {}",
                    display_url(&oauth),
                    display_url(&oidc)
                ))
                .with_hint(
                    "check the issuer URL: it is the server's identifier (often the base URL \
                     with a tenant or realm path), not its token endpoint",
                )
            }),
        }
    }

    /// `Ok(None)` when the server has no document at `url` (a 4xx answer).
    async fn fetch_one(&self, url: &Url) -> Result<Option<ServerMetadata>, Error> {
        let display = display_url(url);
        let response = self
            .inner
            .http
            .get(url.clone())
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    Error::timeout(&display, self.inner.timeout)
                } else {
                    Error::transport(&display, e.without_url().to_string(), None)
                }
            })?;
        let status = response.status();
        let shown = &display;
        if status.is_client_error() {
            tracing::debug!(target: "tokensmith::oauth2", url = %shown, status = status.as_u16(), "no metadata document here");
            return Ok(None);
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_limited(
            http::Response::from(response).into_body(),
            MAX_METADATA_BYTES,
        )
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { .. } => Error::other(format!(
                "the metadata at {display} is larger than {MAX_METADATA_BYTES} bytes"
            )),
            BodyError::Transport(e) => Error::transport(&display, e.to_string(), None),
        })?;
        if status != StatusCode::OK {
            return Err(Error::other(format!(
                "the metadata at {display} answered {status}{}",
                content_type
                    .map(|t| format!(" ({})", scrub_excerpt(t.as_bytes(), &[])))
                    .unwrap_or_default()
            )));
        }
        let metadata = ServerMetadata::from_json(&body)?;
        if metadata.issuer != self.inner.text {
            return Err(Error::refused(format!(
                "the metadata at {display} names the issuer `{}`, not `{}`",
                scrub_excerpt(metadata.issuer.as_bytes(), &[]),
                self.inner.text
            ))
            .with_hint(
                "RFC 8414 §3.3 requires the two to be identical, so a document served for \
                 another server is not trusted; if the server's own name differs only in a \
                 trailing slash or case, configure exactly the name it publishes",
            ));
        }
        if self.inner.url.scheme() == "https"
            && let Some(field) = metadata.plain_http_endpoint()
        {
            return Err(Error::refused(format!(
                "the metadata at {display} names a plain http URL for `{}`, though the \
                 issuer is https",
                scrub_excerpt(field.as_bytes(), &[])
            ))
            .with_hint(
                "an https server that sends its clients to plain http would expose their \
                 secrets and tokens (loopback included: another local process may listen \
                 there); the server's metadata is wrong, or was tampered with",
            ));
        }
        Ok(Some(metadata))
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.inner.text)
            .field("max_age", &self.inner.max_age)
            .finish_non_exhaustive()
    }
}

/// The two places a server may publish its metadata (RFC 8414 §3.1 and §5).
fn well_known_urls(issuer: &Url) -> (Url, Url) {
    let path = issuer.path().trim_end_matches('/');
    let mut oauth = issuer.clone();
    oauth.set_path(&format!("/{OAUTH_WELL_KNOWN}{path}"));
    let mut oidc = issuer.clone();
    oidc.set_path(&format!("{path}/{OIDC_WELL_KNOWN}"));
    (oauth, oidc)
}

/// Settings for an [`Issuer`].
#[derive(Debug)]
pub struct IssuerBuilder {
    issuer: String,
    http: Option<reqwest::ClientBuilder>,
    allow_http: bool,
    max_age: Duration,
    timeout: Duration,
}

impl IssuerBuilder {
    /// The HTTP client settings for metadata requests (redirects are never followed).
    #[must_use]
    pub fn http_client(mut self, builder: reqwest::ClientBuilder) -> Self {
        self.http = Some(builder);
        self
    }

    /// How long fetched metadata is used before it is fetched again (one hour by default).
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The time limit of one metadata request (30 s by default).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Allows a plain-http issuer that is not loopback, and the endpoints it names. Only for
    /// closed test networks.
    #[must_use]
    pub fn danger_allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// Checks the issuer URL: https (or loopback http), no query, no fragment (RFC 8414 §2).
    pub fn build(self) -> Result<Issuer, Error> {
        let text = self.issuer.trim().to_owned();
        let url = Url::parse(&text)
            .map_err(|e| Error::config(format!("the issuer is not a URL: {e}")))?;
        check_scheme("issuer", &url, self.allow_http)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::config(
                "an issuer identifier has no query or fragment (RFC 8414 §2)",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::config("the metadata timeout must be above zero"));
        }
        let http = self
            .http
            .unwrap_or_else(crate::endpoint::default_http)
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .build()
            .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))?;
        Ok(Issuer {
            inner: Arc::new(IssuerInner {
                url,
                text,
                http,
                allow_http: self.allow_http,
                max_age: self.max_age,
                timeout: self.timeout,
                cached: Mutex::new(None),
            }),
        })
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
                     a signing key with `.signer(..)`, or a certificate with `.identity(..)`)",
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
    fn well_known_urls_follow_rfc_8414_and_oidc() {
        let (oauth, oidc) = well_known_urls(&Url::parse("https://a.example").unwrap());
        assert_eq!(
            oauth.as_str(),
            "https://a.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            oidc.as_str(),
            "https://a.example/.well-known/openid-configuration"
        );
        let (oauth, oidc) = well_known_urls(&Url::parse("https://a.example/t/1/").unwrap());
        assert_eq!(
            oauth.as_str(),
            "https://a.example/.well-known/oauth-authorization-server/t/1"
        );
        assert_eq!(
            oidc.as_str(),
            "https://a.example/t/1/.well-known/openid-configuration"
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

    #[test]
    fn issuer_urls_are_checked() {
        assert!(Issuer::new("http://login.example").is_err());
        assert!(Issuer::new("https://a.example/?x=1").is_err());
        assert!(Issuer::new("https://a.example#f").is_err());
        Issuer::new("http://127.0.0.1:9").unwrap();
        Issuer::builder("http://login.example")
            .danger_allow_insecure_http()
            .build()
            .unwrap();
    }
}
