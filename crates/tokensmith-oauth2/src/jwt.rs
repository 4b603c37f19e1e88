//! JSON Web Tokens the client signs: client assertions for `private_key_jwt` and
//! `client_secret_jwt` (RFC 7523 §2.2, OpenID Connect Core §9) and self-issued assertions for
//! the JWT bearer grant (RFC 7523 §2.1).
//!
//! Signing goes through [`Signer`], so a key held in a KMS or an HSM signs as well as one in
//! memory ([`JwtKey`], feature `jwt`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use tokensmith_core::Error;

use crate::ClientSecret;
#[cfg(feature = "jwt")]
use zeroize::Zeroizing;

/// `client_assertion_type` for a JWT (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How long an assertion the client signs is valid: long enough for clock skew, short
/// enough that a captured one is soon useless.
pub(crate) const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// A client assertion that someone else issued: a platform's workload identity token (a
/// Kubernetes service account token, a SPIFFE JWT-SVID, a CI provider's OIDC token), which a
/// server that trusts the platform's issuer takes in place of a client secret. It is sent
/// with [`ClientAuth::PrivateKeyJwt`](crate::ClientAuth::PrivateKeyJwt)'s wire format (RFC
/// 7523 §2.2): `client_assertion_type` and `client_assertion`, plus `client_id`.
///
/// [`assertion`](Self::assertion) is called for every token request, so a source that
/// rotates (a projected token file) is read anew each time; the value is a secret and is
/// masked in every error. When the assertion states its expiry, the token it gets lives no
/// longer.
#[async_trait]
pub trait ClientAssertion: Send + Sync + 'static {
    /// `client_assertion_type`: [`JWT_BEARER_ASSERTION_TYPE`] unless the assertion's kind
    /// has its own (the SPIFFE client authentication draft's
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-spiffe`).
    fn assertion_type(&self) -> &str {
        JWT_BEARER_ASSERTION_TYPE
    }

    /// The assertion for the next request.
    async fn assertion(&self) -> Result<IssuedAssertion, Error>;
}

/// A client assertion someone else issued, and when it expires.
pub struct IssuedAssertion {
    pub(crate) token: tokensmith_core::SecretString,
    pub(crate) expires_at: Option<SystemTime>,
}

impl IssuedAssertion {
    /// An assertion that states no expiry.
    pub fn new(token: tokensmith_core::SecretString) -> Self {
        Self {
            token,
            expires_at: None,
        }
    }

    /// When it expires: the token it is traded for expires no later.
    #[must_use]
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }
}

impl fmt::Debug for IssuedAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedAssertion")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Signs JWS signing input with a private key, wherever that key lives.
///
/// `sign` gets the bytes `BASE64URL(header) . BASE64URL(claims)` and returns the raw
/// signature in JWS form (for ECDSA the fixed-size `r || s`, not DER). A signer backed by a
/// KMS converts what the KMS returns.
#[async_trait]
pub trait Signer: Send + Sync + 'static {
    /// The JWS `alg` (`RS256`, `PS256`, `ES256`, `EdDSA`, …).
    fn algorithm(&self) -> &str;

    /// The `kid` the server finds the public key by, if the client has several.
    fn key_id(&self) -> Option<&str> {
        None
    }

    /// The signature over `message`.
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error>;
}

/// A signer shared by several endpoints (one client's key at the servers it uses).
#[async_trait]
impl<S: Signer + ?Sized> Signer for std::sync::Arc<S> {
    fn algorithm(&self) -> &str {
        (**self).algorithm()
    }

    fn key_id(&self) -> Option<&str> {
        (**self).key_id()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        (**self).sign(message).await
    }
}

/// Signs `claims` as a compact JWS.
pub(crate) async fn sign_jwt(
    signer: &dyn Signer,
    typ: Option<&str>,
    claims: &Value,
) -> Result<String, Error> {
    let mut header = Map::new();
    header.insert("alg".into(), signer.algorithm().into());
    if let Some(typ) = typ {
        header.insert("typ".into(), typ.into());
    }
    if let Some(kid) = signer.key_id() {
        header.insert("kid".into(), kid.into());
    }
    let mut jws = URL_SAFE_NO_PAD.encode(Value::Object(header).to_string());
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut jws);
    let signature = signer.sign(jws.as_bytes()).await?;
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
    Ok(jws)
}

/// Claims of an assertion the client issues: `iss`, `sub`, `aud`, a unique `jti`, `iat`, and
/// a short `exp`.
pub(crate) fn assertion_claims(
    issuer: &str,
    subject: &str,
    audience: &str,
) -> Result<Value, Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::other("the system clock is before 1970"))?
        .as_secs();
    Ok(json!({
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "jti": crate::random_urlsafe(18)?,
        "iat": now,
        "nbf": now,
        "exp": now + ASSERTION_LIFETIME.as_secs(),
    }))
}

/// An assertion the client issues and signs for each request (RFC 7523 §2.1, §3).
pub(crate) struct SelfIssued {
    pub(crate) signer: std::sync::Arc<dyn Signer>,
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) audience: String,
    pub(crate) claims: Map<String, Value>,
}

impl SelfIssued {
    pub(crate) async fn sign(&self) -> Result<String, Error> {
        let mut claims = assertion_claims(&self.issuer, &self.subject, &self.audience)?;
        if let Value::Object(fields) = &mut claims {
            for (name, value) in &self.claims {
                fields.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
        sign_jwt(&*self.signer, None, &claims).await
    }

    pub(crate) fn identity(&self) -> [(&str, &str); 4] {
        [
            ("iss", &self.issuer),
            ("sub", &self.subject),
            ("aud", &self.audience),
            ("kid", self.signer.key_id().unwrap_or("")),
        ]
    }
}

impl fmt::Debug for SelfIssued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelfIssued")
            .field("signer", &SignerName(&*self.signer))
            .field("iss", &self.issuer)
            .field("sub", &self.subject)
            .field("aud", &self.audience)
            .field("claims", &self.claims.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `client_secret_jwt`: HS256 with the client secret as the key (RFC 7518 §3.2).
pub(crate) struct SecretSigner(pub(crate) ClientSecret);

#[async_trait]
impl Signer for SecretSigner {
    fn algorithm(&self) -> &str {
        "HS256"
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(hs256(&self.0, message))
    }
}

pub(crate) fn hs256(secret: &ClientSecret, message: &[u8]) -> Vec<u8> {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
    hmac::sign(&key, message).as_ref().to_vec()
}

/// Describes a signer without its key.
pub(crate) struct SignerName<'a>(pub(crate) &'a dyn Signer);

impl fmt::Debug for SignerName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("alg", &self.0.algorithm())
            .field("kid", &self.0.key_id())
            .finish()
    }
}

#[cfg(feature = "jwt")]
mod key;

#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use self::key::JwtKey;

#[cfg(test)]
mod tests;
