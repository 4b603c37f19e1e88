//! A counting token source and client helpers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use reqwest_middleware::ClientWithMiddleware;
use tokensmith_core::{AccessToken, Cached, Error, TokenSource};
use tokensmith_reqwest::BearerAuthBuilder;
use wiremock::{MockServer, Request};

/// Issues `token-1`, `token-2`, … and counts its fetches.
#[derive(Default)]
pub(crate) struct Issuer {
    pub(crate) fetches: AtomicU32,
}

#[async_trait]
impl TokenSource for Issuer {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
        AccessToken::builder(format!("token-{n}"))
            .expires_in(Duration::from_secs(3600))
            .build()
    }
}

pub(crate) fn cached_issuer() -> Cached<Arc<Issuer>> {
    Cached::new(Arc::new(Issuer::default()))
}

pub(crate) fn fetches(cache: &Cached<Arc<Issuer>>) -> u32 {
    cache.source().fetches.load(Ordering::SeqCst)
}

/// The client that comes with the middleware `auth` builds.
pub(crate) fn client_with(auth: BearerAuthBuilder) -> ClientWithMiddleware {
    auth.build().unwrap().into_client(None).unwrap()
}

pub(crate) fn authorization(request: &Request) -> Option<String> {
    request
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub(crate) async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

pub(crate) fn provider(cache: &Cached<Arc<Issuer>>) -> Arc<dyn tokensmith_core::TokenProvider> {
    Arc::new(cache.clone())
}
