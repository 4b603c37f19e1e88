//! tokensmith gets, caches and attaches OAuth 2.0 access tokens for the vendor APIs an
//! application calls.
//!
//! This facade re-exports the workspace's crates: [`tokensmith_core`]'s items at the top
//! level, and each protocol, middleware and vendor crate behind a feature of its own.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use tokensmith_core::*;

/// The OAuth 2.0 token endpoint client: grants, client authentication, vendor hooks (the
/// `tokensmith-oauth2` crate).
#[cfg(any(feature = "oauth2", feature = "reqwest", feature = "tower"))]
#[cfg_attr(
    docsrs,
    doc(cfg(any(feature = "oauth2", feature = "reqwest", feature = "tower")))
)]
pub use tokensmith_http as http;

#[cfg(feature = "dpop")]
#[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
pub use tokensmith_http::dpop;

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
