//! Helpers the tokensmith crates share, for their own use: reading bounded bodies, reading
//! `Retry-After`, showing URLs without their secrets, masking secrets in excerpts. Not part of
//! the public API; they may change in any release.

use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderName, HeaderValue};
use http_body::Body;
use http_body_util::BodyExt;
use url::{Host, Url};

pub use crate::scrub::{EXCERPT_CHARS, mask_secrets, scrub_excerpt};
use crate::{Error, TokenProvider};

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError<E> {
    /// The body is longer than the limit; what was read before the limit.
    TooLarge {
        /// The bytes read before stopping.
        seen: Vec<u8>,
    },
    /// The connection failed while reading.
    Transport(E),
}

/// Reads `body`, refusing at `limit` bytes before reading more: a declared length above it is
/// refused at once, and a body without one is read until it passes the limit. Works for
/// reqwest (`http::Response::from(response).into_body()`) and hyper bodies alike.
pub async fn read_limited<B>(body: B, limit: usize) -> Result<Vec<u8>, BodyError<B::Error>>
where
    B: Body,
{
    use bytes::Buf;

    if body.size_hint().lower() > limit as u64 {
        return Err(BodyError::TooLarge { seen: Vec::new() });
    }
    let mut body = pin!(body);
    let mut read = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(mut data) = frame.map_err(BodyError::Transport)?.into_data() else {
            continue;
        };
        if read.len() + data.remaining() > limit {
            return Err(BodyError::TooLarge { seen: read });
        }
        while data.has_remaining() {
            let chunk = data.chunk();
            read.extend_from_slice(chunk);
            let n = chunk.len();
            data.advance(n);
        }
    }
    Ok(read)
}

/// `Retry-After` (RFC 9110 §10.2.3) as seconds or as an HTTP date, measured from now; a date
/// in the past is zero. Callers cap it.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The URL without query, fragment or user info: what logs, errors and `Debug` may show.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// [`display_url`] of a URL still in text form; text that does not parse is not repeated (it
/// may hold a key).
pub fn display_url_text(url: &str) -> String {
    Url::parse(url.trim()).map_or_else(|_| "(not a URL)".to_owned(), |url| display_url(&url))
}

/// Whether a secret may travel to `url`: https, or plain http to this machine.
pub fn secure_or_loopback(url: &Url) -> bool {
    url.scheme() == "https" || is_loopback(url)
}

/// Whether the URL's host is this machine: 127.0.0.0/8, ::1, `localhost`, or a name under
/// `localhost` that resolves to loopback addresses only.
pub fn is_loopback(url: &Url) -> bool {
    url.host().is_some_and(|host| is_loopback_host(&host))
}

/// Whether `host` is this machine; see [`is_loopback`].
pub fn is_loopback_host<S: AsRef<str>>(host: &Host<S>) -> bool {
    match host {
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
        Host::Domain(name) => {
            let name = name.as_ref().trim_end_matches('.');
            name.eq_ignore_ascii_case("localhost")
                || (name.to_ascii_lowercase().ends_with(".localhost") && resolves_to_loopback(name))
        }
    }
}

/// Whether `name` resolves, and only to loopback addresses. RFC 6761 §6.3 says names under
/// `localhost` should, but a resolver may send them elsewhere (a search domain, a DNS
/// server that answers anything), so a name under it is taken for this machine only when
/// the system resolver says so. Only names under `localhost` are looked up, and only where
/// plain http is weighed.
fn resolves_to_loopback(name: &str) -> bool {
    use std::net::ToSocketAddrs;
    match (name, 0).to_socket_addrs() {
        Ok(addresses) => {
            let mut any = false;
            for address in addresses {
                if !address.ip().is_loopback() {
                    return false;
                }
                any = true;
            }
            any
        }
        Err(_) => false,
    }
}

/// A header that carries a secret (an API key): checked, and marked sensitive so that HTTP
/// stacks do not print it. Errors name the header, never the value.
pub fn secret_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::config(format!("`{name}` is not a valid header name")))?;
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        Error::config(format!(
            "the value of header `{name}` has characters a header cannot carry"
        ))
    })?;
    value.set_sensitive(true);
    Ok((header, value))
}

