//! Providers that learn from a resource's challenges what token it wants: where its metadata
//! is (RFC 9728 §5.1), which scopes (RFC 6750 §3.1), how strong a sign-in (RFC 9470).

use async_trait::async_trait;
use http::StatusCode;
use tokensmith_core::{AccessToken, Error};
use url::Url;

use super::{Attach, Verdict};
use crate::challenge::Challenge;

/// The most times one request is sent again after a challenge: a first token, a step-up, and
/// one more. The handler bounds its own re-authorizations too.
pub const MAX_CHALLENGE_ROUNDS: usize = 3;

/// A token provider for one protected resource that is led by the resource's challenges
/// (`tokensmith_oauth2::resource::ResourceAuth`). A driver with one
/// ([`AttachBuilder::discover`](super::AttachBuilder::discover)) sends a request
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
    async fn ready(&self) -> bool;

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
fn is_challenge(status: StatusCode, headers: &http::HeaderMap) -> bool {
    status == StatusCode::UNAUTHORIZED
        || (status == StatusCode::FORBIDDEN && headers.contains_key(http::header::WWW_AUTHENTICATE))
}

/// One request's way through its resource's challenges, for a driver built with
/// [`AttachBuilder::discover`](super::AttachBuilder::discover): the token to send (none until
/// the handler is ready), and after each response whether to send the request again. Bounded:
/// one more send with a DPoP nonce, and at most [`MAX_CHALLENGE_ROUNDS`] after challenges.
pub struct Rounds<'a> {
    attach: &'a Attach,
    handler: &'a dyn ChallengeHandler,
    token: Option<AccessToken>,
    round: usize,
    nonce_sent: bool,
}

impl Attach {
    /// The rounds of a request for `url`, or `None` when it is not for the handler's resource
    /// (or there is no handler): it goes as it is.
    pub async fn rounds(&self, url: &Url) -> Result<Option<Rounds<'_>>, Error> {
        let Some(handler) = self.challenges().filter(|h| h.covers(url)) else {
            return Ok(None);
        };
        let provider = &*self.provider;
        let token = match provider.current() {
            Some(token) => Some(token),
            None if handler.ready().await => Some(provider.token().await?),
            None => None,
        };
        Ok(Some(Rounds {
            attach: self,
            handler,
            token,
            round: 0,
            nonce_sent: false,
        }))
    }
}

impl Rounds<'_> {
    /// The token to send the request with, if any yet.
    pub fn token(&self) -> Option<&AccessToken> {
        self.token.as_ref()
    }

    /// Whether to send the request for `url` again (with [`token`](Self::token)) after a
    /// response with `status` and `headers`; `htu` as for [`Attach::sign`], `has_copy`
    /// whether the driver kept a copy to send. A response that is no challenge, or that the
    /// handler cannot answer with another token, is the answer; the handler learns from a
    /// challenge even when there is no copy, so that the next request carries a token.
    pub async fn again(
        &mut self,
        url: &Url,
        htu: Option<&Url>,
        status: StatusCode,
        headers: &http::HeaderMap,
        has_copy: bool,
    ) -> Result<bool, Error> {
        if let Some(sent) = &self.token
            && !self.nonce_sent
            && has_copy
            && self.attach.judge(sent, htu, status, headers, false, true) == Verdict::SendWithNonce
        {
            // RFC 9449 §9: the same token once more, with the nonce just given.
            self.nonce_sent = true;
            return Ok(true);
        }
        if self.round == MAX_CHALLENGE_ROUNDS || !is_challenge(status, headers) {
            return Ok(false);
        }
        let challenges = crate::challenge::from_headers(headers)?;
        let fresh = self
            .handler
            .challenged(url, status, &challenges, self.token.as_ref())
            .await?;
        let Some(fresh) = fresh.filter(|_| has_copy) else {
            return Ok(false);
        };
        tracing::debug!(target: "tokensmith::http", layer = self.attach.layer, status = status.as_u16(), "challenged; sending again with the token it led to");
        self.token = Some(fresh);
        self.round += 1;
        Ok(true)
    }
}
