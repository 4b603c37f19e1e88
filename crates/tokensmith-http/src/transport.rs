//! The seam between building a request and sending it: a one-method [`Transport`] that takes
//! an `http::Request<Bytes>` and gives back the answer, its body read by the caller up to a
//! limit ([`send`]). reqwest is one transport (feature `reqwest`); any HTTP client is another.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use tokensmith_core::Error;

use crate::body::{BodyError, read_limited};

/// An error from an HTTP client or a body, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of an answer as a transport hands it back: read by the caller, up to its limit.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// The future [`Transport::send`] returns.
pub type Sending<'a> =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, TransportError>> + Send + 'a>>;

/// Sends one request and hands back the answer with its body unread.
///
/// A transport sends the request as it is: it follows no redirect (a token request's body
/// carries secrets, and the caller decides what a 3xx means), sets no `Referer` and keeps no
/// cookies. Timeouts are the caller's; a transport may have its own connect timeout.
///
/// ```
/// use tokensmith_http::transport::{Sending, Transport, TransportError};
///
/// /// A transport that never reaches a server.
/// struct Offline;
///
/// impl Transport for Offline {
///     fn send(&self, _request: http::Request<bytes::Bytes>) -> Sending<'_> {
///         Box::pin(async { Err(TransportError::connect("offline".into())) })
///     }
/// }
/// ```
pub trait Transport: Send + Sync + 'static {
    /// Sends `request`; the answer's body is read by the caller.
    fn send(&self, request: Request<Bytes>) -> Sending<'_>;
}

impl<T: Transport + ?Sized> Transport for Arc<T> {
    fn send(&self, request: Request<Bytes>) -> Sending<'_> {
        (**self).send(request)
    }
}

/// A request's URL as a parsed `url::Url`, kept in its extensions by [`with_url`].
#[derive(Debug, Clone)]
struct ParsedUrl(url::Url);

/// A request to `url` with `method` and `body`: its `Uri` made from the URL, and the parsed
/// URL kept beside it for transports that take one (reqwest), which then do not parse the
/// `Uri` again. A transport uses the kept URL only when it is the `Uri`'s own.
pub fn with_url(
    method: http::Method,
    url: &url::Url,
    body: Bytes,
) -> Result<Request<Bytes>, http::Error> {
    let mut request = Request::builder()
        .method(method)
        .uri(url.as_str())
        .body(body)?;
    request.extensions_mut().insert(ParsedUrl(url.clone()));
    Ok(request)
}

/// The URL [`with_url`] kept beside the request's `Uri`, when it is that `Uri`'s: for a
/// transport over a client that takes a parsed `url::Url`.
pub fn parsed_url<B>(request: &Request<B>) -> Option<&url::Url> {
    request
        .extensions()
        .get::<ParsedUrl>()
        .map(|ParsedUrl(url)| url)
        .filter(|url| request.uri() == url.as_str())
}

/// `transport` behind one `Arc`; an `Arc<dyn Transport>` is taken as it is.
pub fn arc_transport<T: Transport>(transport: T) -> Arc<dyn Transport> {
    match (&transport as &dyn std::any::Any).downcast_ref::<Arc<dyn Transport>>() {
        Some(shared) => Arc::clone(shared),
        None => Arc::new(transport),
    }
}

/// Why a request got no answer.
#[derive(Debug)]
pub struct TransportError {
    kind: Kind,
    source: BoxError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    Timeout,
    Other,
}

impl TransportError {
    /// No connection was made: the request certainly did not reach the server.
    pub fn connect(source: BoxError) -> Self {
        Self {
            kind: Kind::Connect,
            source,
        }
    }

    /// The client's own timeout passed.
    pub fn timeout(source: BoxError) -> Self {
        Self {
            kind: Kind::Timeout,
            source,
        }
    }

    /// Anything else: the connection failed after the request may have reached the server.
    pub fn other(source: BoxError) -> Self {
        Self {
            kind: Kind::Other,
            source,
        }
    }

    /// Whether the request certainly did not reach the server.
    pub fn is_connect(&self) -> bool {
        self.kind == Kind::Connect
    }

    /// Whether the client's own timeout passed.
    pub fn is_timeout(&self) -> bool {
        self.kind == Kind::Timeout
    }

    /// The error for a request to `endpoint` (as logs show it) allowed `timeout`: a
    /// timeout, or a transport error whose message walks the whole chain of causes.
    pub fn into_error(self, endpoint: &str, timeout: std::time::Duration) -> Error {
        if self.is_timeout() {
            return Error::timeout(endpoint, timeout);
        }
        let mut message = self.source.to_string();
        let mut source = self.source.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Error::transport(endpoint, message, Some(Arc::from(self.source)))
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.source, f)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Why [`send`] has no answer to hand back.
#[derive(Debug)]
pub enum SendError {
    /// No answer, or the connection failed while its body was read.
    Transport(TransportError),
    /// The answer's body passed the limit: its head and the bytes read before the limit.
    TooLarge {
        /// The answer's status and headers.
        head: Box<http::response::Parts>,
        /// The bytes read before stopping.
        seen: Vec<u8>,
    },
}

/// Sends `request` through `transport` and reads the answer's body up to `limit` bytes.
pub async fn send(
    transport: &dyn Transport,
    request: Request<Bytes>,
    limit: usize,
) -> Result<Response<Bytes>, SendError> {
    let (head, body) = transport
        .send(request)
        .await
        .map_err(SendError::Transport)?
        .into_parts();
    match read_limited(body, limit).await {
        Ok(bytes) => Ok(Response::from_parts(head, Bytes::from(bytes))),
        Err(BodyError::TooLarge { seen }) => Err(SendError::TooLarge {
            head: Box::new(head),
            seen,
        }),
        Err(BodyError::Transport(error)) => Err(SendError::Transport(TransportError::other(error))),
    }
}

/// Boxes a body whose error converts to [`BoxError`]: what a transport over another client
/// hands back.
pub fn box_body<B>(body: B) -> ResponseBody
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use self::reqwest_transport::ReqwestTransport;

#[cfg(feature = "reqwest")]
mod reqwest_transport {
    use std::time::Duration;

