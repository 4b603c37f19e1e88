//! Providers that learn from a resource's challenges what token it wants: where its metadata
//! is (RFC 9728 §5.1), which scopes (RFC 6750 §3.1), how strong a sign-in (RFC 9470).

use async_trait::async_trait;
use http::StatusCode;
use tokensmith_core::{AccessToken, Error};
use url::Url;

use crate::challenge::Challenge;

/// The most times one request is sent again after a challenge: a first token, a step-up, and
/// one more. The handler bounds its own re-authorizations too.
pub const MAX_CHALLENGE_ROUNDS: usize = 3;

/// A token provider for one protected resource that is led by the resource's challenges
/// (`tokensmith_oauth2::resource::ResourceAuth`). A driver with one
/// ([`AttachBuilder::challenged_by`](super::AttachBuilder::challenged_by)) sends a request
/// without a token until the handler is [`ready`](Self::ready), and hands every 401, and
/// every 403 with a challenge, to [`challenged`](Self::challenged).
#[async_trait]
pub trait ChallengeHandler: Send + Sync + 'static {
    /// The URL of the resource the tokens are for; its origin is the only one they go to.
    fn resource(&self) -> &Url;

    /// Whether a request for `url` is for this resource: only those carry its tokens and have
    /// their challenges handled; others on the same origin go as they are.
    fn covers(&self, url: &Url) -> bool {
        let _ = url;
        true
    }

    /// Whether a token can be had without a challenge (one was met already, or a stored
    /// session exists). Until then requests go without a token, so that the resource's first
    /// 401 says what it wants.
    fn ready(&self) -> bool;

    /// The answer to a request for `url` sent with `sent` (`None`: without a token) was
    /// `status` with `challenges`. The token to send the request again with, or `None` when
    /// the answer stands (the resource asks for nothing a new token would give). An error
    /// when the challenge leads nowhere safe (metadata for another resource, say): it says
    /// more than the 401.
    async fn challenged(
        &self,
        url: &Url,
        status: StatusCode,
        challenges: &[Challenge],
        sent: Option<&AccessToken>,
    ) -> Result<Option<AccessToken>, Error>;
}

/// Whether a driver hands the answer with `status` to the handler: a 401, or a 403 that
/// carries a challenge (`insufficient_scope`, RFC 6750 §3.1).
pub fn is_challenge(status: StatusCode, headers: &http::HeaderMap) -> bool {
    status == StatusCode::UNAUTHORIZED
        || (status == StatusCode::FORBIDDEN && headers.contains_key(http::header::WWW_AUTHENTICATE))
}
