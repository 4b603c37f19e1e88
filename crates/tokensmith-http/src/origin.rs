//! Where credentials may go: the https-or-loopback rule, named origins, URLs shown without
//! their secrets.

use tokensmith_core::Error;
use url::{Host, Url};

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

/// Checks that a URL that carries secrets (a token endpoint, an issuer's metadata, the
/// device authorization endpoint) is https, or plain http to this machine, or plain http
/// where the user opted in by name (`allow_http`); `what` names it in the error.
pub fn require_secure(what: &str, url: &Url, allow_http: bool) -> Result<(), Error> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if allow_http || is_loopback(url) => Ok(()),
        "http" => Err(Error::config(format!(
            "refusing plain http for the {what} at {}: secrets would cross the network \
             unencrypted",
            url.host_str().unwrap_or("")
        ))
        .with_hint(
            "use https; for a closed test network call `.danger_allow_insecure_http()` on its \
             builder",
        )),
        other => Err(Error::config(format!(
            "{what} URL scheme `{other}` is not http or https"
        ))),
    }
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

    /// The one named origin, when exactly one is, in parts: where a request whose URI has no
    /// authority goes.
    pub fn single_origin(&self) -> Option<RequestOrigin<'_>> {
        match self.0.as_deref()? {
            [(scheme, host, port)] => Some(RequestOrigin {
                scheme,
                host: match host {
                    Host::Domain(name) => Host::Domain(name.as_str()),
                    Host::Ipv4(ip) => Host::Ipv4(*ip),
                    Host::Ipv6(ip) => Host::Ipv6(*ip),
                },
                port: Some(*port),
            }),
            _ => None,
        }
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

/// The origin of a request, as the engine weighs it: scheme, host and port.
#[derive(Debug, Clone)]
pub struct RequestOrigin<'a> {
    /// `https`, `http`.
    pub scheme: &'a str,
    /// The host.
    pub host: Host<&'a str>,
    /// The port, or the scheme's default.
    pub port: Option<u16>,
}

impl<'a> RequestOrigin<'a> {
    /// The origin of `url`; `None` without a host.
    pub fn of(url: &'a Url) -> Option<Self> {
        Some(Self {
            scheme: url.scheme(),
            host: url.host()?,
            port: url.port_or_known_default(),
        })
    }

    /// The origin of an absolute `http::Uri` (`https://api.example.com/x`), read without
    /// parsing it into a URL; `None` without a scheme or a host.
    pub fn of_uri(uri: &'a http::Uri) -> Option<Self> {
        let scheme = uri.scheme_str()?;
        let host = uri.host()?;
        let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => Host::Ipv6(v6.parse().ok()?),
            None => match host.parse() {
                Ok(v4) => Host::Ipv4(v4),
                Err(_) => Host::Domain(host),
            },
        };
        let port = uri.port_u16().or(match scheme {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        });
        Some(Self { scheme, host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
