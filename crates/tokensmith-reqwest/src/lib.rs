//! Attaches tokensmith tokens to reqwest requests, through `reqwest-middleware`.
//!
//! - [`BearerAuth`]: the middleware, which comes with the client it runs on
//!   ([`BearerAuth::into_client`]). Tokens (and extra headers such as an API key) go only to
//!   the origins it names, over https; a 401 invalidates the token and retries once; the
//!   client follows no redirect to another origin and sends no `Referer`, whatever
//!   `reqwest::ClientBuilder` you give it.
//! - [`client_builder`] / [`same_origin_redirects`]: the default client settings.
//! - [`RequestAuth`]: per-request opt-out or another provider, as a request extension.
//! - [`RequestBuilderExt`]: one call to add a token to a plain `reqwest::RequestBuilder`.
//! - [`auth_error`]: finds the tokensmith error (and its hint) in a `reqwest_middleware::Error`.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use tokensmith_core::{StaticToken, TokenProvider};
//! use tokensmith_reqwest::BearerAuth;
//!
//! let provider: Arc<dyn TokenProvider> = Arc::new(StaticToken::bearer("token")?);
//! let client = BearerAuth::builder(provider)
//!     .for_origin("https://api.example.com")
//!     .build()?
//!     .into_client(None)?;
//! // client.get("https://api.example.com/orders").send().await carries the token;
//! // client.get("https://elsewhere.example/").send().await does not.
//! # let _ = client;
//! # Ok::<(), tokensmith_core::Error>(())
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api;
mod error;
mod ext;
mod middleware;
mod redirect;

pub use reqwest;
pub use reqwest_middleware;

pub use crate::error::{AuthError, auth_error};
pub use crate::ext::RequestBuilderExt;
pub use crate::middleware::{BearerAuth, BearerAuthBuilder};
pub use crate::redirect::{client_builder, same_origin_redirects};
pub use tokensmith_core::RequestAuth;
