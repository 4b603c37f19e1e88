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

/// A private key held in memory that signs with `jsonwebtoken`: RS256, PS256 (RSA, at least
/// 2048 bits), ES256 (P-256) or EdDSA (Ed25519). Its `Debug` shows the algorithm and key id,
/// never the key.
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
#[derive(Clone)]
pub struct JwtKey {
    key: jsonwebtoken::EncodingKey,
    algorithm: jsonwebtoken::Algorithm,
    name: &'static str,
    key_id: Option<String>,
}

/// The key's bytes are zeroed on drop (`jsonwebtoken`'s `EncodingKey` zeroes them), as is
/// everything decoded on the way from a PEM or a JWK.
#[cfg(feature = "jwt")]
impl zeroize::ZeroizeOnDrop for JwtKey {}

#[cfg(feature = "jwt")]
impl JwtKey {
    /// A key from a PEM file (PKCS#8 `PRIVATE KEY`, or PKCS#1 `RSA PRIVATE KEY`) for `alg`:
    /// `RS256`, `PS256`, `ES256` or `EdDSA`.
    pub fn from_pem(pem: impl AsRef<[u8]>, alg: &str) -> Result<Self, Error> {
        use jsonwebtoken::{Algorithm, EncodingKey};
        let (algorithm, name) = algorithm(alg)?;
        let pem = pem.as_ref();
        let key = match algorithm {
            Algorithm::RS256 | Algorithm::PS256 => EncodingKey::from_rsa_pem(pem),
            Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
            _ => EncodingKey::from_ed_pem(pem),
        }
        // The library's message names the parse failure, not the key's bytes.
        .map_err(|e| key_error(alg, &e.to_string()))?;
        Self::checked(key, algorithm, name)
    }

    /// A key from a private JWK (RFC 7517): `RSA` (with `n`, `e`, `d`, `p`, `q`, `dp`, `dq`,
    /// `qi`), `EC` on `P-256`, or `OKP` on `Ed25519`. The algorithm is the JWK's `alg`, or
    /// RS256 / ES256 / EdDSA by key type; its `kid` becomes the key id.
    pub fn from_jwk(jwk: &str) -> Result<Self, Error> {
        // serde_json's messages quote the value they met (a double-encoded key would appear
        // in full): only the kind of failure and its place are repeated.
        let fields = match serde_json::from_str::<Value>(jwk) {
            Ok(Value::Object(fields)) => fields,
            Ok(Value::String(_)) => {
                return Err(Error::config("the JWK is a JSON string, not a JSON object")
                    .with_hint(
                        "the key was encoded twice (a JSON string holding the JWK); pass the \
                         object itself, e.g. decode the string once first",
                    ));
            }
            Ok(_) => return Err(Error::config("the JWK is JSON but not an object")),
            Err(e) => {
                return Err(Error::config(format!(
                    "the JWK is not JSON ({:?} error at line {}, column {})",
                    e.classify(),
                    e.line(),
                    e.column()
                )));
            }
        };
        // The private members are zeroed once the key is loaded, as are the bytes decoded
        // from them and the DER built from those.
        let fields = ZeroizedFields(fields);
        let text = |name: &str| fields.0.get(name).and_then(Value::as_str);
        let bytes = |name: &str| -> Result<Zeroizing<Vec<u8>>, Error> {
            let value = text(name)
                .ok_or_else(|| Error::config(format!("the private JWK has no `{name}`")))?;
            URL_SAFE_NO_PAD
                .decode(value.trim_end_matches('='))
                .map(Zeroizing::new)
                .map_err(|_| Error::config(format!("the JWK's `{name}` is not base64url")))
        };
        let kty = text("kty").unwrap_or("");
        let default_alg = match (kty, text("crv")) {
            ("RSA", _) => "RS256",
            ("EC", Some("P-256")) => "ES256",
            ("OKP", Some("Ed25519")) => "EdDSA",
            _ => {
                return Err(Error::config(format!(
                    "unsupported JWK key type `{}`: RSA, EC P-256 and OKP Ed25519 are",
                    short(kty)
                )));
            }
        };
        let alg = text("alg").unwrap_or(default_alg);
        let (algorithm, name) = algorithm(alg)?;
        let der = Zeroizing::new(match kty {
            "RSA" => der::rsa_private_key(&[
                &[0],
                &bytes("n")?,
                &bytes("e")?,
                &bytes("d")?,
                &bytes("p")?,
                &bytes("q")?,
                &bytes("dp")?,
                &bytes("dq")?,
                &bytes("qi")?,
            ]),
            "EC" => der::p256_pkcs8(&bytes("d")?, &bytes("x")?, &bytes("y")?)?,
            _ => der::ed25519_pkcs8(&bytes("d")?, &bytes("x")?)?,
        });
        let key = match kty {
            "RSA" => jsonwebtoken::EncodingKey::from_rsa_der(&der),
            "EC" => jsonwebtoken::EncodingKey::from_ec_der(&der),
            _ => jsonwebtoken::EncodingKey::from_ed_der(&der),
        };
        let mut key = Self::checked(key, algorithm, name)?;
        key.key_id = text("kid").map(str::to_owned);
        Ok(key)
    }

