//! The testkit's own tests: each endpoint's behaviour, checked with plain HTTP requests so the
//! emulation is proven independently of the client crates.

mod api;
mod code_flow;
mod device;
mod faults;
mod support;
mod token_endpoint;
