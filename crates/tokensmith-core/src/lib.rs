//! The core of tokensmith: what every provider, grant and middleware agrees on.
//!
//! - [`TokenProvider`]: hands out a token that is valid now (what API clients hold).
//! - [`TokenSource`]: fetches a fresh token (what grants implement; only the cache calls it).
//! - [`Cached`]: the provider that wraps a source: lock-free hits, one fetch at a time,
//!   refresh ahead of expiry, backoff after failures.
//! - [`AccessToken`]: the secret, its type, expiry and scopes; cheap to clone, never printed.
//! - [`Error`]: one error type for every crate, with a [`hint`](Error::hint) naming the likely
//!   cause.
//!
//! Library authors who only need a token depend on this crate alone and take an
//! `Arc<dyn TokenProvider>`.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use tokensmith_core::{StaticToken, TokenProvider};
//!
//! async fn call_api(auth: Arc<dyn TokenProvider>) -> Result<String, tokensmith_core::Error> {
//!     let token = auth.token().await?;
//!     Ok(token.authorization_header().to_str().unwrap_or_default().to_owned())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tokensmith_core::Error> {
//! let auth: Arc<dyn TokenProvider> = Arc::new(StaticToken::bearer("abc")?);
//! assert_eq!(call_api(auth).await?, "Bearer abc");
//! # Ok(())
//! # }
//! ```
#![cfg_attr(feature = "mock", doc = include_str!("../docs/mock.md"))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backoff;
mod cache;
mod error;
mod keyed;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
mod provider;
mod secret;
mod token;

pub use secrecy::{ExposeSecret, SecretString};

pub use crate::backoff::{Backoff, RetryPolicy};
pub use crate::cache::{CacheEvent, CacheStats, Cached, CachedBuilder, RefreshAhead};
pub use crate::error::{
    Error, ErrorCode, ErrorKind, ErrorSource, MAX_CODE_CHARS, OAuthError, UnexpectedResponse,
};
pub use crate::keyed::TokenManager;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub use crate::provider::MockTokenProvider;
pub use crate::provider::{
    RequestAuth, StaticToken, TokenIdentity, TokenProvider, TokenSource, arc_provider,
};
pub use crate::token::{AccessToken, AccessTokenBuilder, TokenSecret, TokenType};
