//! The Avionté adapter against its simulator on the embedded server.

use tokensmith_avionte::{AvionteBuilder, AvionteClient, testing};
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, TestServer};

mod api;
mod simulator;
mod token;

pub(crate) async fn avionte() -> TestServer {
    testing::start().await.unwrap()
}

pub(crate) fn builder(server: &TestServer) -> AvionteBuilder {
    AvionteClient::builder()
        .client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .api_key(testing::API_KEY)
        .base_url(server.url())
}
