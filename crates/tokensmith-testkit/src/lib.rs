//! An embedded OAuth 2.0 authorization server for tests, examples and your own test suites.
//!
//! [`TestServer::start`] binds 127.0.0.1 on a free port in milliseconds and serves:
//! - a token endpoint that follows RFC 6749 faithfully (form body only, Basic or body client
//!   authentication per client, `client_credentials`, `password`, `refresh_token` with
//!   optional rotation, `authorization_code` with PKCE and `redirect_uri` checks, and the
//!   device grant of RFC 8628), with correct error bodies and statuses;
//! - an authorization endpoint that approves at once and redirects back with `code` and `state`;
//! - a protected API that accepts only live tokens it issued (401 with
//!   `WWW-Authenticate: Bearer error="invalid_token"` otherwise);
//! - a protected resource at `/resource` that says how to get its tokens: its metadata
//!   (RFC 9728), a challenge naming it and the scopes wanted, tokens checked for their
//!   resource (RFC 8707) and scope, a 403 `insufficient_scope` for step-up
//!   ([`resource_scopes`](TestServerBuilder::resource_scopes)); and dynamic client
//!   registration (RFC 7591) at `/register`;
//! - knobs and a [`mount`](TestServerBuilder::mount) point for vendor simulators, which live
//!   in the vendor crates (`tokensmith_avionte::testing`, …) and are built from [`sim`];
//! - fault injection ([`Fault`]), a request log with secrets masked ([`LoggedRequest`]) and
//!   [`Counters`].
//!
//! # Example
//! ```
//! use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Endpoint, TestServer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = TestServer::start().await?;
//! let answer: serde_json::Value = reqwest::Client::new()
//!     .post(server.token_url())
//!     .basic_auth(DEFAULT_CLIENT_ID, Some(DEFAULT_CLIENT_SECRET))
//!     .header("content-type", "application/x-www-form-urlencoded")
//!     .body("grant_type=client_credentials")
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert!(answer["access_token"].is_string());
//! assert_eq!(server.counters().tokens_issued, 1);
//! assert!(server.requests_to(Endpoint::Token)[0].has_form_key("grant_type"));
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
mod authorize;
mod capture;
mod config;
mod faults;
mod incoming;
mod log;
mod metadata;
#[cfg(feature = "metrics")]
mod metrics;
mod proof;
mod reply;
mod resource;
mod server;
pub mod sim;
mod state;
mod token;

pub use axum;

pub use crate::capture::TraceCapture;
pub use crate::config::{
    ClientConfig, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD,
    DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_REDIRECT_URI, DEFAULT_USERNAME, ErrorShape,
};
pub use crate::faults::{Fault, Target};
pub use crate::incoming::Incoming;
pub use crate::log::{Counters, Endpoint, LoggedRequest};
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub use crate::metrics::MetricsCapture;
pub use crate::server::{TestServer, TestServerBuilder};
pub use crate::state::Registry;
