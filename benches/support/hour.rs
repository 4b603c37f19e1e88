//! The token source both bench binaries cache: a one-hour token, issued at once.

use std::time::Duration;

use async_trait::async_trait;
use tokensmith::{AccessToken, Error, TokenSource};

/// A source that issues a one-hour token at once.
pub(crate) struct Instant1h;

#[async_trait]
impl TokenSource for Instant1h {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        AccessToken::builder("bench-token")
            .expires_in(Duration::from_secs(3600))
            .build()
    }
}
