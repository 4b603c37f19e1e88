//! Sealing values at rest (XChaCha20-Poly1305, bound to their Redis key) and deriving Redis
//! keys that name no secret (HMAC-SHA256).

use std::fmt;
use zeroize::{Zeroize as _, Zeroizing};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokensmith_core::{Error, TokenIdentity};

/// The format of a sealed value: this byte, a 24-byte nonce, the ciphertext.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// The application's key for what the fleet keeps in Redis: 32 random bytes, the same on every
/// replica (from a secret store, say). Tokens are sealed under a key derived from it, and the
/// names of Redis keys are keyed digests under another. Never printed.
///
/// ```
/// use tokensmith_redis::SealingKey;
///
/// let key = SealingKey::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
/// assert_eq!(format!("{key:?}"), "SealingKey([redacted])");
/// assert!(SealingKey::from_base64("too short").is_err());
/// # Ok::<(), tokensmith_core::Error>(())
/// ```
#[derive(Clone)]
pub struct SealingKey {
    seal: [u8; 32],
    name: [u8; 32],
}

/// The derived keys are zeroed when the key is dropped (the ciphers made from them zero
/// their own copies).
impl Drop for SealingKey {
    fn drop(&mut self) {
        self.seal.zeroize();
        self.name.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for SealingKey {}

impl SealingKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            seal: derive(&bytes, b"tokensmith-redis seal v1"),
            name: derive(&bytes, b"tokensmith-redis key names v1"),
        }
    }

    /// The key from 32 bytes in standard base64 (what `openssl rand -base64 32` prints).
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| Error::config("the sealing key is not base64"))?,
        );
        let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()).map(Zeroizing::new) else {
            return Err(Error::config("the sealing key must be 32 bytes")
                .with_hint("make one with `openssl rand -base64 32`"));
        };
        Ok(Self::from_bytes(*bytes))
    }

    /// A random key, for tests and single-process use (a fleet needs one key for all).
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *bytes).map_err(|e| Error::other(format!("no random bytes: {e}")))?;
        Ok(Self::from_bytes(*bytes))
    }

    /// Seals `plain` for the Redis key `aad`: a value read under another key does not open.
    pub(crate) fn seal(&self, aad: &str, plain: &[u8]) -> Result<Vec<u8>, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| Error::other(format!("no random bytes: {e}")))?;
        let cipher = XChaCha20Poly1305::new((&self.seal).into());
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| Error::other("could not seal a value for Redis"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a value sealed for `aad`; `None` when it was not (another key, another format,
    /// tampered with).
    pub(crate) fn open(&self, aad: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let (&version, rest) = sealed.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        XChaCha20Poly1305::new((&self.seal).into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .ok()
    }

    /// The hex digest that names `identity` (and `name`) in Redis: the same on every replica
    /// with this key, and no help to anyone without it.
    pub(crate) fn name_of(&self, name: Option<&str>, identity: Option<&TokenIdentity>) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.name).expect("any key length");
        let mut field = |tag: u8, bytes: &[u8]| {
            mac.update(&[tag]);
            mac.update(&(bytes.len() as u64).to_be_bytes());
            mac.update(bytes);
        };
        if let Some(name) = name {
            field(b'n', name.as_bytes());
        }
        if let Some(identity) = identity {
            for (part, value) in identity.parts() {
                field(b'p', part.as_bytes());
                field(b'v', value.as_bytes());
            }
            for secret in identity.secrets() {
                field(b's', secret.as_bytes());
            }
        }
        let digest = mac.finalize().into_bytes();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn derive(key: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_zeroed_on_drop() {
        fn zeroed_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroed_on_drop::<SealingKey>();
        // What `Drop` runs, on a key still in hand.
        let mut key = SealingKey::from_bytes([7; 32]);
        key.seal.zeroize();
        key.name.zeroize();
        assert_eq!((key.seal, key.name), ([0; 32], [0; 32]));
    }

    #[test]
    fn sealed_values_open_only_under_their_key_and_name() {
        let key = SealingKey::from_bytes([7; 32]);
        let sealed = key.seal("k1", b"canary-token-1").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"canary"));
        assert_eq!(key.open("k1", &sealed).unwrap(), b"canary-token-1");
        assert_eq!(key.open("k2", &sealed), None, "bound to its Redis key");
        assert_eq!(SealingKey::from_bytes([8; 32]).open("k1", &sealed), None);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open("k1", &tampered), None);
        assert_eq!(key.open("k1", b""), None);
        assert_ne!(
            key.seal("k1", b"x").unwrap(),
            key.seal("k1", b"x").unwrap(),
            "fresh nonces"
        );
    }

    #[test]
    fn names_are_stable_keyed_and_secret_free() {
        let key = SealingKey::from_bytes([7; 32]);
        let identity = TokenIdentity::new()
            .part("client_id", "app")
            .secret("canary-secret-2");
        let name = key.name_of(None, Some(&identity));
        assert_eq!(name, key.name_of(None, Some(&identity.clone())));
        assert_eq!(name.len(), 32);
        assert!(!name.contains("app") && !name.contains("canary"));
        let other_secret = TokenIdentity::new()
            .part("client_id", "app")
            .secret("other");
        assert_ne!(name, key.name_of(None, Some(&other_secret)));
        assert_ne!(
            name,
            SealingKey::from_bytes([9; 32]).name_of(None, Some(&identity))
        );
        assert_ne!(name, key.name_of(Some("orders"), Some(&identity)));
    }
}
