//! A platform token as read: the secret, and the claims tokensmith looks at (`exp`, `aud`, `iss`, `sub`), never checked, only used to decide when to read again and what to say.

use super::*;

/// A platform's identity token: a JWT issued to this workload (a Kubernetes projected service
/// account token, a SPIFFE JWT-SVID, a CI provider's OIDC token). A secret: `Debug` shows its
/// claims, never the token.
#[derive(Clone)]
pub struct PlatformToken {
    pub(super) secret: SecretString,
    pub(super) claims: Claims,
}

#[derive(Clone, Debug, Default)]
pub(super) struct Claims {
    pub(super) issuer: Option<String>,
    pub(super) subject: Option<String>,
    pub(super) audiences: Vec<String>,
    pub(super) expires_at: Option<SystemTime>,
}

impl PlatformToken {
    /// The token itself, for where it must leave the process.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }

    /// `iss`, when the token is a JWT that has it.
    pub fn issuer(&self) -> Option<&str> {
        self.claims.issuer.as_deref()
    }

    /// `sub`, when the token is a JWT that has it.
    pub fn subject(&self) -> Option<&str> {
        self.claims.subject.as_deref()
    }

    /// `aud`, as a list.
    pub fn audiences(&self) -> &[String] {
        &self.claims.audiences
    }

    /// `exp`, when the token is a JWT that has it.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.claims.expires_at
    }
}

impl fmt::Debug for PlatformToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlatformToken")
            .field("token", &"[redacted]")
            .field("issuer", &self.claims.issuer)
            .field("subject", &self.claims.subject)
            .field("audiences", &self.claims.audiences)
            .field("expires_at", &self.claims.expires_at)
            .finish()
    }
}

/// Reads a JWT's claims without verifying it: the server that takes the token verifies it.
pub(super) fn claims_of(token: &str) -> Claims {
    let mut parts = token.split('.');
    let payload = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(payload), Some(_), None) => payload,
        _ => return Claims::default(),
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')) else {
        return Claims::default();
    };
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&bytes) else {
        return Claims::default();
    };
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    Claims {
        issuer: text("iss"),
        subject: text("sub"),
        audiences: match claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.clone()],
            Some(Value::Array(auds)) => auds
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        },
        expires_at: claims
            .get("exp")
            .and_then(Value::as_f64)
            .filter(|exp| exp.is_finite() && *exp > 0.0)
            .and_then(|exp| UNIX_EPOCH.checked_add(Duration::from_secs_f64(exp.min(1e11)))),
    }
}