/// The origins a credential may go to: named ones, or any (`None`), with the https rule.
#[derive(Debug, Clone)]
pub struct Origins(Option<Vec<(String, Host<String>, u16)>>);

impl Origins {
    /// Any origin: each request is checked for https (or loopback) as it goes.
    pub fn any() -> Self {
        Self(None)
    }

    /// The origins of `texts` (URLs; only scheme, host and port count). Plain http to a host
    /// that is not loopback is refused unless `allow_http`; `builder` names the builder in the
    /// hints (`BearerAuth`, `AuthLayer`). Errors never repeat a text: it may hold a key.
    pub fn named(texts: &[String], allow_http: bool, builder: &str) -> Result<Self, Error> {
        if texts.is_empty() {
            return Err(
                Error::config("no origin to attach tokens to").with_hint(format!(
                    "name the API with `.for_origin(\"https://api.example.com\")` on the {builder} \
                 builder, or call `.danger_allow_any_origin()` if every request this client \
                 sends may carry the token"
                )),
            );
        }
        let mut origins = Vec::with_capacity(texts.len());
        for text in texts {
            let url = Url::parse(text.trim())
                .map_err(|e| Error::config(format!("an origin given is not a URL: {e}")))?;
            let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
                return Err(Error::config(format!(
                    "an origin given ({} URL) has none: use an http or https URL such as \
                     https://api.example.com",
                    url.scheme()
                )));
            };
            if !matches!(url.scheme(), "http" | "https") {
                return Err(Error::config(format!(
                    "an origin given has scheme `{}`: use http or https",
                    url.scheme()
                )));
            }
            if url.scheme() == "http" && !allow_http && !is_loopback_host(&host) {
                return Err(insecure_origin(&host.to_string(), builder));
            }
            origins.push((url.scheme().to_owned(), host.to_owned(), port));
        }
        Ok(Self(Some(origins)))
    }

    /// Whether a request to (`scheme`, `host`, `port`) may carry the credential. Compared part
    /// by part: no allocation per request.
    pub fn allows(&self, scheme: &str, host: &Host<&str>, port: Option<u16>) -> bool {
        match &self.0 {
            None => true,
            Some(origins) => origins
                .iter()
                .any(|(s, h, p)| s == scheme && Some(*p) == port && same_host(host, h)),
        }
    }

    /// Whether `url` may carry the credential.
    pub fn allows_url(&self, url: &Url) -> bool {
        url.host()
            .is_some_and(|host| self.allows(url.scheme(), &host, url.port_or_known_default()))
    }

    /// Whether every origin is allowed.
    pub fn is_any(&self) -> bool {
        self.0.is_none()
    }

    /// The named origins, serialised (`https://api.example.com:8443`); `None` for any.
    pub fn serialised(&self) -> Option<Vec<String>> {
        self.0.as_ref().map(|origins| {
            origins
                .iter()
                .map(|(scheme, host, port)| {
                    let default = if scheme == "https" { 443 } else { 80 };
                    if *port == default {
                        format!("{scheme}://{host}")
                    } else {
                        format!("{scheme}://{host}:{port}")
                    }
                })
                .collect()
        })
    }

    /// The one named origin, when exactly one is: where a client bound to a single server
    /// (a gRPC channel) sends requests whose URI has no authority.
    pub fn single(&self) -> Option<Url> {
        match self.serialised()?.as_slice() {
            [one] => Url::parse(one).ok(),
            _ => None,
        }
    }
}

/// The error for credentials over plain http to a host that is not loopback.
pub fn insecure_origin(host: &str, builder: &str) -> Error {
    Error::config(format!(
        "refusing to send credentials over plain http to {host}"
    ))
    .with_hint(format!(
        "use https; for a closed test network call `.danger_allow_insecure_http()` on the \
         {builder} builder"
    ))
}

