//! Helpers shared by the test modules.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokensmith_core::Backoff;
use tokensmith_oauth2::{ClientAuth, RetryPolicy, TokenEndpoint, TokenEndpointBuilder};
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

/// Captures everything `tracing` writes at TRACE level, from every test in this binary.
///
/// A global subscriber, not a thread-local one: with tests running in parallel, a callsite
/// first hit on a thread without a subscriber would otherwise stay disabled.
#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub(crate) fn global() -> &'static Capture {
        static CAPTURE: OnceLock<Capture> = OnceLock::new();
        CAPTURE.get_or_init(|| {
            let capture = Capture::default();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(capture.clone())
                .with_ansi(false)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in this test binary");
            capture
        })
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
