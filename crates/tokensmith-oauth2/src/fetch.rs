//! Metadata documents fetched with a time limit and a size cap: a server's (RFC 8414), a
//! protected resource's (RFC 9728). The transport follows no redirect, so a document is read
//! only from the URL asked for.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE};
use http::{Method, StatusCode};
use tokensmith_core::Error;
use tokensmith_http::transport::{SendError, send, with_url};
use tokensmith_http::{Transport, display_url, scrub_excerpt};
use url::Url;

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
    let mut request = with_url(Method::GET, url, Bytes::new())
        .map_err(|e| Error::config(format!("{what} URL cannot be requested: {e}")))?;
    request
        .headers_mut()
        .insert(ACCEPT, http::HeaderValue::from_static("application/json"));
    let sent = tokio::time::timeout(timeout, send(transport, request, max_bytes))
        .await
        .map_err(|_| Error::timeout(&shown, timeout))?;
    let response = match sent {
        Ok(response) => response,
        Err(SendError::Transport(e)) => return Err(e.into_error(&shown, timeout)),
        Err(SendError::TooLarge { head, .. }) if head.status.is_client_error() => {
            return Ok(None);
        }
        Err(SendError::TooLarge { .. }) => {
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
