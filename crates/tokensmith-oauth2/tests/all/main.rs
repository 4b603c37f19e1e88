//! Integration tests of the token endpoint client, against HTTP servers on 127.0.0.1.

mod client_auth;
mod discovery_tls;
mod edges;
mod error_shapes;
mod grants;
mod limits;
mod responses;
mod retries;
mod secrets;
mod support;
mod testkit;
mod transport;
mod user_grants;
