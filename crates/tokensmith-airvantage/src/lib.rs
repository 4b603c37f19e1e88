//! AirVantage (Sierra Wireless / Semtech) for tokensmith.
//!
//! AirVantage lives in regions (`na`, `eu`); a token from one region means nothing in the
//! other (`{"error":"context.unknown"}`). Here the [`Region`] is chosen once and serves both
//! the token endpoint and the API, so they cannot diverge. The password grant is the default
//! for server-side code; the authorization code flow is there for user-facing apps; the refresh
//! token is used automatically. [`AirVantageClient`] has a few typed calls and a generic `get`;
//! API errors are decoded with hints naming the usual causes.
//!
//! # Example
//! ```
//! use tokensmith_airvantage::{AirVantageClient, Region, SystemsQuery};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = AirVantageClient::builder("eu".parse::<Region>()?)
//!     .client("client-id", "client-secret")
//!     .password("user@example.com", "password")
//!     .build()?;
//! let page = client.systems(&SystemsQuery::new().size(10).fields(["uid", "name"])).await?;
//! for system in page.items {
//!     println!("{} {:?}", system.uid, system.name);
//! }
//! client.logout().await?;
//! # Ok(())
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod error;
mod region;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod types;

pub use crate::client::{
    AUTHORIZE_PATH, AirVantageBuilder, AirVantageClient, EXPIRE_PATH, TOKEN_PATH,
};
pub use crate::error::{AirVantageError, ErrorPayload};
pub use crate::region::Region;
pub use crate::types::{CompanyRef, Page, System, SystemsQuery, User};
