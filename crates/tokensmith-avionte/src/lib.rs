//! Avionté BOLD Front Office for tokensmith.
//!
//! Avionté wants an `x-api-key` header on the token request *and* on every API call, a
//! `scope` in the client credentials request (credentials in the body, not Basic), a tenant
//! header on every call, and patience with 429 answers (5 s, 10 s, doubling, five tries). Here
//! each of those rules lives once, in [`AvionteClient`]'s builder; the key and the token are
//! sent to Avionté's origin only.
//!
//! # Example
//! ```
//! use tokensmith_avionte::{AvionteClient, Tenant};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = AvionteClient::builder()
//!     .client("client-id", "client-secret")
//!     .api_key("api-key")
//!     .rate_limit(5.0)
//!     .build()?;
//! let acme = client.tenant(Tenant::front_office_id("42"));
//! for id in acme.talent_ids(1, 100).await? {
//!     let talent = acme.talent(id).await?;
//!     println!("{} {:?}", talent.id, talent.last_name);
//! }
//! # Ok(())
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod error;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod types;

pub use crate::client::{
    API_KEY_HEADER, ApiKey, AvionteBuilder, AvionteClient, DEFAULT_BASE_URL, DEFAULT_SCOPE,
    MAX_PAGE_SIZE, TOKEN_PATH, TenantClient, documented_retry,
};
pub use crate::error::AvionteError;
pub use crate::types::{Talent, Tenant};
