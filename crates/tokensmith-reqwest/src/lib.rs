//! Attaches tokensmith tokens to reqwest requests, through `reqwest-middleware`.
//!
//! - [`BearerAuth`]: the middleware. Tokens (and extra headers such as an API key) go only to
//!   the origins it names; a 401 invalidates the token and retries once.
//! - [`client_builder`] / [`same_origin_redirects`]: a reqwest client that does not follow
//!   redirects to other origins, so no credential leaves through one.
//! - [`RequestAuth`]: per-request opt-out or another provider, as a request extension.
//! - [`RequestBuilderExt`]: one call to add a token to a plain `reqwest::RequestBuilder`.
//! - [`auth_error`]: finds the tokensmith error (and its hint) in a `reqwest_middleware::Error`.
//!
//! # Example
//! ```
//! use std::sync::Arc;
//! use tokensmith_core::{StaticToken, TokenProvider};
//! use tokensmith_reqwest::{BearerAuth, client_builder};
//!
//! let provider: Arc<dyn TokenProvider> = Arc::new(StaticToken::bearer("token")?);
//! let client = reqwest_middleware::ClientBuilder::new(client_builder().build().unwrap())
//!     .with(BearerAuth::new(provider).for_origin("https://api.example.com").build()?)
//!     .build();
//! // client.get("https://api.example.com/orders").send().await carries the token;
//! // client.get("https://elsewhere.example/").send().await does not.
//! # let _ = client;
//! # Ok::<(), tokensmith_core::Error>(())
//! ```

mod error;
mod ext;
mod middleware;
mod redirect;

pub use reqwest;
pub use reqwest_middleware;

pub use crate::error::{AuthError, auth_error};
pub use crate::ext::RequestBuilderExt;
pub use crate::middleware::{BearerAuth, BearerAuthBuilder, RequestAuth};
pub use crate::redirect::{client_builder, same_origin_redirects};
