//! Requests to a resource whose challenges lead to its token ([`AuthLayer::discover`]).

use std::sync::Arc;

use http::{Request, Response};
use tokensmith_http::attach::{MAX_CHALLENGE_ROUNDS, is_challenge};
use tokensmith_http::{Attach, Verdict, challenge};
use tower_service::Service;

use crate::{AuthBody, BoxError, attach, htu, try_clone, url_of};

#[cfg(doc)]
use crate::AuthLayer;

/// Sends `request` without a token until the handler is ready; each 401, and each 403 with a
/// challenge, goes to the handler, and the request is sent again with the token it gives, at
/// most [`MAX_CHALLENGE_ROUNDS`] times. A body that cannot be copied is sent once: its answer
/// is returned, after the handler has learned from it.
pub(crate) async fn discovering<S, B, R>(
    config: Arc<Attach>,
    mut inner: S,
    mut request: Request<B>,
) -> Result<Response<AuthBody<R>>, BoxError>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    let resource_url = url_of(request.uri(), config.origins());
    let Some(handler) = config
        .challenges()
        .filter(|h| resource_url.as_ref().is_some_and(|url| h.covers(url)))
    else {
        return crate::answer(inner.call(request).await);
    };
    let provider = &**config.usual_provider();
    let mut token = match provider.current() {
        Some(token) => Some(token),
        None if handler.ready() => Some(provider.token().await?),
        None => None,
    };
    let proof_url = htu(&config, request.uri());
    let mut nonce_sent = false;
    for round in 0..=MAX_CHALLENGE_ROUNDS {
        let copy = try_clone(&request);
        attach(&config, &mut request, proof_url.as_ref(), token.as_ref())?;
        let response = inner.call(request).await.map_err(Into::into)?;
        let status = response.status();
        if let Some(sent) = &token
            && !nonce_sent
            && config.judge(
                sent,
                proof_url.as_ref(),
                status,
                response.headers(),
                false,
                copy.is_some(),
            ) == Verdict::SendWithNonce
            && let Some(copy) = copy
        {
            // RFC 9449 §9: the same token once more, with the nonce just given.
            nonce_sent = true;
            request = copy;
            continue;
        }
        if round == MAX_CHALLENGE_ROUNDS || !is_challenge(status, response.headers()) {
            return Ok(response.map(AuthBody::plain));
        }
        let challenges =
            challenge::from_headers(response.headers()).map_err(tokensmith_core::Error::from)?;
        let fresh = handler
            .challenged(
                resource_url.as_ref().unwrap_or_else(|| handler.resource()),
                status,
                &challenges,
                token.as_ref(),
            )
            .await?;
        let (Some(fresh), Some(copy)) = (fresh, copy) else {
            return Ok(response.map(AuthBody::plain));
        };
        tracing::debug!(target: "tokensmith::tower", status = status.as_u16(), "challenged; sending again with the token it led to");
        drop(response);
        token = Some(fresh);
        request = copy;
    }
    Err(tokensmith_core::Error::other("the challenge rounds ended without an answer").into())
}
