//! One token request: a grant type and its form parameters.

use crate::jwt::SelfIssued;

/// The parameters of one token request (RFC 6749 §4), sent as an
/// `application/x-www-form-urlencoded` body. The grants build these; vendor crates and custom
/// grants can too, and send them with [`TokenEndpoint::exchange`](crate::TokenEndpoint::exchange).
///
/// ```
/// use tokensmith_oauth2::GrantRequest;
///
/// let request = GrantRequest::new("client_credentials").scope("read write");
/// assert_eq!(request.grant_type(), "client_credentials");
/// ```
#[derive(Clone)]
pub struct GrantRequest<'a> {
    pub(crate) grant_type: &'a str,
    pub(crate) params: Vec<(&'a str, &'a str)>,
    pub(crate) secret_values: Vec<&'a str>,
    pub(crate) scope: Option<&'a str>,
    pub(crate) repeatable: bool,
    /// Whether `grant_type` goes in the body (not for the device authorization request).
    pub(crate) sends_grant_type: bool,
    /// An assertion signed when the request is sent, as the `assertion` parameter.
    pub(crate) assertion: Option<&'a SelfIssued>,
}

impl<'a> GrantRequest<'a> {
    /// A request for `grant_type`, which may be repeated safely (a retry cannot use up a
    /// one-time credential).
    pub fn new(grant_type: &'a str) -> Self {
        Self {
            grant_type,
            params: Vec::new(),
            secret_values: Vec::new(),
            scope: None,
            repeatable: true,
            sends_grant_type: true,
            assertion: None,
        }
    }

    /// A client-authenticated request that is not a grant (RFC 8628 §3.1): no `grant_type`;
    /// `label` names it in logs and hints.
    pub(crate) fn without_grant_type(label: &'a str) -> Self {
        Self {
            sends_grant_type: false,
            ..Self::new(label)
        }
    }

    /// Adds a form parameter.
    #[must_use]
    pub fn param(mut self, name: &'a str, value: &'a str) -> Self {
        self.params.push((name, value));
        self
    }

    /// Adds a form parameter whose value is secret (a password, a code, a refresh token): it
    /// is masked in any error excerpt.
    #[must_use]
    pub fn secret_param(mut self, name: &'a str, value: &'a str) -> Self {
        self.secret_values.push(value);
        self.param(name, value)
    }

    /// Adds `scope` (RFC 6749 §3.3), a space-separated list; hints quote it on `invalid_scope`.
    #[must_use]
    pub fn scope(mut self, scope: &'a str) -> Self {
        self.scope = Some(scope);
        self.param("scope", scope)
    }

    /// An assertion signed afresh for each request (the JWT bearer grant).
    #[must_use]
    pub(crate) fn signed_assertion(mut self, assertion: &'a SelfIssued) -> Self {
        self.assertion = Some(assertion);
        self
    }

    /// Marks the request as using a one-time credential (an authorization code, a rotating
    /// refresh token): it is never repeated to probe client authentication, and retried only
    /// when it certainly did not reach the server.
    #[must_use]
    pub fn single_use(mut self) -> Self {
        self.repeatable = false;
        self
    }

    /// The grant type.
    pub fn grant_type(&self) -> &str {
        self.grant_type
    }
}

impl std::fmt::Debug for GrantRequest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.params.iter().map(|(name, _)| *name).collect();
        f.debug_struct("GrantRequest")
            .field("grant_type", &self.grant_type)
            .field("params", &names)
            .field("repeatable", &self.repeatable)
            .finish()
    }
}

/// Scopes joined with single spaces (RFC 6749 §3.3); `None` when there are none.
pub(crate) fn join_scopes<I, S>(scopes: I) -> Option<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let joined = scopes
        .into_iter()
        .flat_map(|s| {
            s.as_ref()
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join(" ");
    (!joined.is_empty()).then_some(joined)
}
