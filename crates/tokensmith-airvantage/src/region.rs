//! AirVantage regions: one base URL serves both the token endpoint and the API.

use std::fmt;
use std::str::FromStr;

use tokensmith_core::Error;
use tokensmith_reqwest::api::BaseUrl;

/// The AirVantage data centre an account lives in. Chosen once; tokens and API calls both go
/// there, so a token from one region is never sent to the other.
///
/// ```
/// use tokensmith_airvantage::Region;
///
/// let region: Region = "eu".parse()?;
/// assert_eq!(region.base_url().to_string(), "https://eu.airvantage.net/");
/// // A custom base URL keeps its path prefix.
/// let custom: Region = "https://av.example.com/airvantage".parse()?;
/// assert_eq!(custom.base_url().join("api/oauth/token")?.as_str(), "https://av.example.com/airvantage/api/oauth/token");
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
    /// Another data centre, or a test server (its path prefix is kept).
    Custom(BaseUrl),
}

impl Region {
    /// The base URL of the region.
    pub fn base_url(&self) -> BaseUrl {
        match self {
            Self::Na => "https://na.airvantage.net/".parse().expect("static URL"),
            Self::Eu => "https://eu.airvantage.net/".parse().expect("static URL"),
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

/// A custom base URL has no user info or query (they are refused), so it is shown whole.
impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Na => f.write_str("na"),
            Self::Eu => f.write_str("eu"),
            Self::Custom(url) => write!(f, "{url}"),
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
            return Ok(Self::Custom(BaseUrl::parse(text)?));
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
    fn a_custom_base_url_keeps_its_prefix_and_refuses_credentials_or_query() {
        let region: Region = "https://av.example.com/base#top".parse().unwrap();
        assert_eq!(
            format!("{region} {region:?}"),
            "https://av.example.com/base/ Custom(https://av.example.com/base/)"
        );
        for text in [
            "https://user:canary-pw@av.example.com/base",
            "https://av.example.com/base?key=canary-q",
            "https://bad host/?key=canary-k",
        ] {
            let err = text.parse::<Region>().unwrap_err();
            assert!(!err.to_string().contains("canary"), "{err}");
        }
    }
}