/// Whether two hosts are the same (domains without regard to case).
fn same_host(a: &Host<&str>, b: &Host<String>) -> bool {
    match (a, b) {
        (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
        (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
        (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
        _ => false,
    }
}

/// Whether `token` must travel with a DPoP proof (`token_type` `DPoP`, RFC 9449 §7.1).
pub fn is_dpop(token: &crate::AccessToken) -> bool {
    token.token_type().as_str().eq_ignore_ascii_case("dpop")
}

/// The error for a DPoP-bound token and no key to prove it with; `fix` says how to give one.
pub fn dpop_key_missing(fix: &str) -> Error {
    Error::config("the token is DPoP-bound and no DPoP key was given to prove it").with_hint(fix)
}

/// How a token-attaching middleware (the reqwest middleware, the tower layer) is set up,
/// before it is checked.
pub struct AttachSettings {
    /// The usual provider.
    pub provider: Arc<dyn TokenProvider>,
    /// Origins as given.
    pub origins: Vec<String>,
    /// Every origin allowed.
    pub any_origin: bool,
    /// Extra headers (an API key): secrets.
    pub headers: Vec<(String, secrecy::SecretString)>,
    /// Replace an `Authorization` header the caller set.
    pub replace_authorization: bool,
    /// Invalidate and retry once after a 401.
    pub retry_unauthorized: bool,
    /// Plain http to hosts that are not loopback.
    pub allow_http: bool,
    /// The DPoP key for DPoP-bound tokens.
    #[cfg(feature = "dpop")]
    pub dpop: Option<crate::dpop::DpopKey>,
}

impl AttachSettings {
    /// The defaults: no origin yet, retry on 401, https only.
    pub fn new(provider: Arc<dyn TokenProvider>) -> Self {
        Self {
            provider,
            origins: Vec::new(),
            any_origin: false,
            headers: Vec::new(),
            replace_authorization: false,
            retry_unauthorized: true,
            allow_http: false,
            #[cfg(feature = "dpop")]
            dpop: None,
        }
    }

    /// Checks the origins and headers; `builder` names the builder in errors.
    pub fn build(self, builder: &'static str) -> Result<Attach, Error> {
        let origins = if self.any_origin {
            Origins::any()
        } else {
            Origins::named(&self.origins, self.allow_http, builder)?
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            use secrecy::ExposeSecret as _;
            let (name, value) = secret_header(name, value.expose_secret())?;
            headers.insert(name, value);
        }
        Ok(Attach {
            provider: self.provider,
            origins,
            headers,
            replace_authorization: self.replace_authorization,
            retry_unauthorized: self.retry_unauthorized,
            allow_http: self.allow_http,
            builder,
            #[cfg(feature = "dpop")]
            dpop: self.dpop,
        })
    }

    /// The builder's `Debug`: origins as parsed (never a path, query or user info), header
    /// names only.
    pub fn debug(&self, f: &mut std::fmt::Formatter<'_>, name: &str) -> std::fmt::Result {
        let origins: Vec<String> = self
            .origins
            .iter()
            .map(|text| {
                Origins::named(std::slice::from_ref(text), true, name)
                    .ok()
                    .and_then(|o| o.serialised())
                    .and_then(|mut o| o.pop())
                    .unwrap_or_else(|| "(not an origin)".into())
            })
            .collect();
        f.debug_struct(name)
            .field("origins", &origins)
            .field("any_origin", &self.any_origin)
            .field(
                "extra_headers",
                &self
                    .headers
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// A checked token-attaching setup, shared by the reqwest middleware and the tower layer.
pub struct Attach {
    /// The usual provider.
    pub provider: Arc<dyn TokenProvider>,
    /// Where tokens may go.
    pub origins: Origins,
    /// Extra headers, checked and marked sensitive.
    pub headers: HeaderMap,
    /// Replace an `Authorization` header the caller set.
    pub replace_authorization: bool,
    /// Invalidate and retry once after a 401.
    pub retry_unauthorized: bool,
    /// Plain http to hosts that are not loopback.
    pub allow_http: bool,
    builder: &'static str,
    /// The DPoP key for DPoP-bound tokens.
    #[cfg(feature = "dpop")]
    pub dpop: Option<crate::dpop::DpopKey>,
}

impl Attach {
    /// Whether a request to `url` carries the token: `Ok(false)` for another origin, an error
    /// for plain http to a host that is not loopback when any origin is allowed.
    pub fn allows(&self, url: &Url) -> Result<bool, Error> {
        let Some(host) = url.host() else {
            return Ok(false);
        };
        if !self
            .origins
            .allows(url.scheme(), &host, url.port_or_known_default())
        {
            return Ok(false);
        }
        if self.origins.is_any()
            && !self.allow_http
            && url.scheme() != "https"
            && !is_loopback_host(&host)
        {
            return Err(insecure_origin(&host.to_string(), self.builder));
        }
        Ok(true)
    }

    /// The DPoP proof a request with `method` to `url` carrying `token` needs, if the token
    /// is DPoP-bound; an error when it is and no key was given.
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        token: Option<&crate::AccessToken>,
    ) -> Result<Option<HeaderValue>, Error> {
        let Some(token) = token.filter(|token| is_dpop(token)) else {
            return Ok(None);
        };
        #[cfg(feature = "dpop")]
        {
            let key = self.dpop.as_ref().ok_or_else(|| {
                dpop_key_missing(&format!(
                    "pass the token endpoint's key to the {}: `.dpop(key.clone())`",
                    self.builder
                ))
            })?;
            Ok(Some(key.proof(
                method,
                url,
                Some(token.secret().expose_secret()),
            )?))
        }
        #[cfg(not(feature = "dpop"))]
        {
            let _ = (method, url, token);
            Err(dpop_key_missing(
                "enable tokensmith's `dpop` feature and pass the key with `.dpop(..)`",
            ))
        }
    }

    /// Sets the extra headers and, for `token`, `Authorization` and its DPoP `proof`.
    pub fn apply(
        &self,
        headers: &mut HeaderMap,
        token: Option<&crate::AccessToken>,
        proof: Option<HeaderValue>,
    ) {
        for (name, value) in &self.headers {
            headers.insert(name, value.clone());
        }
        if let Some(token) = token {
            headers.insert(http::header::AUTHORIZATION, token.authorization_header());
        }
        if let Some(proof) = proof {
            headers.insert(HeaderName::from_static("dpop"), proof);
        }
    }

    /// Whether the answer asks for a DPoP nonce that is new for `url`'s origin (it is kept):
    /// worth one more try with the same token.
    pub fn wants_new_nonce(
        &self,
        token: &crate::AccessToken,
        url: &Url,
        status: http::StatusCode,
        headers: &HeaderMap,
    ) -> bool {
        #[cfg(feature = "dpop")]
        if let Some(key) = self.dpop.as_ref().filter(|_| is_dpop(token)) {
            let new = key.remember_nonce(url, headers);
            return status == http::StatusCode::UNAUTHORIZED
                && new
                && crate::dpop::asks_for_nonce(headers);
        }
        let _ = (token, url, status, headers);
        false
    }

    /// Whether a DPoP key is set: each request then needs a proof of its own, so a client
    /// that would re-send one request's headers to a redirect's target must let the
    /// middleware follow redirects instead.
    pub fn proves_possession(&self) -> bool {
        #[cfg(feature = "dpop")]
        {
            self.dpop.is_some()
        }
        #[cfg(not(feature = "dpop"))]
        {
            false
        }
    }

    /// Whether the answer to a request that carried `token` is a DPoP nonce challenge
    /// (`WWW-Authenticate: DPoP error="use_dpop_nonce"`, RFC 9449 §9): the server wants a
    /// nonce, not another token, so the token stays cached whether or not the request can be
    /// sent again; the next request carries the nonce.
    pub fn is_nonce_challenge(&self, token: &crate::AccessToken, headers: &HeaderMap) -> bool {
        #[cfg(feature = "dpop")]
        {
            self.dpop.is_some() && is_dpop(token) && crate::dpop::asks_for_nonce(headers)
        }
        #[cfg(not(feature = "dpop"))]
        {
            let _ = (token, headers);
            false
        }
    }

    /// The provider's token, from its cache when it has one.
    pub async fn valid_token(provider: &dyn TokenProvider) -> Result<crate::AccessToken, Error> {
        match provider.current() {
            Some(token) => Ok(token),
            None => provider.token().await,
        }
    }
}

impl std::fmt::Debug for Attach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(self.builder)
            .field("origins", &self.origins.serialised())
            .field("extra_headers", &self.headers.keys().collect::<Vec<_>>())
            .field("replace_authorization", &self.replace_authorization)
            .field("retry_unauthorized", &self.retry_unauthorized)
            .finish_non_exhaustive()
    }
}

/// Counts a request sent again after a 401 (`layer`: `reqwest`, `tower`); feature `metrics`.
pub fn count_unauthorized_retry(layer: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(crate::metrics::UNAUTHORIZED_RETRIES, "layer" => layer).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = layer;
}

/// Counts a request sent again with a DPoP nonce; feature `metrics`.
pub fn count_dpop_nonce_retry(layer: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(crate::metrics::DPOP_NONCE_RETRIES, "layer" => layer).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = layer;
}

/// Counts a lookup in a fleet's shared cache (`level` `shared`); feature `metrics`.
pub fn count_shared_lookup(provider: &str, hit: bool) {
    #[cfg(feature = "metrics")]
    {
        let name = if hit {
            crate::metrics::CACHE_HITS
        } else {
            crate::metrics::CACHE_MISSES
        };
        metrics::counter!(name, "provider" => provider.to_owned(), "level" => "shared")
            .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (provider, hit);
}

/// Records how long a replica waited on the fleet's lock; feature `metrics`.
pub fn record_lock_wait(provider: &str, waited: Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(crate::metrics::SHARED_LOCK_WAIT, "provider" => provider.to_owned())
        .record(waited.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (provider, waited);
}

/// `provider` behind one `Arc`: an `Arc<dyn TokenProvider>` is taken as it is, not wrapped
/// again.
pub fn shared_provider<P: TokenProvider + 'static>(provider: P) -> Arc<dyn TokenProvider> {
    match (&provider as &dyn std::any::Any).downcast_ref::<Arc<dyn TokenProvider>>() {
        Some(shared) => Arc::clone(shared),
        None => Arc::new(provider),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{Full, StreamBody};

    #[tokio::test]
    async fn bodies_are_read_up_to_the_limit_and_no_further() {
        let full = Full::new(bytes::Bytes::from_static(b"0123456789"));
        assert_eq!(read_limited(full.clone(), 10).await.unwrap(), b"0123456789");
        // A declared length over the limit is refused before reading.
        match read_limited(full, 9).await {
            Err(BodyError::TooLarge { seen }) => assert!(seen.is_empty()),
            other => panic!("{other:?}"),
        }
        // Without a declared length, reading stops at the chunk that passes the limit.
        let chunks = futures_util::stream::iter([b"abcd".as_slice(), b"efgh", b"ijkl"].map(|c| {
            Ok::<_, std::convert::Infallible>(http_body::Frame::data(bytes::Bytes::from_static(c)))
        }));
        match read_limited(StreamBody::new(chunks), 6).await {
            Err(BodyError::TooLarge { seen }) => assert_eq!(seen, b"abcd"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 7 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = SystemTime::now() + Duration::from_secs(120);
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_str(&httpdate::fmt_http_date(later)).unwrap(),
        );
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn shown_urls_drop_user_info_query_and_fragment() {
        let url =
            Url::parse("https://user:canary-pw@api.example.com/base/?key=canary-q#f").unwrap();
        assert_eq!(display_url(&url), "https://api.example.com/base/");
        assert_eq!(display_url_text("not a url canary"), "(not a URL)");
        for (url, loopback) in [
            ("http://127.0.0.2/", true),
            ("http://[::1]/", true),
            ("http://LOCALHOST:9/", true),
            ("http://a.localhost/", resolves_to_loopback("a.localhost")),
            ("http://localhost.example/", false),
            ("http://10.0.0.1/", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(url).unwrap()), loopback, "{url}");
        }
        // A name under `localhost` counts only as far as the resolver takes it to loopback.
        let name = "tokensmith-test.localhost";
        let resolved: Vec<std::net::IpAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(name, 0))
            .map(|a| a.map(|a| a.ip()).collect())
            .unwrap_or_default();
        let expected = !resolved.is_empty() && resolved.iter().all(|ip| ip.is_loopback());
        assert_eq!(
            is_loopback(&Url::parse(&format!("http://{name}:8080/")).unwrap()),
            expected,
            "{resolved:?}"
        );
    }
}
