//! What identifies an endpoint's tokens: every setting of the endpoint a server could see.

use tokensmith_core::TokenIdentity;

use super::{Certificate, TokenEndpoint};

impl TokenEndpoint {
    /// The endpoint's part of a source's [`TokenIdentity`], for `grant`: its URL (query and user
    /// info as secret parts), client id and authentication, the client certificate's thumbprint,
    /// the DPoP key's, every extra parameter and header name, and the client secret and header
    /// values as secret parts. `None` when it presents a certificate no one named.
    pub(crate) fn token_identity(&self, grant: &str) -> Option<TokenIdentity> {
        let inner = &self.inner;
        let mut identity = TokenIdentity::new()
            .part("endpoint", inner.display.as_str())
            .part("client_id", inner.client.id.as_str())
            .part("client_auth", inner.auth.as_str())
            .part("grant", grant);
        if let Some(query) = inner.url.query() {
            identity = identity.secret(format!("endpoint query:{query}"));
        }
        if !inner.url.username().is_empty() || inner.url.password().is_some() {
            let user = inner.url.username();
            let password = inner.url.password().unwrap_or("");
            identity = identity.secret(format!("endpoint user:{user}:{password}"));
        }
        match &inner.certificate {
            Certificate::None => {}
            Certificate::Known(thumbprint) => {
                identity = identity.part("client_certificate", thumbprint.as_str());
            }
            Certificate::Opaque => return None,
        }
        #[cfg(feature = "dpop")]
        if let Some(key) = &inner.dpop {
            // A DPoP-bound token is only usable with its key.
            identity = identity.part("dpop_jkt", key.thumbprint());
        }
        for (name, values) in grouped(inner.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))) {
            identity = identity.part(format!("param:{name}"), values);
        }
        for (name, value) in &inner.headers {
            identity = identity.part(format!("header:{name}"), "");
            if let Ok(text) = value.to_str() {
                identity = identity.secret(text);
            }
        }
        if let Some(secret) = &inner.client.secret {
            identity = identity.secret(secret.expose_secret());
        }
        Some(identity)
    }
}

/// Parameters by name, each name's values as one text: a single value as it is, repeated
/// ones (`resource`, `audience`, scopes) sorted and deduplicated, joined by spaces when none
/// has a space, as a JSON array otherwise, so that no two sets read alike.
pub(crate) fn grouped<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<(&'a str, String)> {
    let mut by_name: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (name, value) in pairs {
        by_name.entry(name).or_default().push(value);
    }
    by_name
        .into_iter()
        .map(|(name, mut values)| {
            values.sort_unstable();
            values.dedup();
            let text = if values.iter().any(|v| v.contains(' ') || v.is_empty()) {
                serde_json::to_string(&values).unwrap_or_default()
            } else {
                values.join(" ")
            };
            (name, text)
        })
        .collect()
}
