//! Typed Avionté answers. Unknown fields are ignored.

use serde::Deserialize;

/// A talent (candidate) record, the fields most integrations read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct Talent {
    /// Talent id.
    pub id: u64,
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// E-mail address.
    pub email_address: Option<String>,
    /// The front office tenant the record belongs to.
    pub front_office_tenant_id: Option<serde_json::Value>,
}

/// Which tenant a request acts for; one partner integration serves many.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tenant {
    /// `FrontOfficeTenantId: <id>`, the preferred header.
    FrontOfficeId(String),
    /// `Tenant: <short code>`.
    ShortCode(String),
}

impl Tenant {
    /// The tenant by its front office id.
    pub fn front_office_id(id: impl Into<String>) -> Self {
        Self::FrontOfficeId(id.into())
    }

    /// The tenant by its short code.
    pub fn short_code(code: impl Into<String>) -> Self {
        Self::ShortCode(code.into())
    }

    pub(crate) fn header(&self) -> (&'static str, &str) {
        match self {
            Self::FrontOfficeId(id) => ("FrontOfficeTenantId", id),
            Self::ShortCode(code) => ("Tenant", code),
        }
    }
}
