//! Helpers shared by the test modules.

use std::time::Duration;
use tokensmith_core::RetryPolicy;

use serde_json::{Value, json};
use tokensmith_core::{Backoff, Error, TokenSource};
use tokensmith_oauth2::{ClientAuth, ClientCredentials, TokenEndpoint, TokenEndpointBuilder};
use wiremock::{MockServer, Request};

pub(crate) const CLIENT_ID: &str = "client-1";
pub(crate) const CLIENT_SECRET: &str = "s3cret";

/// An endpoint at `{server}/token` with the test client and fast retries.
pub(crate) fn endpoint(server: &MockServer, auth: ClientAuth) -> TokenEndpointBuilder {
    TokenEndpoint::builder(format!("{}/token", server.uri()))
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .auth(auth)
        .retry(fast_retries(3))
}

/// The error one client-credentials fetch at `endpoint` ends in; panics if it succeeds.
pub(crate) async fn client_credentials_error(endpoint: TokenEndpoint) -> Error {
    ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap_err()
}

pub(crate) fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .attempts(attempts)
        .backoff(Backoff::new(
            Duration::from_millis(5),
            Duration::from_millis(20),
        ))
}

pub(crate) fn token_body(token: &str, expires_in: u64) -> Value {
    json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in})
}

/// The requests the server received.
pub(crate) async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

/// A request's form body as pairs, in order.
pub(crate) fn form(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn form_value(request: &Request, name: &str) -> Option<String> {
    form(request)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub(crate) fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
