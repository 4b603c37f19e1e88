//! Secretless clients: the identity token a platform already gives a workload, used instead of
//! a client secret.
//!
//! Services on Kubernetes, in CI and on clouds hold a short-lived token their platform issued
//! (a projected service account token, a SPIFFE JWT-SVID, a GitHub Actions OIDC token).
//! Authorization servers that trust the platform's issuer take it:
//!
//! - as the **client assertion** (RFC 7523 §2.2; Microsoft Entra ID, Okta and Keycloak call it
//!   a federated credential): [`WorkloadIdentity`] is a
//!   [`ClientAssertion`](tokensmith_oauth2::ClientAssertion), given to
//!   [`TokenEndpointBuilder::client_assertion`](tokensmith_oauth2::TokenEndpointBuilder::client_assertion);
//!   a SPIFFE JWT-SVID goes with the SPIFFE assertion type ([`SPIFFE_ASSERTION_TYPE`]), read
//!   from spiffe-helper's file or, with feature `spiffe`, from the SPIFFE Workload API;
//! - in the **JWT bearer grant** (RFC 7523 §2.1) or **token exchange** (RFC 8693):
//!   [`WorkloadGrant`].
//!
//! Presets, facts only: [`azure`] (workload identity: the federated token file at Entra ID)
//! and [`google`] (workload identity federation: Google's STS, then optional service account
//! impersonation). Any other server that trusts the platform's issuer needs no preset.
//!
//! The platform token is a secret: it is never printed, goes only to the endpoint configured
//! for it, is read anew before each use (a file on every use, so Kubernetes' symlink swaps are
//! seen at once), is never sent once expired, and bounds the life of what it was traded for.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod grant;
mod identity;
mod read;

pub mod azure;
pub mod google;

pub use crate::grant::WorkloadGrant;
pub use crate::identity::{PlatformToken, SPIFFE_ASSERTION_TYPE, WorkloadIdentity};
