//! Workspace integration tests: fault sweeps and the secret-leak sweep across every crate.

mod faults;
#[cfg(all(feature = "mock", feature = "airvantage", feature = "avionte"))]
mod mock;
#[cfg(all(feature = "jwt", feature = "dpop", feature = "testkit"))]
mod modern;
mod secrets;
