//! Requests to a resource whose challenges lead to its token ([`BearerAuth::discover`]).

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::Next;

use super::{BearerAuth, auth_failed, replay_copy};

impl BearerAuth {
    /// A request to a resource whose challenges lead to its token
    /// ([`BearerAuth::discover`]): sent without a token until the handler is ready; each 401,
    /// and each 403 with a challenge, goes to the handler, and the request is sent again with
    /// the token it gives, a bounded number of times (`tokensmith_http::attach::Rounds`). A
    /// body that streams cannot
    /// be sent again: its answer is returned, after the handler has learned from it.
    pub(super) async fn discovering(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let url = request.url().clone();
        let Some(mut rounds) = self.attach.rounds(&url).await.map_err(auth_failed)? else {
            return next.run(request, extensions).await;
        };
        let htu = self.attach.proves_possession().then_some(&url);
        loop {
            let copy = replay_copy(&request);
            self.attach(&mut request, rounds.token())?;
            let response = next.clone().run(request, extensions).await?;
            let again = rounds
                .again(
                    &url,
                    htu,
                    response.status(),
                    response.headers(),
                    copy.is_some(),
                )
                .await
                .map_err(auth_failed)?;
            match (again, copy) {
                (true, Some(copy)) => request = copy,
                _ => return Ok(response),
            }
        }
    }
}
