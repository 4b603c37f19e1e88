//! How many operations each instruction benchmark runs: the bench binary loops this many
//! times, and `cargo xtask bench` divides by the same numbers.

/// Cache hits per measurement.
pub(crate) const HITS: usize = 1000;
/// Requests per measurement.
pub(crate) const REQUESTS: usize = 50;
/// Token fetches per measurement.
pub(crate) const FETCHES: usize = 20;
/// The gungraun version of the bench binary; the runner installed must be the same.
#[allow(dead_code)]
pub(crate) const GUNGRAUN: &str = "0.20.0";
