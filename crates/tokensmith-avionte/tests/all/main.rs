//! The Avionté adapter against the embedded server's Avionté flavour.

use tokensmith_avionte::{AvionteBuilder, AvionteClient};
use tokensmith_testkit::{
    DEFAULT_API_KEY, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Flavour, TestServer,
};

mod api;
mod token;

pub(crate) async fn avionte() -> TestServer {
    TestServer::builder()
        .flavour(Flavour::Avionte {
            api_key: DEFAULT_API_KEY.into(),
        })
        .start()
        .await
        .unwrap()
}

pub(crate) fn builder(server: &TestServer) -> AvionteBuilder {
    AvionteClient::builder()
        .client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .api_key(DEFAULT_API_KEY)
        .base_url(server.url())
}
