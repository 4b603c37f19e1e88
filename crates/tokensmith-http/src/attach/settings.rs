//! The one settings type of every driver of the attach engine, and its builder.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use secrecy::{ExposeSecret as _, SecretString};
use tokensmith_core::{Error, TokenProvider};

use super::{Attach, ChallengeHandler};
use crate::origin::Origins;

/// A driver of the attach engine: the reqwest middleware (`BearerAuth`), the tower layer
/// (`AuthLayer`). It is built from a checked [`Attach`] by [`AttachBuilder::build`].
pub trait Driver: Sized {
    /// The driver's name in errors, hints and `Debug` (`BearerAuth`).
    const NAME: &'static str;
    /// The driver's label in metrics and logs (`reqwest`, `tower`).
    const LAYER: &'static str;
    /// The driver over a checked engine.
    fn from_attach(attach: Attach) -> Self;
}

/// How a driver attaches tokens, before it is checked: the builder of `BearerAuth` and of
/// `AuthLayer` alike. [`build`](Self::build) checks the origins and headers.
pub struct AttachBuilder<D> {
    settings: AttachSettings,
    driver: PhantomData<fn() -> D>,
}

/// The settings as given.
pub(super) struct AttachSettings {
    pub(super) provider: Arc<dyn TokenProvider>,
    pub(super) origins: Vec<String>,
    pub(super) any_origin: bool,
    pub(super) headers: Vec<(String, SecretString)>,
    pub(super) replace_authorization: bool,
    pub(super) retry_unauthorized: bool,
    pub(super) allow_http: bool,
    pub(super) challenges: Option<Arc<dyn ChallengeHandler>>,
    #[cfg(feature = "dpop")]
    pub(super) dpop: Option<crate::dpop::DpopKey>,
}

impl<D: Driver> AttachBuilder<D> {
    /// Starts over `provider` (a [`Cached`](tokensmith_core::Cached) grant, a `StaticToken`,
    /// a mock, or an `Arc<dyn TokenProvider>` shared with others), with the defaults: no origin
    /// yet, a retry after a 401, https only.
    pub fn new(provider: impl TokenProvider + 'static) -> Self {
        Self {
            settings: AttachSettings {
                provider: tokensmith_core::arc_provider(provider),
                origins: Vec::new(),
                any_origin: false,
                headers: Vec::new(),
                replace_authorization: false,
                retry_unauthorized: true,
                allow_http: false,
                challenges: None,
                #[cfg(feature = "dpop")]
                dpop: None,
            },
            driver: PhantomData,
        }
    }

    /// Starts over a provider led by its resource's challenges
    /// (`tokensmith_oauth2::resource::ResourceAuth`): tokens go to the resource's origin only;
    /// a request goes without a token until the resource has said what it wants, and each
    /// 401, and each 403 `insufficient_scope`, goes to the handler, whose new token the request
    /// is sent again with (a bounded number of times).
    pub fn discover<H: TokenProvider + ChallengeHandler>(handler: H) -> Self {
        let origin = handler.resource().origin().ascii_serialization();
        let handler = Arc::new(handler);
        let mut builder = Self::new(Arc::clone(&handler) as Arc<dyn TokenProvider>);
        builder.settings.challenges = Some(handler);
        builder.for_origin(origin)
    }

    /// Attaches tokens to requests for this origin (`https://api.example.com`; only the
    /// scheme, host and port count). May be called more than once.
    #[must_use]
    pub fn for_origin(mut self, origin: impl AsRef<str>) -> Self {
        self.settings.origins.push(origin.as_ref().to_owned());
        self
    }

    /// Attaches tokens to every request (https, or loopback), whatever its origin. Only for
    /// a client that talks to one API.
    #[must_use]
    pub fn danger_allow_any_origin(mut self) -> Self {
        self.settings.any_origin = true;
        self
    }

    /// Allows plain http to hosts that are not loopback. Only for closed test networks.
    #[must_use]
    pub fn danger_allow_insecure_http(mut self) -> Self {
        self.settings.allow_http = true;
        self
    }

    /// A header for every request that carries the token (an API key): a secret, never
    /// printed, sent to the allowed origins only.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings
            .headers
            .push((name.into(), SecretString::from(value.into())));
        self
    }

    /// Replaces an `Authorization` header the caller already set (default: leave it alone).
    #[must_use]
    pub fn replace_existing_authorization(mut self, replace: bool) -> Self {
        self.settings.replace_authorization = replace;
        self
    }

    /// Neither invalidates nor retries on 401 answers.
    #[must_use]
    pub fn no_retry_on_unauthorized(mut self) -> Self {
        self.settings.retry_unauthorized = false;
        self
    }

    /// The DPoP key of the token endpoint whose tokens are attached (RFC 9449): a DPoP-bound
    /// token goes as `Authorization: DPoP …` with a proof for each request (`htm`, `htu`,
    /// `ath`, the origin's nonce). A 401 asking for a nonce (`use_dpop_nonce`) is retried
    /// once with it, when the request can be sent again.
    #[cfg(feature = "dpop")]
    #[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
    #[must_use]
    pub fn dpop(mut self, key: crate::dpop::DpopKey) -> Self {
        self.settings.dpop = Some(key);
        self
    }

    /// Checks the origins and headers.
    pub fn build(self) -> Result<D, Error> {
        let s = self.settings;
        let origins = if s.any_origin {
            Origins::any()
        } else {
            Origins::named(&s.origins, s.allow_http, D::NAME)?
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &s.headers {
            let (name, value) = secret_header(name, value.expose_secret())?;
            headers.insert(name, value);
        }
        Ok(D::from_attach(Attach {
            provider: s.provider,
            origins,
            headers,
            replace_authorization: s.replace_authorization,
            retry_unauthorized: s.retry_unauthorized,
            allow_http: s.allow_http,
            challenges: s.challenges,
            name: D::NAME,
            layer: D::LAYER,
            #[cfg(feature = "dpop")]
            dpop: s.dpop,
        }))
    }
}

/// Origins as parsed (never a path, query or user info) and header names only.
impl<D: Driver> fmt::Debug for AttachBuilder<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        let origins: Vec<String> = s
            .origins
            .iter()
            .map(|text| {
                Origins::named(std::slice::from_ref(text), true, D::NAME)
                    .ok()
                    .and_then(|o| o.serialised())
                    .and_then(|mut o| o.pop())
                    .unwrap_or_else(|| "(not an origin)".into())
            })
            .collect();
        let names: Vec<&String> = s.headers.iter().map(|(name, _)| name).collect();
        f.debug_struct(&format!("{}Builder", D::NAME))
            .field("origins", &origins)
            .field("any_origin", &s.any_origin)
            .field("extra_headers", &names)
            .finish_non_exhaustive()
    }
}

/// A header that carries a secret (an API key): checked, and marked sensitive so that HTTP
/// stacks do not print it. Errors name the header, never the value.
pub fn secret_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::config(format!("`{name}` is not a valid header name")))?;
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        Error::config(format!(
            "the value of header `{name}` has characters a header cannot carry"
        ))
    })?;
    value.set_sensitive(true);
    Ok((header, value))
}
