//! `JwtKey`: a private key held in memory (PEM or JWK; RS256, PS256, ES256, EdDSA) that signs client assertions.

use super::*;

/// A private key held in memory that signs with `jsonwebtoken`: RS256, PS256 (RSA, at least
/// 2048 bits), ES256 (P-256) or EdDSA (Ed25519). Its `Debug` shows the algorithm and key id,
/// never the key.
#[derive(Clone)]
pub struct JwtKey {
    key: jsonwebtoken::EncodingKey,
    algorithm: jsonwebtoken::Algorithm,
    name: &'static str,
    key_id: Option<String>,
}

/// The key's bytes are zeroed on drop (`jsonwebtoken`'s `EncodingKey` zeroes them), as is
/// everything decoded on the way from a PEM or a JWK.
impl zeroize::ZeroizeOnDrop for JwtKey {}

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
struct ZeroizedFields(Map<String, Value>);

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
fn short(text: &str) -> &str {
    let plausible = text.len() <= 10
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plausible { text } else { "(not a name)" }
}

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

fn key_error(alg: &str, reason: &str) -> Error {
    Error::config(format!("the private key does not load for {alg}: {reason}")).with_hint(
        "RS256/PS256 take an RSA key of 2048 bits or more, ES256 a P-256 key, EdDSA an Ed25519 \
         key; PEM in PKCS#8 (`openssl pkcs8 -topk8 -nocrypt`)",
    )
}

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

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKey")
            .field("alg", &self.name)
            .field("kid", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The few DER structures a private JWK becomes.
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
