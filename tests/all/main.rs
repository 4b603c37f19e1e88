//! Workspace integration tests: fault sweeps and the secret-leak sweep across every crate.

mod faults;
mod secrets;
