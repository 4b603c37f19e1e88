//! DPoP (RFC 9449): a key the client proves possession of on every request, so a token
//! bound to it is useless to whoever copies it.
//!
//! One [`DpopKey`] serves a token endpoint and the middleware that uses its tokens (clones
//! share the key and the nonces). It signs a proof per request (`htm`, `htu` without query
//! and fragment, `iat`, a unique `jti`, `ath` for an access token, the server's `nonce`), and
//! keeps the last nonce each origin gave (`DPoP-Nonce`), at most [`MAX_NONCE_ORIGINS`] of them.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use url::Url;

use tokensmith_core::Error;

/// The `DPoP` request header that carries a proof.
pub const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The `DPoP-Nonce` answer header that carries a server nonce.
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");
/// How many origins' nonces a key keeps; the oldest is dropped first.
pub const MAX_NONCE_ORIGINS: usize = 32;
/// The longest nonce kept; a longer one is ignored.
const MAX_NONCE_LEN: usize = 1024;

/// An ES256 DPoP key with the nonces servers gave it. Cloning shares both.
///
/// The private key lives inside aws-lc, which zeroes it when the last clone is dropped (its
/// allocator clears every block it frees); tokensmith keeps no copy of its bytes.
#[derive(Clone)]
pub struct DpopKey {
    inner: Arc<Inner>,
}

impl secrecy::zeroize::ZeroizeOnDrop for DpopKey {}

struct Inner {
    pair: EcdsaKeyPair,
    /// The public JWK, serialised once, for the proof header.
    jwk: String,
    thumbprint: String,
    rng: SystemRandom,
    nonces: Mutex<Vec<(String, String)>>,
}

