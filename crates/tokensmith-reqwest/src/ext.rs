//! For users of plain reqwest: attach a provider's token to one request.

use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;
use tokensmith_core::{Error, TokenProvider};

use tokensmith_http::Attach;
use tokensmith_http::secure_or_loopback;

/// Adds a provider's token to a plain `reqwest::RequestBuilder`.
///
/// Only `Authorization` is set, which reqwest itself drops on a redirect to another host,
/// port or scheme; the request must go over https, or to loopback. For API keys and origin
/// rules use [`BearerAuth`](crate::BearerAuth).
///
/// ```
/// use tokensmith_core::StaticToken;
/// use tokensmith_reqwest::RequestBuilderExt;
///
/// # async fn demo() -> Result<(), tokensmith_core::Error> {
/// let provider = StaticToken::bearer("t")?;
/// let request = reqwest::Client::new()
///     .get("https://api.example.com/orders")
///     .bearer_from(&provider)
///     .await?;
/// # let _ = request;
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait RequestBuilderExt: Sized {
    /// Sets `Authorization` from `provider`'s current token (marked sensitive); refuses a
    /// request over plain http to a host that is not loopback.
    async fn bearer_from(self, provider: &(dyn TokenProvider + '_)) -> Result<Self, Error>;
}

#[async_trait]
impl RequestBuilderExt for reqwest::RequestBuilder {
    async fn bearer_from(self, provider: &(dyn TokenProvider + '_)) -> Result<Self, Error> {
        let (client, request) = self.build_split();
        let mut request = request.map_err(|e| {
            Error::config(format!("the request cannot be built: {}", e.without_url()))
        })?;
        if !secure_or_loopback(request.url()) {
            return Err(Error::config(format!(
                "refusing to send a token over plain http to {}",
                request.url().host_str().unwrap_or("")
            ))
            .with_hint("use https"));
        }
        let token = Attach::token(provider).await?;
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization_header());
        Ok(reqwest::RequestBuilder::from_parts(client, request))
    }
}
