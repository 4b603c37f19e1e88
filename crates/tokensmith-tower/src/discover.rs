//! Requests to a resource whose challenges lead to its token ([`AuthLayer::discover`]).

use std::sync::Arc;

use http::{Request, Response};
use tokensmith_http::Attach;
use tower_service::Service;

use crate::{AuthBody, BoxError, attach, htu, try_clone, url_of};

#[cfg(doc)]
use crate::AuthLayer;

/// Sends `request` without a token until the handler is ready; each 401, and each 403 with a
/// challenge, goes to the handler, and the request is sent again with the token it gives, a
/// bounded number of times (`tokensmith_http::attach::Rounds`). A body that cannot be copied
/// is sent once: its answer is returned, after the handler has learned from it.
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
    let Some(url) = url_of(request.uri(), config.origins()) else {
        return crate::answer(inner.call(request).await);
    };
    let Some(mut rounds) = config.rounds(&url).await? else {
        return crate::answer(inner.call(request).await);
    };
    let proof_url = htu(&config, request.uri());
    loop {
        let copy = try_clone(&request);
        attach(&config, &mut request, proof_url.as_ref(), rounds.token())?;
        let response = inner.call(request).await.map_err(Into::into)?;
        let again = rounds
            .again(
                &url,
                proof_url.as_ref(),
                response.status(),
                response.headers(),
                copy.is_some(),
            )
            .await?;
        match (again, copy) {
            (true, Some(copy)) => request = copy,
            _ => return Ok(response.map(AuthBody::plain)),
        }
    }
}