impl DpopKey {
    /// A fresh P-256 key from the operating system's randomness.
    pub fn generate() -> Result<Self, Error> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|_| Error::other("could not generate a P-256 key"))?;
        Ok(Self::from_pair(pair))
    }

    /// A P-256 key from PKCS#8 DER, to keep one key across restarts (tokens bound to it
    /// stay usable).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Error> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
            .map_err(|_| Error::config("the DPoP key is not a P-256 private key in PKCS#8 DER"))?;
        Ok(Self::from_pair(pair))
    }

    fn from_pair(pair: EcdsaKeyPair) -> Self {
        // An uncompressed point: 0x04 || x || y.
        let point = pair.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        let (x, y) = (URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y));
        // RFC 7638 §3.2: the required members, in lexicographic order, without spaces.
        let jwk = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let thumbprint = URL_SAFE_NO_PAD.encode(digest(&SHA256, jwk.as_bytes()));
        Self {
            inner: Arc::new(Inner {
                pair,
                jwk,
                thumbprint,
                rng: SystemRandom::new(),
                nonces: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The key's JWK SHA-256 thumbprint (RFC 7638), base64url: what a server binds tokens to
    /// (`cnf.jkt`) and `dpop_jkt` in an authorization request.
    pub fn thumbprint(&self) -> &str {
        &self.inner.thumbprint
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> &str {
        &self.inner.jwk
    }

    /// A proof for one request: `method` and `url` as sent, the access token it carries (its
    /// hash goes in `ath`), and the nonce last given for the URL's origin.
    pub fn proof(
        &self,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
    ) -> Result<HeaderValue, Error> {
        let nonce = self.nonce(url);
        // RFC 9449 §4.2: the URI without query and fragment; user info (a password in the
        // URL) is no part of it and never goes into a proof.
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let _ = htu.set_username("");
        let _ = htu.set_password(None);
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| Error::other("the system clock is before 1970"))?
            .as_secs();
        let mut jti = [0u8; 18];
        self.inner
            .rng
            .fill(&mut jti)
            .map_err(|_| Error::other("the operating system gave no random bytes"))?;
        let mut claims = format!(
            r#"{{"jti":"{}","htm":{},"htu":{},"iat":{iat}"#,
            URL_SAFE_NO_PAD.encode(jti),
            json_string(method),
            json_string(htu.as_str()),
        );
        if let Some(token) = access_token {
            let ath = URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()));
            claims.push_str(&format!(r#","ath":"{ath}""#));
        }
        if let Some(nonce) = nonce {
            claims.push_str(&format!(r#","nonce":{}"#, json_string(&nonce)));
        }
        claims.push('}');
        let header = format!(
            r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#,
            self.inner.jwk
        );
        let mut jws = URL_SAFE_NO_PAD.encode(header);
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut jws);
        let signature = self
            .inner
            .pair
            .sign(&self.inner.rng, jws.as_bytes())
            .map_err(|_| Error::other("could not sign the DPoP proof"))?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jws);
        HeaderValue::from_str(&jws)
            .map_err(|_| Error::other("the DPoP proof is not a header value"))
    }

    /// The nonce last given for `url`'s origin.
    pub fn nonce(&self, url: &Url) -> Option<String> {
        let origin = url.origin().ascii_serialization();
        let nonces = self.inner.nonces.lock().unwrap_or_else(|e| e.into_inner());
        nonces
            .iter()
            .find(|(o, _)| *o == origin)
            .map(|(_, nonce)| nonce.clone())
    }

    /// Keeps the `DPoP-Nonce` of an answer from `url`; true when it is new for that origin
    /// (so a request refused for want of it is worth one more try).
    pub fn remember_nonce(&self, url: &Url, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(&DPOP_NONCE)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= MAX_NONCE_LEN)
        else {
            return false;
        };
        let origin = url.origin().ascii_serialization();
        let mut nonces = self.inner.nonces.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = nonces.iter().position(|(o, _)| *o == origin) {
            let (_, held) = nonces.remove(at);
            let changed = held != nonce;
            nonces.push((origin, nonce.to_owned()));
            return changed;
        }
        if nonces.len() >= MAX_NONCE_ORIGINS {
            nonces.remove(0);
        }
        nonces.push((origin, nonce.to_owned()));
        true
    }
}

/// Whether a resource server's answer asks for a DPoP nonce (RFC 9449 §9):
/// `WWW-Authenticate: DPoP error="use_dpop_nonce"`.
pub fn asks_for_nonce(headers: &HeaderMap) -> bool {
    crate::challenge::from_headers(headers).is_ok_and(|challenges| {
        challenges
            .iter()
            .any(|c| c.is("dpop") && c.error() == Some("use_dpop_nonce"))
    })
}

fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &"ES256")
            .field("thumbprint", &self.inner.thumbprint)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
    use http::header::WWW_AUTHENTICATE;
    use serde_json::Value;

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn a_proof_is_a_verifiable_jws_with_the_rfc_9449_claims() {
        let key = DpopKey::generate().unwrap();
        let url = Url::parse("https://api.example:8443/v1/items?page=2#top").unwrap();
        let proof = key.proof("GET", &url, Some("canary-access-token")).unwrap();
        let text = proof.to_str().unwrap();
        assert!(!text.contains("canary-access-token"));
        let parts: Vec<&str> = text.split('.').collect();
        let header = decode(parts[0]);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert!(
            header["jwk"].get("d").is_none(),
            "only the public key travels"
        );
        let claims = decode(parts[1]);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["htu"], "https://api.example:8443/v1/items");
        let with_user = Url::parse("https://user:canary-pw@api.example/v1").unwrap();
        let proof = key.proof("GET", &with_user, None).unwrap();
        let claims_without_user = decode(proof.to_str().unwrap().split('.').nth(1).unwrap());
        assert_eq!(claims_without_user["htu"], "https://api.example/v1");
        assert_eq!(
            claims["ath"],
            URL_SAFE_NO_PAD.encode(digest(&SHA256, b"canary-access-token"))
        );
        assert!(claims.get("nonce").is_none());
        let point = [
            &[4u8][..],
            &URL_SAFE_NO_PAD
                .decode(header["jwk"]["x"].as_str().unwrap())
                .unwrap(),
            &URL_SAFE_NO_PAD
                .decode(header["jwk"]["y"].as_str().unwrap())
                .unwrap(),
        ]
        .concat();
        let signing_input = text.rsplit_once('.').unwrap().0;
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
            .verify(
                signing_input.as_bytes(),
                &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
            )
            .unwrap();
        let again = decode(
            key.proof("GET", &url, None)
                .unwrap()
                .to_str()
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap(),
        );
        assert_ne!(again["jti"], claims["jti"]);
        assert!(again.get("ath").is_none());
    }

    #[test]
    fn nonces_are_kept_per_origin_and_bounded() {
        let key = DpopKey::generate().unwrap();
        let a = Url::parse("https://a.example/token").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(DPOP_NONCE, HeaderValue::from_static("n-\"1\""));
        assert!(key.remember_nonce(&a, &headers));
        assert!(
            !key.remember_nonce(&a, &headers),
            "the same nonce is not news"
        );
        let claims = decode(
            key.proof("POST", &a, None)
                .unwrap()
                .to_str()
                .unwrap()
                .split('.')
                .nth(1)
                .unwrap(),
        );
        assert_eq!(claims["nonce"], "n-\"1\"");
        assert_eq!(
            key.clone()
                .nonce(&Url::parse("https://a.example/other").unwrap())
                .as_deref(),
            Some("n-\"1\"")
        );
        assert!(
            key.nonce(&Url::parse("https://b.example/").unwrap())
                .is_none()
        );
        for i in 0..MAX_NONCE_ORIGINS + 5 {
            let url = Url::parse(&format!("https://h{i}.example/")).unwrap();
            key.remember_nonce(&url, &headers);
        }
        assert_eq!(key.inner.nonces.lock().unwrap().len(), MAX_NONCE_ORIGINS);
        assert!(key.nonce(&a).is_none(), "the oldest origin was dropped");
    }

    #[test]
    fn thumbprint_follows_rfc_7638() {
        let key = DpopKey::generate().unwrap();
        let jwk: Value = serde_json::from_str(key.public_jwk()).unwrap();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        assert_eq!(
            key.thumbprint(),
            URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
        );
        assert!(format!("{key:?}").contains(key.thumbprint()));
        assert!(DpopKey::from_pkcs8_der(b"junk").is_err());
    }

    #[test]
    fn nonce_challenges_are_recognised() {
        let mut headers = HeaderMap::new();
        headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#));
        assert!(asks_for_nonce(&headers));
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer error="invalid_token""#),
        );
        assert!(!asks_for_nonce(&headers));
        // Read as challenges: the DPoP one need not come first, and the words elsewhere are
        // not the error.
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"Bearer realm="api", DPoP algs="ES256", error=use_dpop_nonce"#,
            ),
        );
        assert!(asks_for_nonce(&headers));
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"DPoP error="invalid_token", error_description="not use_dpop_nonce""#,
            ),
        );
        assert!(!asks_for_nonce(&headers));
    }
}
