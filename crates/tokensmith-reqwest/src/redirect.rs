//! Redirects that would carry credentials to another origin are not followed.
//!
//! reqwest drops `Authorization` when a redirect leaves the host, but not other headers such
//! as an API key. Clients that carry tokensmith credentials are built with
//! [`same_origin_redirects`], which stops at the first redirect to another origin and hands
//! the 3xx answer to the caller.

use reqwest::redirect::{Attempt, Policy};

/// Most redirects followed in a row, as reqwest's default policy.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// A redirect policy that follows redirects within one origin (scheme, host, port) and stops
/// at the first one to another origin.
pub fn same_origin_redirects() -> Policy {
    Policy::custom(decide)
}

fn decide(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    let leaves_origin = attempt
        .previous()
        .last()
        .is_some_and(|previous| previous.origin() != attempt.url().origin());
    if leaves_origin {
        tracing::debug!(
            target: "tokensmith::reqwest",
            to = %attempt.url().origin().ascii_serialization(),
            "not following a redirect to another origin: it would carry credentials there"
        );
        attempt.stop()
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error("too many redirects")
    } else {
        attempt.follow()
    }
}

/// A `reqwest::ClientBuilder` with [`same_origin_redirects`]: the client to put credentials
/// on.
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(same_origin_redirects())
        .user_agent(concat!("tokensmith/", env!("CARGO_PKG_VERSION")))
}
