//! AirVantage regions: one base URL serves both the token endpoint and the API.

use std::fmt;
use std::str::FromStr;

use tokensmith_core::Error;
use url::Url;

/// The AirVantage data centre an account lives in. Chosen once; tokens and API calls both go
/// there, so a token from one region is never sent to the other.
///
/// ```
/// use tokensmith_airvantage::Region;
///
/// let region: Region = "eu".parse()?;
/// assert_eq!(region.base_url().as_str(), "https://eu.airvantage.net/");
/// assert!("mars".parse::<Region>().unwrap_err().to_string().contains("`na`, `eu`"));
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Region {
    /// North America: `https://na.airvantage.net`.
    Na,
    /// Europe: `https://eu.airvantage.net`.
    Eu,
    /// Another data centre, or a test server.
    Custom(Url),
}

impl Region {
    /// The base URL of the region.
    pub fn base_url(&self) -> Url {
        match self {
            Self::Na => Url::parse("https://na.airvantage.net/").expect("static URL"),
            Self::Eu => Url::parse("https://eu.airvantage.net/").expect("static URL"),
            Self::Custom(url) => url.clone(),
        }
    }

    /// The other of the two public regions, for hints.
    pub(crate) fn other(&self) -> Option<Region> {
        match self {
            Self::Na => Some(Self::Eu),
            Self::Eu => Some(Self::Na),
            Self::Custom(_) => None,
        }
    }
}

/// A custom base URL is shown without user info, query or fragment, which may hold secrets.
impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Na => f.write_str("na"),
            Self::Eu => f.write_str("eu"),
            Self::Custom(url) => {
                let mut shown = url.clone();
                let _ = shown.set_username("");
                let _ = shown.set_password(None);
                shown.set_query(None);
                shown.set_fragment(None);
                write!(f, "{shown}")
            }
        }
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Na => f.write_str("Na"),
            Self::Eu => f.write_str("Eu"),
            Self::Custom(_) => write!(f, "Custom({self})"),
        }
    }
}

impl FromStr for Region {
    type Err = Error;

    /// `na`, `eu` (any case), or a base URL such as `https://na.airvantage.net`.
    fn from_str(text: &str) -> Result<Self, Error> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("na") {
            return Ok(Self::Na);
        }
        if text.eq_ignore_ascii_case("eu") {
            return Ok(Self::Eu);
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            let mut url = Url::parse(text)
                .map_err(|e| Error::config(format!("the AirVantage base URL is not a URL: {e}")))?;
            if !url.path().ends_with('/') {
                let path = format!("{}/", url.path());
                url.set_path(&path);
            }
            return Ok(Self::Custom(url));
        }
        Err(Error::config(format!(
            "unknown AirVantage region `{text}`: use `na`, `eu`, or a base URL such as https://na.airvantage.net"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_base_url_is_shown_without_credentials_or_query() {
        let region: Region = "https://user:canary-pw@av.example.com/base?key=canary-q"
            .parse()
            .unwrap();
        for text in [format!("{region}"), format!("{region:?}")] {
            assert!(!text.contains("canary"), "{text}");
            assert!(text.contains("av.example.com/base/"), "{text}");
        }
        let err = "https://bad host/?key=canary-k"
            .parse::<Region>()
            .unwrap_err();
        assert!(!err.to_string().contains("canary"), "{err}");
    }
}
