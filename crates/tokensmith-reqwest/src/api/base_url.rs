//! A base URL, normalised once, that paths join under without losing its prefix.

use std::fmt;

use tokensmith_core::Error;
use tokensmith_http::display_url;
use url::Url;

/// An API's base URL: `http` or `https`, a host, no user info, query or fragment, and a path
/// that ends in `/` (added when missing), so that [`join`](Self::join) keeps the prefix.
///
/// ```
/// use tokensmith_reqwest::api::BaseUrl;
///
/// let base = BaseUrl::parse("https://api.example.com/tenant-7")?;
/// assert_eq!(base.join("/v1/items?page=2")?.as_str(), "https://api.example.com/tenant-7/v1/items?page=2");
/// assert!(base.join("../other/v1").is_err());
/// assert!(base.join("https://elsewhere.example/").is_err());
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BaseUrl(Url);

impl BaseUrl {
    /// Parses and normalises `text`. The text is not repeated in errors: a URL that does not
    /// parse may still hold a key.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let url = Url::parse(text.trim())
            .map_err(|e| Error::config(format!("the base URL is not a URL: {e}")))?;
        Self::from_url(url)
    }

    /// Normalises `url`.
    pub fn from_url(mut url: Url) -> Result<Self, Error> {
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            // Not repeated: without a host, what follows the scheme may be anything.
            return Err(Error::config(format!(
                "the base URL is a `{}:` URL; it must be http(s) with a host",
                url.scheme()
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Error::config(format!(
                "the base URL {} carries user info",
                display_url(&url)
            ))
            .with_hint("credentials go in the client's settings, where they are kept secret"));
        }
        if url.query().is_some() {
            return Err(Error::config(format!(
                "the base URL {} has a query string; give query parameters per call",
                display_url(&url)
            )));
        }
        url.set_fragment(None);
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(Self(url))
    }

    /// `path` (with or without a leading `/`, optionally with a query) under the base URL.
    /// A path that would leave it (an absolute URL, `..` above the prefix) is refused.
    pub fn join(&self, path: &str) -> Result<Url, Error> {
        let relative = path.trim_start_matches('/');
        let joined = self
            .0
            .join(relative)
            .map_err(|e| Error::config(format!("`{path}` cannot be joined to {self}: {e}")))?;
        let inside = joined.scheme() == self.0.scheme()
            && joined.host() == self.0.host()
            && joined.port_or_known_default() == self.0.port_or_known_default()
            && joined.username().is_empty()
            && joined.path().starts_with(self.0.path());
        if !inside {
            return Err(Error::config(format!(
                "`{path}` leaves the base URL {self}"
            )));
        }
        Ok(joined)
    }

    /// The URL itself.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The URL as text, ending in `/`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseUrl({})", self.0.as_str())
    }
}

impl std::str::FromStr for BaseUrl {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_kept_and_normalised_once() {
        for text in [
            "https://h.example/api",
            "https://h.example/api/",
            " https://h.example/api#top ",
        ] {
            let base = BaseUrl::parse(text).unwrap();
            assert_eq!(base.to_string(), "https://h.example/api/", "{text}");
            assert_eq!(
                base.join("/oauth/token").unwrap().as_str(),
                "https://h.example/api/oauth/token"
            );
            assert_eq!(
                base.join("v1/x?a=1&b=2").unwrap().as_str(),
                "https://h.example/api/v1/x?a=1&b=2"
            );
        }
        let root = BaseUrl::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            root.join("a/b").unwrap().as_str(),
            "http://127.0.0.1:8080/a/b"
        );
    }

    #[test]
    fn paths_that_leave_the_base_are_refused() {
        let base = BaseUrl::parse("https://h.example/api/").unwrap();
        for escape in [
            "../admin",
            "v1/../../admin",
            "%2e%2e/admin",
            "https://evil.example/api/",
            "//evil.example/api/",
            "http://h.example/api/x",
            "https://user@h.example/api/x",
        ] {
            let joined = base.join(escape);
            // `//evil.example/api/` reads as a path under the base once the slashes go.
            if let Ok(url) = &joined {
                assert_eq!(url.host_str(), Some("h.example"), "{escape}: {url}");
                assert!(url.path().starts_with("/api/"), "{escape}: {url}");
            } else {
                assert!(
                    joined
                        .unwrap_err()
                        .to_string()
                        .contains("leaves the base URL"),
                    "{escape}"
                );
            }
        }
        assert!(base.join("../admin").is_err());
        assert!(base.join("https://evil.example/api/").is_err());
    }

    #[test]
    fn bad_base_urls_are_typed_errors_that_repeat_no_secret() {
        for text in [
            "not a url canary-1",
            "ftp://h.example/",
            "https://user:canary-2@h.example/",
            "https://h.example/?api_key=canary-3",
            "mailto:canary-4@h.example",
        ] {
            let err = BaseUrl::parse(text).unwrap_err();
            assert!(!err.to_string().contains("canary"), "{text}: {err}");
        }
    }
}
