//! A protected resource's metadata (RFC 9728 §2), and the rule that binds it to the URL the
//! client called (§3.3).

use serde_json::{Map, Value};

use crate::metadata::Document;
use tokensmith_core::Error;
use tokensmith_http::scrub_excerpt;
use url::Url;

/// The largest protected resource metadata document read, in bytes.
pub const MAX_RESOURCE_METADATA_BYTES: usize = 64 * 1024;

/// A protected resource's metadata document (RFC 9728 §2): the fields tokensmith uses plus
/// the rest in [`extra`](Self::extra).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ResourceMetadata {
    /// `resource`: the resource identifier, an https (or loopback http) URL without fragment.
    pub resource: String,
    /// `authorization_servers`: issuer identifiers of the servers that issue its tokens.
    pub authorization_servers: Vec<String>,
    /// `scopes_supported`, when the resource lists them.
    pub scopes_supported: Option<Vec<String>>,
    /// `bearer_methods_supported` (`header`, `body`, `query`).
    pub bearer_methods_supported: Vec<String>,
    /// `resource_name`, for people.
    pub resource_name: Option<String>,
    /// `dpop_bound_access_tokens_required` (RFC 9728 §2, RFC 9449).
    pub dpop_bound_access_tokens_required: bool,
    /// Every other field, as the resource sent it.
    pub extra: Map<String, Value>,
}

impl ResourceMetadata {
    /// Reads a metadata document: `resource` is required, a field of the wrong type is an
    /// error that names it.
    pub fn from_json(document: &[u8]) -> Result<Self, Error> {
        let mut doc = Document::parse(
            document,
            "the protected resource metadata",
            "the URL may serve a web page rather than the metadata document",
        )?;
        let resource = doc.text("resource")?.ok_or_else(|| {
            Error::other("the protected resource metadata has no `resource` (RFC 9728 §2)")
        })?;
        Ok(Self {
            resource,
            authorization_servers: doc.list("authorization_servers")?.unwrap_or_default(),
            scopes_supported: doc.list("scopes_supported")?,
            bearer_methods_supported: doc.list("bearer_methods_supported")?.unwrap_or_default(),
            resource_name: doc.text("resource_name")?,
            dpop_bound_access_tokens_required: doc.flag("dpop_bound_access_tokens_required")?,
            extra: doc.rest(),
        })
    }

    /// RFC 9728 §3.3 and §7.3: the metadata must be for the resource the client called, or
    /// an attacker's document could send the client, and its token, elsewhere. `resource`
    /// must be on the called URL's origin, and its path the called path or a parent of it in
    /// whole segments (a server's metadata at its root covers `/mcp`; `/api` does not cover
    /// `/api2`).
    pub fn check_resource(&self, called: &Url) -> Result<(), Error> {
        if covers(&self.resource, called) {
            return Ok(());
        }
        Err(Error::refused(format!(
            "the protected resource metadata is for `{}`, not for {}; no token was requested",
            scrub_excerpt(self.resource.as_bytes(), &[]),
            tokensmith_http::display_url(called),
        ))
        .with_hint(
            "RFC 9728 §3.3: a client uses metadata only for the resource it names, so a token is \
             never requested for one resource and sent to another; the resource server's \
             metadata (its `resource` field) is misconfigured, or the document is not its own",
        ))
    }
}

/// Whether the resource identifier `resource` covers the URL `called`.
pub(crate) fn covers(resource: &str, called: &Url) -> bool {
    Url::parse(resource).is_ok_and(|resource| covers_url(&resource, called))
}

/// [`covers`] for an identifier already parsed (a request's check reads no text).
pub(crate) fn covers_url(resource: &Url, called: &Url) -> bool {
    if resource.fragment().is_some() || resource.origin() != called.origin() {
        return false;
    }
    let base = resource.path().trim_end_matches('/');
    let path = called.path();
    path == base
        || path
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The resource identifier for a URL the client calls (RFC 8707 §2): scheme, host, port and
/// path, without query or fragment; a bare origin without its trailing slash.
pub(crate) fn canonical_resource(url: &Url) -> String {
    let mut canonical = url.clone();
    canonical.set_query(None);
    canonical.set_fragment(None);
    let text = String::from(canonical);
    if url.path() == "/" {
        text.trim_end_matches('/').to_owned()
    } else {
        text
    }
}
