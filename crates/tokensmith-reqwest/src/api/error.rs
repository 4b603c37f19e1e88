//! One error shape for every vendor API call, and the hook that reads a vendor's error bodies.

use std::error::Error as StdError;
use std::fmt;

use reqwest::StatusCode;
use tokensmith_http::scrub_excerpt;

use crate::auth_error;

/// What a vendor crate tells the API layer about its error answers.
pub trait ApiVendor: Send + Sync + 'static {
    /// The vendor's error payload, decoded from an error answer.
    type Payload: fmt::Debug + fmt::Display + Send + Sync + 'static;

    /// The vendor's name, for messages ("could not reach Avionté").
    fn name(&self) -> &'static str;

    /// Decodes an error answer's body; `None` when it is not the vendor's error shape (a
    /// gateway page, say), and the error then carries a scrubbed excerpt instead. The body may
    /// echo request data: keep only what explains the error, scrubbed and bounded.
    fn payload(&self, status: StatusCode, body: &[u8]) -> Option<Self::Payload> {
        let _ = (status, body);
        None
    }

    /// The likely cause of an error answer, in the user's terms.
    fn hint(&self, status: StatusCode, payload: Option<&Self::Payload>) -> Option<String> {
        let _ = (status, payload);
        None
    }
}

/// The payload of a vendor whose error bodies are not documented: there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPayload {}

impl fmt::Display for NoPayload {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {}
    }
}

/// A vendor whose error bodies stay opaque: status and a scrubbed excerpt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opaque(&'static str);

impl Opaque {
    /// A vendor called `name` in messages.
    pub const fn new(name: &'static str) -> Self {
        Self(name)
    }
}

impl ApiVendor for Opaque {
    type Payload = NoPayload;

    fn name(&self) -> &'static str {
        self.0
    }
}

/// What kind of failure an [`ApiError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// No token could be had; [`ApiError::auth`] has the tokensmith error and its hint.
    Auth,
    /// The vendor answered with an error status.
    Status,
    /// The request did not get an answer.
    Transport,
    /// The answer could not be read as the expected type, or was too large.
    Decode,
    /// The call was refused before sending (a bad path, a page size out of range).
    InvalidRequest,
    /// The client's settings cannot work (from its builder); [`ApiError::auth`] has the
    /// tokensmith error and its hint.
    Config,
}

/// An error from a vendor API call: its kind, the HTTP status, the vendor's decoded error
/// payload (`V`) or a scrubbed excerpt of the body, and a hint naming the likely cause. One
/// pointer wide.
pub struct ApiError<V = NoPayload> {
    repr: Box<Repr<V>>,
}

