//! From a resource URL (and its challenge) to its authorization server: the protected
//! resource metadata (RFC 9728), then the server's metadata (RFC 8414, OpenID Connect).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokensmith_core::Error;
use tokensmith_http::origin::require_secure;
use tokensmith_http::{Transport, display_url, scrub_excerpt};
use url::Url;

use super::metadata::{MAX_RESOURCE_METADATA_BYTES, ResourceMetadata, canonical_resource};
use crate::fetch::{at_path, get_document};
use crate::{Issuer, MAX_METADATA_BYTES, ServerMetadata};

const RESOURCE_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// What discovery found for a resource: its identifier, its metadata, and the server that
/// issues its tokens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Discovered {
    /// The resource identifier sent as `resource` (RFC 8707): the metadata's `resource`, or
    /// the called URL without query when the resource publishes no metadata.
    pub resource: String,
    /// The resource's metadata; `None` for a resource of the 2025-03-26 MCP revision, whose
    /// server's metadata is at its own origin.
    pub resource_metadata: Option<ResourceMetadata>,
    /// The authorization server's issuer identifier.
    pub issuer: String,
    /// The authorization server's metadata (made of the default endpoints when it publishes
    /// none).
    pub server: Arc<ServerMetadata>,
}

/// How discovery requests go.
pub(crate) struct Discovery<'a> {
    pub(crate) transport: &'a Arc<dyn Transport>,
    pub(crate) timeout: Duration,
    pub(crate) allow_http: bool,
    /// The issuer to choose when the resource lists several.
    pub(crate) preferred_issuer: Option<&'a str>,
}

impl Discovery<'_> {
    /// Discovers the server for `called`; `named` is the metadata URL the resource's
    /// challenge gave (`resource_metadata`).
    pub(crate) async fn run(&self, called: &Url, named: Option<&str>) -> Result<Discovered, Error> {
        let Some(metadata) = self.resource_metadata(called, named).await? else {
            return self.without_resource_metadata(called).await;
        };
        metadata.check_resource(called)?;
        let issuer = self.choose_issuer(&metadata)?;
        let mut server = Issuer::builder(&issuer)
            .transport(Arc::clone(self.transport))
            .timeout(self.timeout);
        if self.allow_http {
            server = server.danger_allow_insecure_http();
        }
        let server = server.build()?.metadata().await.map_err(|e| {
            let hint = format!(
                "the resource names `{issuer}` as its authorization server, and its metadata \
                 could not be read"
            );
            e.with_hint(hint)
        })?;
        tracing::debug!(target: "tokensmith::oauth2", resource = %metadata.resource, issuer = %issuer, "discovered the authorization server");
        Ok(Discovered {
            resource: metadata.resource.clone(),
            resource_metadata: Some(metadata),
            issuer,
            server,
        })
    }

    /// The metadata from the URL the challenge named, else from the well-known URLs of the
    /// called URL's path and of its root (RFC 9728 §3.1). A URL the challenge named may be on
    /// another origin; the well-known ones are on the resource's own.
    async fn resource_metadata(
        &self,
        called: &Url,
        named: Option<&str>,
    ) -> Result<Option<ResourceMetadata>, Error> {
        let mut urls = Vec::new();
        if let Some(named) = named {
            let url = Url::parse(named).map_err(|e| {
                Error::other(format!(
                    "the resource's `resource_metadata` is not a URL ({e}): {}",
                    scrub_excerpt(named.as_bytes(), &[])
                ))
            })?;
            require_secure("resource metadata", &url, self.allow_http)?;
            if url.fragment().is_some() {
                return Err(Error::refused(
                    "the resource's `resource_metadata` URL has a fragment",
                ));
            }
            urls.push(url);
        }
        let path = called.path().trim_end_matches('/');
        if !path.is_empty() {
            urls.push(at_path(called, &format!("{RESOURCE_WELL_KNOWN}{path}")));
        }
        urls.push(at_path(called, RESOURCE_WELL_KNOWN));
        urls.dedup();
        for url in &urls {
            let fetched = get_document(
                &**self.transport,
                url,
                self.timeout,
                MAX_RESOURCE_METADATA_BYTES,
                "the protected resource metadata",
            )
            .await?;
            if let Some(body) = fetched {
                let metadata = ResourceMetadata::from_json(&body)
                    .map_err(|e| e.with_hint(format!("read from {}", display_url(url))))?;
                return Ok(Some(metadata));
            }
        }
        Ok(None)
    }

    /// The issuer: the preferred one if the resource lists it, else the first it lists.
    fn choose_issuer(&self, metadata: &ResourceMetadata) -> Result<String, Error> {
        let listed = &metadata.authorization_servers;
        if let Some(preferred) = self.preferred_issuer {
            return listed
                .iter()
                .find(|issuer| issuer.as_str() == preferred)
                .cloned()
                .ok_or_else(|| {
                    Error::config(format!(
                        "the resource does not list `{preferred}` among its authorization \
                         servers"
                    ))
                    .with_hint(format!("it lists: {}", listed.join(", ")))
                });
        }
        listed.first().cloned().ok_or_else(|| {
            Error::other(format!(
                "the metadata of {} names no authorization server",
                metadata.resource
            ))
            .with_hint("RFC 9728 `authorization_servers` is empty: the resource cannot say where its tokens come from")
        })
    }

    /// A resource without metadata (the MCP revision of 2025-03-26): the server's metadata at
    /// the resource's origin, else its default endpoints there (`/authorize`, `/token`,
    /// `/register`).
    async fn without_resource_metadata(&self, called: &Url) -> Result<Discovered, Error> {
        let origin = called.origin().ascii_serialization();
        let well_known = at_path(called, "/.well-known/oauth-authorization-server");
        let fetched = get_document(
            &**self.transport,
            &well_known,
            self.timeout,
            MAX_METADATA_BYTES,
            "the metadata",
        )
        .await?;
        let server = match fetched {
            Some(body) => {
                let server = ServerMetadata::from_json(&body)?;
                // The document comes from the resource's own origin, which is what vouches
                // for it: its issuer must be there too.
                let same_origin = Url::parse(&server.issuer)
                    .is_ok_and(|issuer| issuer.origin() == called.origin());
                if !same_origin {
                    return Err(Error::refused(format!(
                        "the metadata at {} names the issuer `{}`, on another origin",
                        display_url(&well_known),
                        scrub_excerpt(server.issuer.as_bytes(), &[])
                    ))
                    .with_hint(
                        "a resource without protected resource metadata is its own \
                         authorization server; metadata naming another is not trusted",
                    ));
                }
                server
            }
            None => {
                tracing::debug!(target: "tokensmith::oauth2", origin = %origin, "no metadata: using the default endpoints");
                ServerMetadata::from_json(
                    json!({
                        "issuer": origin,
                        "authorization_endpoint": format!("{origin}/authorize"),
                        "token_endpoint": format!("{origin}/token"),
                        "registration_endpoint": format!("{origin}/register"),
                        "code_challenge_methods_supported": ["S256"],
                    })
                    .to_string()
                    .as_bytes(),
                )?
            }
        };
        Ok(Discovered {
            resource: canonical_resource(called),
            resource_metadata: None,
            issuer: server.issuer.clone(),
            server: Arc::new(server),
        })
    }
}