    use super::{Request, Sending, Transport, TransportError, box_body};
    use bytes::Bytes;
    use tokensmith_core::Error;

    /// The reqwest transport: a `reqwest::Client` that follows no redirect and sends no
    /// `Referer`, whatever the `reqwest::ClientBuilder` it was made from says.
    #[derive(Debug, Clone)]
    pub struct ReqwestTransport {
        client: reqwest::Client,
    }

    impl ReqwestTransport {
        /// The default client: rustls, a 10 s connect timeout, tokensmith's user agent.
        pub fn new() -> Result<Self, Error> {
            Self::from_builder(Self::default_builder())
        }

        /// The settings [`new`](Self::new) starts from, for adding proxies, root certificates
        /// or a client identity.
        pub fn default_builder() -> reqwest::ClientBuilder {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .user_agent(concat!("tokensmith/", env!("CARGO_PKG_VERSION")))
        }

        /// A client built from `builder`, with redirects and `Referer` turned off: a redirect
        /// would replay a token request's body (client secret, password, refresh token) to
        /// wherever the server points.
        pub fn from_builder(builder: reqwest::ClientBuilder) -> Result<Self, Error> {
            let client = builder
                .redirect(reqwest::redirect::Policy::none())
                .referer(false)
                .build()
                .map_err(|e| Error::config(format!("could not build the HTTP client: {e}")))?;
            Ok(Self { client })
        }

        /// `builder` presenting a client certificate for mutual TLS: the certificate chain
        /// (the client's own first) and its private key in one PEM text.
        pub fn with_client_certificate(
            builder: reqwest::ClientBuilder,
            pem: &[u8],
        ) -> Result<reqwest::ClientBuilder, Error> {
            let identity = reqwest::Identity::from_pem(pem).map_err(|_| {
                Error::config(
                    "the client certificate PEM does not hold a certificate and its private key",
                )
            })?;
            Ok(builder.identity(identity))
        }
    }

    impl Transport for ReqwestTransport {
        fn send(&self, request: Request<Bytes>) -> Sending<'_> {
            Box::pin(async move {
                let request = into_reqwest(request)?;
                let response = self.client.execute(request).await.map_err(|e| {
                    let connect = e.is_connect();
                    let timeout = e.is_timeout();
                    let e = Box::new(e.without_url());
                    if timeout {
                        TransportError::timeout(e)
                    } else if connect {
                        TransportError::connect(e)
                    } else {
                        TransportError::other(e)
                    }
                })?;
                Ok(http::Response::from(response).map(box_body))
            })
        }
    }

    /// The request for reqwest. A request made with [`with_url`](super::with_url) carries its
    /// URL already parsed, which spares parsing it again from the `Uri`.
    fn into_reqwest(request: Request<Bytes>) -> Result<reqwest::Request, TransportError> {
        let (mut head, body) = request.into_parts();
        match head.extensions.remove::<super::ParsedUrl>() {
            Some(super::ParsedUrl(url)) if head.uri == url.as_str() => {
                let mut request = reqwest::Request::new(head.method, url);
                *request.headers_mut() = head.headers;
                *request.version_mut() = head.version;
                *request.body_mut() = Some(reqwest::Body::from(body));
                Ok(request)
            }
            _ => reqwest::Request::try_from(Request::from_parts(head, body))
                .map_err(|e| TransportError::other(Box::new(e.without_url()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_kept_url_is_handed_out_only_while_it_is_the_uri_s() {
        let url = url::Url::parse("https://auth.example.com/token?x=1").unwrap();
        let mut request = with_url(http::Method::POST, &url, Bytes::from_static(b"a=b")).unwrap();
        assert_eq!(request.uri(), "https://auth.example.com/token?x=1");
        assert_eq!(parsed_url(&request), Some(&url));
        *request.uri_mut() = "https://elsewhere.example/token".parse().unwrap();
        assert_eq!(
            parsed_url(&request),
            None,
            "a changed Uri wins over the kept URL"
        );
    }

    #[test]
    fn transport_errors_name_the_endpoint_and_every_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = TransportError::connect(Box::new(io));
        assert!(error.is_connect() && !error.is_timeout());
        let error = error.into_error("https://auth.example.com/token", Duration::from_secs(5));
        let text = error.to_string();
        assert!(
            text.contains("auth.example.com") && text.contains("refused"),
            "{text}"
        );
        let timeout = TransportError::timeout("slow".into())
            .into_error("https://auth.example.com/token", Duration::from_secs(5));
        assert!(
            matches!(timeout.kind(), tokensmith_core::ErrorKind::Timeout { .. }),
            "{timeout:?}"
        );
    }
}
