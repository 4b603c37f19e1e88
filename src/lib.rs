//! tokensmith gets, caches and attaches OAuth 2.0 access tokens for the vendor APIs an
//! application calls.
//!
//! This facade re-exports the workspace's crates: [`tokensmith_core`]'s items at the top
//! level, and each protocol, middleware and vendor crate behind a feature of its own.
//!
//! # Glossary
//!
//! One word for each thing, across the crates:
//!
//! - **provider** ([`TokenProvider`]): hands out a token valid now; what clients and middleware
//!   hold. **source** ([`TokenSource`]): fetches a new token; a provider usually caches one.
//! - **grant**: how a source asks the token endpoint for a token (client credentials, refresh
//!   token, authorization code, …). **client authentication**: how the client proves itself
//!   to the token endpoint (Basic, body, `private_key_jwt`, mutual TLS).
//! - **registered client**: the client id and secret a server issued.
//! - **token identity** ([`TokenIdentity`]): everything that makes one source's tokens differ
//!   from another's; what caches key tokens by. **workload identity**: a platform's token
//!   about the running workload (Kubernetes, SPIFFE, CI), used instead of a client secret.
//! - **cache** ([`Cached`]): one process's cache of one source. **fleet**: the replicas of a
//!   service sharing tokens through Redis (`redis::FleetSource`).
//! - **response**: what a server sent back to a request (status, headers, body). A **refusal**
//!   is a response that declines the credentials (401, `invalid_client`).
//! - **origin**: scheme, host and port; credentials go only to the origins named for them.
//! - **transport** (`http::Transport`): what sends a built request and hands back its response.
//! - **attach**: put a token (and extra headers, a DPoP proof) on an API request; the
//!   **attach engine** decides what each request gets and what each response means.
//! - **resource**: an API that takes tokens, named by its **resource identifier** (a URL,
//!   RFC 8707); its **metadata** (RFC 9728) names its authorization servers. A **challenge**
//!   (`WWW-Authenticate`) is what a refusal says the resource wants; **discovery** follows it
//!   to a token (`oauth2::resource::ResourceAuth`), and a **step-up** asks for more scope.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use tokensmith_core::*;

/// The HTTP layer: where credentials may go, bounded responses, the transport seam of token
/// requests, DPoP, and the attach engine of the middleware (the `tokensmith-http` crate).
#[cfg(any(feature = "oauth2", feature = "reqwest", feature = "tower"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "oauth2", feature = "reqwest", feature = "tower")))
)]
pub use tokensmith_http as http;

#[cfg(feature = "dpop")]
#[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
pub use tokensmith_http::dpop;

/// The OAuth 2.0 token endpoint client: grants, client authentication, vendor hooks (the
/// `tokensmith-oauth2` crate).
#[cfg(feature = "oauth2")]
#[cfg_attr(docsrs, doc(cfg(feature = "oauth2")))]
pub use tokensmith_oauth2 as oauth2;

/// The `reqwest-middleware` middleware that attaches tokens (the `tokensmith-reqwest` crate).
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use tokensmith_reqwest as reqwest;

/// The tower layer that attaches tokens to `http` requests: hyper clients, tonic channels
/// (the `tokensmith-tower` crate).
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use tokensmith_tower as tower;

/// The AirVantage adapter: regions, grants, a typed client (the `tokensmith-airvantage` crate).
#[cfg(feature = "airvantage")]
#[cfg_attr(docsrs, doc(cfg(feature = "airvantage")))]
pub use tokensmith_airvantage as airvantage;

/// The Avionté adapter: API key, scope, tenants, 429 backoff (the `tokensmith-avionte` crate).
#[cfg(feature = "avionte")]
#[cfg_attr(docsrs, doc(cfg(feature = "avionte")))]
pub use tokensmith_avionte as avionte;

/// The generic Basic-client adapter: `{host}/oauth/token` with HTTP Basic, its error shapes
/// (the `tokensmith-basic` crate).
#[cfg(feature = "basic")]
#[cfg_attr(docsrs, doc(cfg(feature = "basic")))]
pub use tokensmith_basic as basic;
/// Secretless clients: a platform's workload identity token in place of a client secret
/// (the `tokensmith-workload` crate).
#[cfg(feature = "workload")]
#[cfg_attr(docsrs, doc(cfg(feature = "workload")))]
pub use tokensmith_workload as workload;

/// The token cache a fleet of replicas shares through Redis (the `tokensmith-redis` crate).
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use tokensmith_redis as redis;

/// The embedded authorization server for tests and examples (the `tokensmith-testkit` crate).
#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub use tokensmith_testkit as testkit;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
