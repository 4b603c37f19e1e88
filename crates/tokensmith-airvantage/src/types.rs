//! Typed AirVantage answers. Unknown fields are ignored; fields AirVantage may leave out are
//! optional.

use serde::Deserialize;

/// A page of a list (`items` with paging facts).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items on this page.
    #[serde(default = "Vec::new")]
    pub items: Vec<T>,
    /// All items across pages.
    #[serde(default)]
    pub count: Option<u64>,
    /// The page size asked for.
    #[serde(default)]
    pub size: Option<u64>,
    /// The offset of the first item.
    #[serde(default)]
    pub offset: Option<u64>,
}

/// A system (a device with its gateway and subscription).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct System {
    /// Unique id.
    pub uid: String,
    /// Display name.
    pub name: Option<String>,
    /// Communication status (`OK`, `WARNING`, `ERROR`, …).
    pub comm_status: Option<String>,
    /// Life cycle state (`DEPLOYED`, `INVENTORY`, …).
    pub life_cycle_state: Option<String>,
    /// Last communication, in milliseconds since the epoch.
    pub last_comm_date: Option<u64>,
}

/// The signed-in user.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct User {
    /// Unique id.
    pub uid: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// The user's company.
    pub company: Option<CompanyRef>,
}

/// A company, as other objects refer to it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CompanyRef {
    /// Unique id (what the `company` parameter takes).
    pub uid: String,
    /// Display name.
    pub name: Option<String>,
}

/// Paging and field selection for [`AirVantageClient::systems`](crate::AirVantageClient::systems).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemsQuery {
    pub(crate) offset: Option<u64>,
    pub(crate) size: Option<u64>,
    pub(crate) fields: Vec<String>,
}

impl SystemsQuery {
    /// All fields, the server's default page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Skip this many systems.
    #[must_use]
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// At most this many systems.
    #[must_use]
    pub fn size(mut self, size: u64) -> Self {
        self.size = Some(size);
        self
    }

    /// Only these fields (`uid`, `name`, `commStatus`, …).
    #[must_use]
    pub fn fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    pub(crate) fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(offset) = self.offset {
            pairs.push(("offset", offset.to_string()));
        }
        if let Some(size) = self.size {
            pairs.push(("size", size.to_string()));
        }
        if !self.fields.is_empty() {
            pairs.push(("fields", self.fields.join(",")));
        }
        pairs
    }
}