struct Repr<V> {
    kind: ApiErrorKind,
    vendor: &'static str,
    status: Option<StatusCode>,
    payload: Option<V>,
    excerpt: Option<String>,
    message: Option<String>,
    hint: Option<String>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl<V> ApiError<V> {
    fn repr(kind: ApiErrorKind, vendor: &'static str) -> Repr<V> {
        Repr {
            kind,
            vendor,
            status: None,
            payload: None,
            excerpt: None,
            message: None,
            hint: None,
            source: None,
        }
    }

    fn boxed(repr: Repr<V>) -> Self {
        Self {
            repr: Box::new(repr),
        }
    }

    /// A call refused before sending, with the reason.
    pub fn invalid_request(vendor: &'static str, reason: impl Into<String>) -> Self {
        Self::boxed(Repr {
            message: Some(reason.into()),
            ..Self::repr(ApiErrorKind::InvalidRequest, vendor)
        })
    }

    /// An answer that could not be read as the expected type.
    pub fn decode(vendor: &'static str, reason: impl Into<String>) -> Self {
        Self::boxed(Repr {
            message: Some(reason.into()),
            ..Self::repr(ApiErrorKind::Decode, vendor)
        })
    }

    pub(crate) fn transport(vendor: &'static str, error: reqwest_middleware::Error) -> Self {
        Self::boxed(Repr {
            source: Some(Box::new(error)),
            ..Self::repr(ApiErrorKind::Transport, vendor)
        })
    }

    /// A tokensmith error from building a vendor client or getting its token: a
    /// [`Config`](ApiErrorKind::Config) error for a configuration error, an
    /// [`Auth`](ApiErrorKind::Auth) error otherwise.
    pub fn from_core(vendor: &'static str, error: tokensmith_core::Error) -> Self {
        let kind = match error.kind() {
            tokensmith_core::ErrorKind::Config { .. } => ApiErrorKind::Config,
            _ => ApiErrorKind::Auth,
        };
        Self::boxed(Repr {
            source: Some(Box::new(error)),
            ..Self::repr(kind, vendor)
        })
    }

    /// The error of a request that got no answer: the provider's failure, or the transport's.
    pub fn from_send(vendor: &'static str, error: reqwest_middleware::Error) -> Self {
        match auth_error(&error) {
            Some(auth) => Self::boxed(Repr {
                source: Some(Box::new(auth.clone())),
                ..Self::repr(ApiErrorKind::Auth, vendor)
            }),
            None => Self::transport(vendor, without_secrets_in_url(error)),
        }
    }

    /// An error answer, read by the vendor's hook.
    pub fn from_response<A>(vendor: &A, status: StatusCode, body: &[u8]) -> Self
    where
        A: ApiVendor<Payload = V> + ?Sized,
        V: fmt::Debug + fmt::Display + Send + Sync + 'static,
    {
        let payload = vendor.payload(status, body);
        let hint = vendor.hint(status, payload.as_ref());
        Self::boxed(Repr {
            status: Some(status),
            excerpt: payload.is_none().then(|| scrub_excerpt(body, &[])),
            payload,
            hint,
            ..Self::repr(ApiErrorKind::Status, vendor.name())
        })
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ApiErrorKind {
        self.repr.kind
    }

    /// The vendor's name.
    pub fn vendor(&self) -> &'static str {
        self.repr.vendor
    }

    /// The HTTP status of an error answer (the API's, or the token endpoint's).
    pub fn status(&self) -> Option<StatusCode> {
        self.repr
            .status
            .or_else(|| self.auth().and_then(tokensmith_core::Error::status))
    }

    /// The vendor's error payload, when the answer was in the vendor's error shape.
    pub fn payload(&self) -> Option<&V> {
        self.repr.payload.as_ref()
    }

    /// A scrubbed excerpt of an error answer that was not in the vendor's error shape.
    pub fn excerpt(&self) -> Option<&str> {
        self.repr.excerpt.as_deref()
    }

    /// A sentence naming the likely cause, when one is known.
    pub fn hint(&self) -> Option<&str> {
        self.repr
            .hint
            .as_deref()
            .or_else(|| self.auth().and_then(tokensmith_core::Error::hint))
    }

    /// The tokensmith error behind an [`Auth`](ApiErrorKind::Auth) or
    /// [`Config`](ApiErrorKind::Config) error.
    pub fn auth(&self) -> Option<&tokensmith_core::Error> {
        self.repr
            .source
            .as_deref()
            .and_then(|e| e.downcast_ref::<tokensmith_core::Error>())
    }

    /// Whether trying again later may succeed: a transport failure, a 429 or 5xx answer, or a
    /// token failure that is itself retryable.
    pub fn is_retryable(&self) -> bool {
        match self.repr.kind {
            ApiErrorKind::Transport => true,
            ApiErrorKind::Status => self
                .repr
                .status
                .is_some_and(|s| s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error()),
            ApiErrorKind::Auth => self
                .auth()
                .is_some_and(tokensmith_core::Error::is_retryable),
            _ => false,
        }
    }

    /// The same error with `hint` as its hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.repr.hint = Some(hint.into());
        self
    }
}

