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

use tokensmith_core::Error;
use tokensmith_http::origin::require_secure;
use tokensmith_http::{Transport, display_url, display_url_text, scrub_excerpt};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::endpoint::default_transport;
use crate::fetch::{at_path, get_document};
use crate::{ServerMetadata, TokenEndpoint, TokenEndpointBuilder};

/// The largest metadata document read, in bytes.
pub const MAX_METADATA_BYTES: usize = 256 * 1024;

const OAUTH_WELL_KNOWN: &str = ".well-known/oauth-authorization-server";
const OIDC_WELL_KNOWN: &str = ".well-known/openid-configuration";

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
    transport: Arc<dyn Transport>,
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
            transport: None,
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
    /// authentication chosen from the methods it supports. The issuer's transport is not
    /// carried over: give the endpoint its own [`transport`](TokenEndpointBuilder::transport)
    /// when it needs one.
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
        let urls = well_known_urls(&self.inner.url);
        for url in &urls {
            if let Some(metadata) = self.fetch_one(url).await? {
                return Ok(metadata);
            }
        }
        let tried: Vec<String> = urls.iter().map(display_url).collect();
        Err(
            Error::config(format!("no metadata at {}", tried.join(", "))).with_hint(
                "check the issuer URL: it is the server's identifier (often the base URL with a \
             tenant or realm path), not its token endpoint",
            ),
        )
    }

    /// `Ok(None)` when the server has no document at `url` (a 4xx answer).
    async fn fetch_one(&self, url: &Url) -> Result<Option<ServerMetadata>, Error> {
        let display = display_url(url);
        let Some(body) = get_document(
            &*self.inner.transport,
            url,
            self.inner.timeout,
            MAX_METADATA_BYTES,
            "the metadata",
        )
        .await?
        else {
            return Ok(None);
        };
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

/// The places a server may publish its metadata, in the order they are tried: RFC 8414
/// §3.1 (the well-known name inserted before the issuer's path), then OpenID Connect with the
/// name inserted the same way (RFC 8414 §5), then OpenID Connect Discovery 1.0 §4 (appended
/// to the path). Without a path the two OpenID Connect forms are one URL.
fn well_known_urls(issuer: &Url) -> Vec<Url> {
    let path = issuer.path().trim_end_matches('/');
    let mut urls = vec![
        at_path(issuer, &format!("/{OAUTH_WELL_KNOWN}{path}")),
        at_path(issuer, &format!("/{OIDC_WELL_KNOWN}{path}")),
    ];
    if !path.is_empty() {
        urls.push(at_path(issuer, &format!("{path}/{OIDC_WELL_KNOWN}")));
    }
    urls
}

/// Settings for an [`Issuer`].
pub struct IssuerBuilder {
    issuer: String,
    transport: Option<Arc<dyn Transport>>,
    allow_http: bool,
    max_age: Duration,
    timeout: Duration,
}

impl IssuerBuilder {
    /// Sends metadata requests through `transport` instead of the default one (reqwest,
    /// feature `reqwest`); it follows no redirect.
    #[must_use]
    pub fn transport(mut self, transport: impl Transport) -> Self {
        self.transport = Some(tokensmith_http::transport::arc_transport(transport));
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
        require_secure("issuer", &url, self.allow_http)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(Error::config(
                "an issuer identifier has no query or fragment (RFC 8414 §2)",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::config("the metadata timeout must be above zero"));
        }
        let transport = match self.transport {
            Some(transport) => transport,
            None => default_transport(std::time::Duration::from_secs(10), None)?,
        };
        Ok(Issuer {
            inner: Arc::new(IssuerInner {
                url,
                text,
                transport,
                allow_http: self.allow_http,
                max_age: self.max_age,
                timeout: self.timeout,
                cached: Mutex::new(None),
            }),
        })
    }
}

impl fmt::Debug for IssuerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerBuilder")
            .field("issuer", &display_url_text(&self.issuer))
            .field("transport", &self.transport.as_ref().map(|_| "given"))
            .field("allow_http", &self.allow_http)
            .field("max_age", &self.max_age)
            .field("timeout", &self.timeout)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls_follow_rfc_8414_and_oidc() {
        let urls = |issuer: &str| -> Vec<String> {
            well_known_urls(&Url::parse(issuer).unwrap())
                .into_iter()
                .map(String::from)
                .collect()
        };
        assert_eq!(
            urls("https://a.example"),
            [
                "https://a.example/.well-known/oauth-authorization-server",
                "https://a.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("https://a.example/t/1/"),
            [
                "https://a.example/.well-known/oauth-authorization-server/t/1",
                "https://a.example/.well-known/openid-configuration/t/1",
                "https://a.example/t/1/.well-known/openid-configuration"
            ]
        );
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