    /// Names the key for the server (`kid` in the JWS header).
    #[must_use]
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.key_id = Some(kid.into());
        self
    }

    /// Signs once, so a key that does not fit its algorithm fails here, not at the server.
    fn checked(
        key: jsonwebtoken::EncodingKey,
        algorithm: jsonwebtoken::Algorithm,
        name: &'static str,
    ) -> Result<Self, Error> {
        jsonwebtoken::crypto::sign(b"tokensmith key check", &key, algorithm)
            .map_err(|e| key_error(name, &e.to_string()))?;
        Ok(Self {
            key,
            algorithm,
            name,
            key_id: None,
        })
    }
}

/// A parsed JWK whose string members are zeroed on drop.
#[cfg(feature = "jwt")]
struct ZeroizedFields(Map<String, Value>);

#[cfg(feature = "jwt")]
impl Drop for ZeroizedFields {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        for value in self.0.values_mut() {
            if let Value::String(text) = value {
                text.zeroize();
            }
        }
    }
}

/// A key type or algorithm name from a key file, for an error message: names are short
/// words (`RSA`, `ES256K`, `RSA-OAEP`); anything else may be key material and is not repeated.
#[cfg(feature = "jwt")]
fn short(text: &str) -> &str {
    let plausible = text.len() <= 10
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plausible { text } else { "(not a name)" }
}

#[cfg(feature = "jwt")]
fn algorithm(alg: &str) -> Result<(jsonwebtoken::Algorithm, &'static str), Error> {
    use jsonwebtoken::Algorithm;
    Ok(match alg {
        "RS256" => (Algorithm::RS256, "RS256"),
        "PS256" => (Algorithm::PS256, "PS256"),
        "ES256" => (Algorithm::ES256, "ES256"),
        "EdDSA" | "Ed25519" => (Algorithm::EdDSA, "EdDSA"),
        other => {
            return Err(Error::config(format!(
                "signing algorithm `{}` is not one of RS256, PS256, ES256, EdDSA",
                short(other)
            )));
        }
    })
}

#[cfg(feature = "jwt")]
fn key_error(alg: &str, reason: &str) -> Error {
    Error::config(format!("the private key does not load for {alg}: {reason}")).with_hint(
        "RS256/PS256 take an RSA key of 2048 bits or more, ES256 a P-256 key, EdDSA an Ed25519 \
         key; PEM in PKCS#8 (`openssl pkcs8 -topk8 -nocrypt`)",
    )
}

#[cfg(feature = "jwt")]
#[async_trait]
impl Signer for JwtKey {
    fn algorithm(&self) -> &str {
        self.name
    }

    fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let signature = jsonwebtoken::crypto::sign(message, &self.key, self.algorithm)
            .map_err(|e| Error::other(format!("signing with the {} key failed: {e}", self.name)))?;
        URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Error::other("the signature is not base64url"))
    }
}

#[cfg(feature = "jwt")]
impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("alg", &self.name)
            .field("kid", &self.key_id)
            .finish_non_exhaustive()
    }
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

/// The few DER structures a private JWK becomes.
#[cfg(feature = "jwt")]
mod der {
    use tokensmith_core::Error;

    fn length(len: usize, out: &mut Vec<u8>) {
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|b| **b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
    }

    fn tagged(tag: u8, content: &[u8], out: &mut Vec<u8>) {
        out.push(tag);
        length(content.len(), out);
        out.extend_from_slice(content);
    }

    /// PKCS#1 `RSAPrivateKey`: a sequence of unsigned integers.
    pub(super) fn rsa_private_key(integers: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        for value in integers {
            let trimmed: &[u8] = match value.iter().position(|b| *b != 0) {
                Some(start) => &value[start..],
                None => &[0],
            };
            let mut int = Vec::with_capacity(trimmed.len() + 1);
            if trimmed[0] & 0x80 != 0 {
                int.push(0);
            }
            int.extend_from_slice(trimmed);
            tagged(0x02, &int, &mut body);
        }
        let mut out = Vec::new();
        tagged(0x30, &body, &mut out);
        out
    }

    fn fixed<'a>(name: &str, value: &'a [u8], len: usize) -> Result<&'a [u8], Error> {
        if value.len() == len {
            Ok(value)
        } else {
            Err(Error::config(format!(
                "the JWK's `{name}` has {} bytes, not {len}",
                value.len()
            )))
        }
    }

    /// PKCS#8 for a P-256 key: SEC1 `ECPrivateKey` with its public point.
    pub(super) fn p256_pkcs8(d: &[u8], x: &[u8], y: &[u8]) -> Result<Vec<u8>, Error> {
        const PREFIX: &[u8] = &[
            0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce,
            0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x04,
            0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
        ];
        let mut out = PREFIX.to_vec();
        out.extend_from_slice(fixed("d", d, 32)?);
        out.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00, 0x04]);
        out.extend_from_slice(fixed("x", x, 32)?);
        out.extend_from_slice(fixed("y", y, 32)?);
        Ok(out)
    }

    /// PKCS#8 v2 for an Ed25519 key: the seed and the public key.
    pub(super) fn ed25519_pkcs8(d: &[u8], x: &[u8]) -> Result<Vec<u8>, Error> {
        const PREFIX: &[u8] = &[
            0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        let mut out = PREFIX.to_vec();
        out.extend_from_slice(fixed("d", d, 32)?);
        out.extend_from_slice(&[0x81, 0x21, 0x00]);
        out.extend_from_slice(fixed("x", x, 32)?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
