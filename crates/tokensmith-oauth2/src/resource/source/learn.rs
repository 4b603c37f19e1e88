//! What a resource's challenges teach the source: where its metadata is, the scopes it
//! wants, a step-up (RFC 6750 §3.1), a stronger sign-in (RFC 9470).

use http::StatusCode;
use tokensmith_core::{AccessToken, Error};
use tokensmith_http::challenge::Challenge;
use url::Url;

use super::{Hints, ResourceSource};

impl ResourceSource {
    /// Reads a challenge; `Ok(true)` when a new token may change the answer.
    pub(in crate::resource) fn learn(
        &self,
        url: &Url,
        status: StatusCode,
        challenges: &[Challenge],
        sent: Option<&AccessToken>,
    ) -> Result<bool, Error> {
        let challenge = challenges
            .iter()
            .find(|c| c.is("bearer"))
            .or_else(|| challenges.iter().find(|c| c.is("dpop")));
        let mut hints = self.hints();
        if let Some(named) = challenge.and_then(Challenge::resource_metadata) {
            hints.named = Some(named.to_owned());
        }
        let error = challenge.and_then(Challenge::error);
        if error == Some("insufficient_user_authentication") {
            return self.stronger_sign_in(&mut hints, challenge);
        }
        let scopes: Vec<String> = challenge
            .map(|c| c.scopes().map(str::to_owned).collect())
            .unwrap_or_default();
        if status == StatusCode::FORBIDDEN && error != Some("insufficient_scope") {
            return Ok(false);
        }
        if sent.is_none() {
            // The first challenge: it says where the metadata is and what to ask for.
            tracing::debug!(target: "tokensmith::oauth2", url = %tokensmith_http::display_url(url), status = status.as_u16(), "the resource challenged a request without a token");
            hints.wanted.extend(scopes);
            hints.ready = true;
            return Ok(true);
        }
        if error == Some("insufficient_scope") || status == StatusCode::FORBIDDEN {
            return Ok(self.step_up(&mut hints, scopes));
        }
        // A 401 to a token: expired or revoked. A scope it names that was not asked for
        // needs a new authorization, like a step-up.
        if !scopes.is_empty() && !scopes.iter().all(|s| hints.requested.contains(s)) {
            return Ok(self.step_up(&mut hints, scopes));
        }
        Ok(true)
    }

    /// RFC 6750 §3.1 `insufficient_scope`: authorize again with the union of the scopes,
    /// when that asks for something new and the bound allows.
    fn step_up(&self, hints: &mut Hints, required: Vec<String>) -> bool {
        let mut wanted = hints.requested.clone();
        wanted.extend(hints.wanted.iter().cloned());
        wanted.extend(required);
        if wanted == hints.requested {
            tracing::warn!(target: "tokensmith::oauth2", scopes = ?hints.requested, "the resource refuses a token with every scope it asked for; not authorizing again");
            return false;
        }
        if hints.step_ups >= self.max_step_ups {
            tracing::warn!(target: "tokensmith::oauth2", step_ups = hints.step_ups, "the resource asks for more scope again; the bound on re-authorizations is reached");
            return false;
        }
        hints.step_ups += 1;
        tracing::debug!(target: "tokensmith::oauth2", scopes = ?wanted, "the resource wants more scope: authorizing again");
        hints.wanted = wanted;
        hints.needs_authorization = true;
        true
    }

    /// RFC 9470: a stronger or more recent sign-in. A user flow signs in again with
    /// `acr_values` / `max_age`; other flows cannot, which is an error saying so.
    fn stronger_sign_in(
        &self,
        hints: &mut Hints,
        challenge: Option<&Challenge>,
    ) -> Result<bool, Error> {
        let mut params = Vec::new();
        for name in ["acr_values", "max_age"] {
            if let Some(value) = challenge.and_then(|c| c.param(name)) {
                params.push((name.to_owned(), value.to_owned()));
            }
        }
        let described = params
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        if !self.user() {
            return Err(Error::refused(format!(
                "the resource wants a stronger user authentication ({described}); this client \
                 has no user to sign in again"
            ))
            .with_hint("RFC 9470 step-up is for user sign-in flows; the resource's policy does not accept this grant"));
        }
        if hints.auth_params == params || hints.step_ups >= self.max_step_ups {
            return Ok(false);
        }
        hints.step_ups += 1;
        hints.auth_params = params;
        hints.needs_authorization = true;
        hints.ready = true;
        Ok(true)
    }
}
