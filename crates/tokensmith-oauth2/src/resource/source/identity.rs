//! How the client identifies itself at the discovered server, and its token endpoint there.

use std::sync::Arc;

use tokensmith_core::Error;
use tokensmith_http::origin::require_secure;
use url::Url;

use super::super::client::{ClientMetadata, Registration, auth_method_to_register};
use super::super::discover::Discovered;
use super::{ResourceSource, State};
use crate::{ClientAuth, ClientSecret, Signer, StoredClient, TokenEndpoint};

/// The client as it identifies itself at one server.
struct Identified {
    id: String,
    secret: Option<ClientSecret>,
    signer: Option<Arc<dyn Signer>>,
    /// The authentication registered; `None`: choose from the server's metadata.
    auth: Option<ClientAuth>,
}

impl ResourceSource {
    /// How the client identifies itself at the discovered server: the configured client; a
    /// metadata document where the server takes one; the client registered before; a new
    /// registration.
    async fn identify(
        &self,
        state: &mut State,
        discovered: &Discovered,
        redirect_uri: Option<&str>,
    ) -> Result<Identified, Error> {
        let configured = &self.client;
        if let Some(id) = &configured.id {
            return Ok(Identified {
                id: id.clone(),
                secret: configured.secret.clone(),
                signer: configured.signer.clone(),
                auth: None,
            });
        }
        let server = &discovered.server;
        if self.user()
            && server.client_id_metadata_document_supported
            && let Some(document) = &configured.metadata_document
        {
            return Ok(Identified {
                id: document.clone(),
                secret: None,
                signer: None,
                auth: Some(ClientAuth::None),
            });
        }
        let issuer = &discovered.issuer;
        let held = state
            .client
            .take()
            .filter(|c| c.issuer == *issuer && c.usable_for(redirect_uri));
        let client = match held {
            Some(client) => client,
            None => match self.stored_client(issuer, redirect_uri).await {
                Some(client) => client,
                None => self.register(discovered, redirect_uri).await?,
            },
        };
        let auth = client.auth();
        let identified = Identified {
            id: client.client_id.clone(),
            secret: client
                .client_secret
                .clone()
                .filter(|_| auth != ClientAuth::None),
            signer: None,
            auth: Some(auth),
        };
        state.client = Some(client);
        Ok(identified)
    }

    async fn stored_client(
        &self,
        issuer: &str,
        redirect_uri: Option<&str>,
    ) -> Option<StoredClient> {
        let store = self.store.as_ref()?;
        match store.load_client(issuer).await {
            Ok(client) => client.filter(|c| c.usable_for(redirect_uri)),
            Err(error) => {
                tracing::warn!(target: "tokensmith::oauth2", error = %error, "could not read the registered client; registering again");
                None
            }
        }
    }

    async fn register(
        &self,
        discovered: &Discovered,
        redirect_uri: Option<&str>,
    ) -> Result<StoredClient, Error> {
        let server = &discovered.server;
        let Some(endpoint) = server.registration_endpoint.as_deref() else {
            return Err(Error::config(format!(
                "no client id for `{}`: it takes no client metadata document{} and has no \
                 registration endpoint",
                discovered.issuer,
                if self.client.metadata_document.is_some() {
                    ""
                } else {
                    " (none is configured)"
                }
            ))
            .with_hint(
                "register a client with the authorization server and set `.client_id(..)` \
                 (and `.client_secret(..)`), or serve a client metadata document where the \
                 server supports them",
            ));
        };
        let endpoint = Url::parse(endpoint)
            .map_err(|e| Error::other(format!("the registration endpoint is not a URL: {e}")))?;
        require_secure("registration endpoint", &endpoint, self.allow_http)?;
        let default = ClientMetadata::new("tokensmith");
        let metadata = self.client.registration.as_ref().unwrap_or(&default);
        let redirect_uris: Vec<String> = redirect_uri.map(str::to_owned).into_iter().collect();
        let auth_method = auth_method_to_register(&server.auth_methods(), self.user());
        Registration {
            transport: &*self.transport,
            endpoint: &endpoint,
            issuer: &discovered.issuer,
            metadata,
            redirect_uris: &redirect_uris,
            auth_method,
            user: self.user(),
            timeout: self.timeout,
        }
        .run(self.store.as_deref())
        .await
    }

    /// The discovered server's token endpoint, for the identified client.
    pub(super) async fn endpoint(
        &self,
        state: &mut State,
        discovered: &Discovered,
        redirect_uri: Option<&str>,
    ) -> Result<TokenEndpoint, Error> {
        let server = &discovered.server;
        let url = server.token_endpoint.as_deref().ok_or_else(|| {
            Error::config(format!(
                "the server `{}` publishes no `token_endpoint`",
                discovered.issuer
            ))
        })?;
        let client = self.identify(state, discovered, redirect_uri).await?;
        let mut builder = TokenEndpoint::builder(url)
            .metadata(Arc::clone(server))
            .client_id(client.id)
            .transport(Arc::clone(&self.transport));
        if let Some(secret) = client.secret {
            builder = builder.client_secret(secret);
        }
        if let Some(signer) = client.signer {
            // RFC 7523 §3 (and its update): the server's issuer is the audience it accepts.
            builder = builder
                .signer(signer)
                .assertion_audience(&discovered.issuer);
        }
        if let Some(auth) = client.auth {
            builder = builder.auth(auth);
        }
        if self.allow_http {
            builder = builder.danger_allow_insecure_http();
        }
        #[cfg(feature = "dpop")]
        if let Some(key) = &self.dpop {
            builder = builder.dpop(key.clone());
        }
        builder.build()
    }
}