/// A transport error shows its URL without user info or query, which may carry a key or a
/// token (AirVantage's logout does).
fn without_secrets_in_url(mut error: reqwest_middleware::Error) -> reqwest_middleware::Error {
    if let reqwest_middleware::Error::Reqwest(e) = &mut error
        && let Some(url) = e.url_mut()
    {
        url.set_query(None);
        url.set_fragment(None);
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    error
}

impl<V: fmt::Display> fmt::Display for ApiError<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vendor = self.repr.vendor;
        let message = self.repr.message.as_deref().unwrap_or("");
        match self.repr.kind {
            ApiErrorKind::Auth => match self.auth() {
                Some(auth) => write!(f, "could not get a token for {vendor}: {auth}")?,
                None => write!(f, "could not get a token for {vendor}")?,
            },
            ApiErrorKind::Config => match self.auth() {
                Some(config) => write!(f, "{vendor} client: {config}")?,
                None => write!(f, "{vendor} client: invalid configuration")?,
            },
            ApiErrorKind::Status => {
                let status = self.repr.status.map_or(0, |s| s.as_u16());
                write!(f, "{vendor} answered HTTP {status}")?;
                match (&self.repr.payload, &self.repr.excerpt) {
                    (Some(payload), _) => write!(f, ": {payload}")?,
                    (None, Some(excerpt)) => write!(f, ": {excerpt:?}")?,
                    (None, None) => {}
                }
            }
            ApiErrorKind::Transport => match &self.repr.source {
                Some(source) => write!(f, "could not reach {vendor}: {source}")?,
                None => write!(f, "could not reach {vendor}")?,
            },
            ApiErrorKind::Decode => write!(f, "could not read {vendor}'s answer: {message}")?,
            ApiErrorKind::InvalidRequest => write!(f, "invalid request to {vendor}: {message}")?,
        }
        // A tokensmith error's Display carries its own hint.
        let wrapped = matches!(self.repr.kind, ApiErrorKind::Auth | ApiErrorKind::Config);
        if let (Some(hint), false) = (&self.repr.hint, wrapped) {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl<V: fmt::Debug> fmt::Debug for ApiError<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("kind", &self.repr.kind)
            .field("vendor", &self.repr.vendor)
            .field("status", &self.repr.status)
            .field("payload", &self.repr.payload)
            .field("excerpt", &self.repr.excerpt)
            .field("message", &self.repr.message)
            .field("hint", &self.repr.hint)
            .field("source", &self.repr.source)
            .finish()
    }
}

impl<V: fmt::Debug + fmt::Display> StdError for ApiError<V> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.repr
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Shop;

    #[derive(Debug)]
    struct Code(String);

    impl fmt::Display for Code {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "`{}`", self.0)
        }
    }

    impl ApiVendor for Shop {
        type Payload = Code;

        fn name(&self) -> &'static str {
            "Shop"
        }

        fn payload(&self, _: StatusCode, body: &[u8]) -> Option<Code> {
            let value: serde_json::Value = serde_json::from_slice(body).ok()?;
            Some(Code(value.get("code")?.as_str()?.to_owned()))
        }

        fn hint(&self, status: StatusCode, payload: Option<&Code>) -> Option<String> {
            match (status.as_u16(), payload) {
                (404, Some(code)) if code.0 == "no.such.order" => Some("check the order id".into()),
                _ => None,
            }
        }
    }

    #[test]
    fn vendor_payloads_hints_and_excerpts() {
        let err =
            ApiError::from_response(&Shop, StatusCode::NOT_FOUND, br#"{"code":"no.such.order"}"#);
        assert_eq!(err.kind(), ApiErrorKind::Status);
        assert_eq!(err.payload().unwrap().0, "no.such.order");
        assert_eq!(err.excerpt(), None);
        assert_eq!(
            err.to_string(),
            "Shop answered HTTP 404: `no.such.order` (hint: check the order id)"
        );
        assert!(!err.is_retryable());

        let page = ApiError::from_response(
            &Shop,
            StatusCode::BAD_GATEWAY,
            br#"<html>bad gateway access_token=canary-tok-1</html>"#,
        );
        assert!(page.payload().is_none());
        assert!(page.is_retryable());
        let text = format!("{page} {page:?}");
        assert!(
            text.contains("HTTP 502") && !text.contains("canary"),
            "{text}"
        );

        let opaque =
            ApiError::from_response(&Opaque::new("Vendor"), StatusCode::FORBIDDEN, b"nope");
        assert_eq!(opaque.to_string(), r#"Vendor answered HTTP 403: "nope""#);
        let refused = ApiError::<NoPayload>::invalid_request("Vendor", "page 0");
        assert_eq!(refused.kind(), ApiErrorKind::InvalidRequest);
        assert_eq!(refused.to_string(), "invalid request to Vendor: page 0");
    }
}
