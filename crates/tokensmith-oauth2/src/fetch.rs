//! Metadata documents fetched with a time limit and a size cap: a server's (RFC 8414), a
//! protected resource's (RFC 9728). The transport follows no redirect, so a document is read
//! only from the URL asked for.

use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{Method, StatusCode};
use tokensmith_core::Error;
use tokensmith_http::transport::{SendError, send, with_url};
use tokensmith_http::{Transport, display_url, scrub_excerpt};
use url::Url;

/// Sends a JSON request to `url` (`Accept: application/json`, and `body` as
/// `application/json`) within `timeout`, reading at most `max_bytes` of the response.
/// `Ok(Err(status))`: the response, of that status, was larger. `what` names the URL in
/// errors ("the metadata URL").
pub(crate) async fn send_json(
    transport: &dyn Transport,
    method: Method,
    url: &Url,
    body: Option<Bytes>,
    timeout: Duration,
    max_bytes: usize,
    what: &str,
) -> Result<Result<Response<Bytes>, StatusCode>, Error> {
    let shown = display_url(url);
    let json = http::HeaderValue::from_static("application/json");
    let with_body = body.is_some();
    let mut request = with_url(method, url, body.unwrap_or_default())
        .map_err(|e| Error::config(format!("{what} cannot be requested: {e}")))?;
    if with_body {
        request.headers_mut().insert(CONTENT_TYPE, json.clone());
    }
    request.headers_mut().insert(ACCEPT, json);
    let sent = tokio::time::timeout(timeout, send(transport, request, max_bytes))
        .await
        .map_err(|_| Error::timeout(&shown, timeout))?;
    match sent {
        Ok(response) => Ok(Ok(response)),
        Err(SendError::Transport(e)) => Err(e.into_error(&shown, timeout)),
        Err(SendError::TooLarge { head, .. }) => Ok(Err(head.status)),
    }
}

/// The body of the JSON document at `url`; `Ok(None)` when the server has none there (a 4xx
/// answer). `what` names the document in errors ("the metadata").
pub(crate) async fn get_document(
    transport: &dyn Transport,
    url: &Url,
    timeout: Duration,
    max_bytes: usize,
    what: &str,
) -> Result<Option<Bytes>, Error> {
    let shown = display_url(url);
    let sent = send_json(
        transport,
        Method::GET,
        url,
        None,
        timeout,
        max_bytes,
        &format!("{what} URL"),
    )
    .await?;
    let response = match sent {
        Ok(response) => response,
        Err(status) if status.is_client_error() => return Ok(None),
        Err(_) => {
            return Err(Error::other(format!(
                "{what} at {shown} is larger than {max_bytes} bytes"
            )));
        }
    };
    let status = response.status();
    if status.is_client_error() {
        tracing::debug!(target: "tokensmith::oauth2", url = %shown, status = status.as_u16(), "no document here");
        return Ok(None);
    }
    if status != StatusCode::OK {
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|t| format!(" ({})", scrub_excerpt(t.as_bytes(), &[])))
            .unwrap_or_default();
        let hint = if status.is_redirection() {
            "a metadata document is read only where it was asked for: redirects are not \
             followed, so that a document cannot come from another origin"
        } else {
            "the server failed to serve it; try again later"
        };
        return Err(
            Error::other(format!("{what} at {shown} answered {status}{content_type}"))
                .with_hint(hint),
        );
    }
    Ok(Some(response.into_body()))
}

/// `url` with `path` and without query or fragment: a well-known URL on its origin.
pub(crate) fn at_path(url: &Url, path: &str) -> Url {
    let mut at = url.clone();
    at.set_path(path);
    at.set_query(None);
    at.set_fragment(None);
    at
}
