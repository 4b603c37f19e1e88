//! For users of plain reqwest: attach a provider's token to one request.

use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;
use tokensmith_core::{Error, TokenProvider};

use crate::middleware::valid_token;

/// Adds a provider's token to a plain `reqwest::RequestBuilder`.
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
    /// Sets `Authorization` from `provider`'s current token (marked sensitive).
    async fn bearer_from(self, provider: &(dyn TokenProvider + '_)) -> Result<Self, Error>;
}

#[async_trait]
impl RequestBuilderExt for reqwest::RequestBuilder {
    async fn bearer_from(self, provider: &(dyn TokenProvider + '_)) -> Result<Self, Error> {
        let token = valid_token(provider).await?;
        Ok(self.header(AUTHORIZATION, token.authorization_header()))
    }
}
