//! tokensmith gets, caches and attaches OAuth 2.0 access tokens for the vendor APIs an
//! application calls.
//!
//! This facade re-exports the workspace's crates: [`tokensmith_core`]'s items at the top
//! level, and each protocol, middleware and vendor crate behind a feature of its own.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use tokensmith_core::*;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
