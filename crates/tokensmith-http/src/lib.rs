//! The HTTP layer of tokensmith, between its contracts (`tokensmith-core`) and the clients
//! that send: the token endpoint client (`tokensmith-oauth2`), the reqwest middleware and the
//! tower layer.
//!
//! - [`origin`]: where a credential may travel (https, or this machine; named origins), and
//!   URLs shown without their secrets;
//! - [`body`]: answers read up to a limit, `Retry-After`;
//! - [`challenge`]: `WWW-Authenticate` challenges read in full (RFC 9110 §11.6.1);
//! - [`scrub`]: short excerpts of what a server said, with secrets masked;
//! - [`attach`]: the engine that decides which requests get credentials and what an answer
//!   means (a 401, a DPoP nonce), driven by `BearerAuth` and `AuthLayer`;
//! - [`transport`]: the one-method seam every request goes through, and its reqwest
//!   implementation (feature `reqwest`);
//! - [`dpop`] (feature `dpop`): DPoP keys and proofs (RFC 9449).

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod attach;
pub mod body;
pub mod challenge;
#[cfg(feature = "dpop")]
#[cfg_attr(docsrs, doc(cfg(feature = "dpop")))]
pub mod dpop;
pub mod origin;
pub mod scrub;
pub mod transport;

pub use crate::attach::{
    Attach, AttachBuilder, ChallengeHandler, Driver, Plan, Verdict, secret_header,
};
pub use crate::body::{BodyError, read_limited, retry_after};
pub use crate::origin::{Origins, display_url, display_url_text, is_loopback, secure_or_loopback};
pub use crate::scrub::{mask_secrets, scrub_excerpt};
pub use crate::transport::{Transport, TransportError};
