//! The `token_type` spellings of Basic-client vendors.

use tokensmith_core::TokenType;
use tokensmith_oauth2::TokenVendor;

/// The quirks of Basic-client vendors at the token endpoint: `token_type` spellings that mean
/// bearer (`BearerToken`, `Application Access Token`, `User Access Token`).
/// [`BasicClient`](crate::BasicClient) sets it; set it on a hand-built endpoint with
/// `TokenEndpointBuilder::vendor(Quirks)`. Their error shapes (`{"errors":[…]}`,
/// `{"error":"Invalid_request"}`, `{"error":{"code":…}}`) and the hint for a wrong client
/// answered as `invalid_request` need no hook: every token endpoint reads them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quirks;

/// `token_type` spellings that mean bearer.
const BEARER_ALIASES: &[&str] = &[
    "bearertoken",
    "application access token",
    "user access token",
];

impl TokenVendor for Quirks {
    fn token_type(&self, token_type: &str) -> Option<TokenType> {
        let lower = token_type.trim().to_ascii_lowercase();
        BEARER_ALIASES
            .contains(&lower.as_str())
            .then_some(TokenType::Bearer)
    }
}
