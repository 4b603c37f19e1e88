//! The AirVantage adapter against its simulator on the embedded server.

use tokensmith_airvantage::{AirVantageBuilder, AirVantageClient, Region, testing};
use tokensmith_testkit::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_USERNAME, TestServer,
};

mod calls;
mod regions;
mod sign_in;
mod simulator;

/// The region a test server plays.
pub(crate) fn region_of(server: &TestServer) -> Region {
    server.url().parse().unwrap()
}

pub(crate) fn builder(server: &TestServer) -> AirVantageBuilder {
    AirVantageClient::builder(region_of(server)).client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
}

/// A client signed in as the default user with the password grant.
pub(crate) fn signed_in(server: &TestServer) -> AirVantageClient {
    builder(server)
        .password(DEFAULT_USERNAME, DEFAULT_PASSWORD)
        .build()
        .unwrap()
}

pub(crate) async fn airvantage(region: &str) -> TestServer {
    testing::start(region).await.unwrap()
}
