//! What a client proves with signatures: JWT client assertions (RFC 7523 §2.2, for clients
//! registered with [`ClientConfig::private_key_jwt`](crate::ClientConfig::private_key_jwt))
//! and DPoP proofs (RFC 9449 §4.3), checked the way a strict server checks them.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::state::{ServerState, lock};

/// `client_assertion_type` of a JWT client assertion.
pub(crate) const JWT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The most `jti` values remembered against replay.
const MAX_SEEN: usize = 100_000;
/// How far from now a proof's `iat` may be, in seconds.
const IAT_WINDOW: u64 = 60;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn b64(value: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| "not base64url".to_owned())
}

fn part(value: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice(&b64(value)?) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err("a JWS part is not a JSON object".to_owned()),
    }
}

/// A JSON object: a JWS header or its claims.
type Object = Map<String, Value>;

/// Verifies a compact JWS with a public JWK; returns its header and claims.
pub(crate) fn verify(jws: &str, jwk: &Value) -> Result<(Object, Object), String> {
    let mut parts = jws.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS".to_owned());
    };
    let head = part(header)?;
    let alg = head.get("alg").and_then(Value::as_str).unwrap_or("");
    let message = &jws.as_bytes()[..header.len() + 1 + claims.len()];
    let signature = b64(signature)?;
    let field = |name: &str| -> Result<Vec<u8>, String> {
        b64(jwk.get(name).and_then(Value::as_str).unwrap_or(""))
    };
    let ok = match alg {
        "ES256" => {
            let point = [&[4u8][..], &field("x")?, &field("y")?].concat();
            UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point)
                .verify(message, &signature)
                .is_ok()
        }
        "EdDSA" => UnparsedPublicKey::new(&sig::ED25519, field("x")?)
            .verify(message, &signature)
            .is_ok(),
        "RS256" | "PS256" => {
            let key = RsaPublicKeyComponents {
                n: field("n")?,
                e: field("e")?,
            };
            let params = if alg == "RS256" {
                &sig::RSA_PKCS1_2048_8192_SHA256
            } else {
                &sig::RSA_PSS_2048_8192_SHA256
            };
            key.verify(params, message, &signature).is_ok()
        }
        other => return Err(format!("unsupported alg `{other}`")),
    };
    if !ok {
        return Err("signature invalid".to_owned());
    }
    Ok((head, part(claims)?))
}

/// Remembers a `jti`; false if it was seen before.
fn first_use(state: &ServerState, jti: &str) -> bool {
    let mut store = lock(&state.store);
    if store.seen_jti.len() >= MAX_SEEN {
        store.seen_jti.clear();
    }
    store.seen_jti.insert(jti.to_owned())
}

/// Checks a client assertion for `client_id` registered with `jwk`: signature, `iss` = `sub`
/// = the client, `aud` = the token endpoint URL or the issuer, a future `exp`, a new `jti`.
pub(crate) fn client_assertion(
    state: &ServerState,
    client_id: &str,
    jwk: &Value,
    assertion: &str,
    token_url: &str,
) -> Result<(), String> {
    let (_, claims) = verify(assertion, jwk)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err("iss and sub must be the client id".to_owned());
    }
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == token_url || *aud == state.base_url,
        Some(Value::Array(auds)) => auds
            .iter()
            .any(|a| a.as_str() == Some(token_url) || a.as_str() == Some(&state.base_url)),
        _ => false,
    };
    if !aud_ok {
        return Err("aud must be the token endpoint URL or the issuer".to_owned());
    }
    match claims.get("exp").and_then(Value::as_u64) {
        Some(exp) if exp > now() => {}
        _ => return Err("the assertion has expired or has no exp".to_owned()),
    }
    let jti = text("jti").ok_or("no jti")?;
    if !first_use(state, jti) {
        return Err("jti already used".to_owned());
    }
    Ok(())
}

/// Why a DPoP proof was refused.
pub(crate) enum DpopRefusal {
    /// Send again with this nonce (`use_dpop_nonce`).
    Nonce(String),
    /// `invalid_dpop_proof`, with the reason.
    Invalid(String),
}

/// Checks a DPoP proof for `method` and `url` (and, at a resource, the access token's hash
/// and the key it is bound to); returns the key's thumbprint.
pub(crate) fn dpop(
    state: &ServerState,
    proof: &str,
    method: &str,
    url: &str,
    access_token: Option<(&str, &str)>,
) -> Result<String, DpopRefusal> {
    let invalid = |why: &str| DpopRefusal::Invalid(why.to_owned());
    let header = proof
        .split('.')
        .next()
        .ok_or_else(|| invalid("not a JWS"))
        .and_then(|h| part(h).map_err(|e| invalid(&e)))?;
    if header.get("typ").and_then(Value::as_str) != Some("dpop+jwt") {
        return Err(invalid("typ must be dpop+jwt"));
    }
    let jwk = header
        .get("jwk")
        .filter(|j| j.get("d").is_none())
        .ok_or_else(|| invalid("no public jwk in the header"))?;
    let (_, claims) = verify(proof, jwk).map_err(|e| invalid(&e))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("htm") != Some(method) {
        return Err(invalid("htm does not match the request method"));
    }
    if text("htu") != Some(url) {
        return Err(invalid("htu does not match the request URL"));
    }
    let iat = claims.get("iat").and_then(Value::as_u64).unwrap_or(0);
    if iat.abs_diff(now()) > IAT_WINDOW {
        return Err(invalid("iat is not recent"));
    }
    let thumbprint = thumbprint(jwk).ok_or_else(|| invalid("the jwk is not an EC P-256 key"))?;
    if let Some((token, bound)) = access_token {
        let ath = URL_SAFE_NO_PAD.encode(digest(&SHA256, token.as_bytes()));
        if text("ath") != Some(ath.as_str()) {
            return Err(invalid("ath does not match the access token"));
        }
        if thumbprint != bound {
            return Err(invalid(
                "the proof key is not the one the token is bound to",
            ));
        }
    }
    if state.config.dpop_nonce {
        let nonce = lock(&state.store).dpop_nonce.clone();
        if text("nonce") != Some(nonce.as_str()) {
            return Err(DpopRefusal::Nonce(nonce));
        }
    }
    let jti = text("jti").ok_or_else(|| invalid("no jti"))?;
    if !first_use(state, jti) {
        return Err(invalid("the proof was already used"));
    }
    Ok(thumbprint)
}

/// RFC 7638 thumbprint of an EC P-256 public JWK.
fn thumbprint(jwk: &Value) -> Option<String> {
    let (Some("EC"), Some("P-256"), Some(x), Some(y)) = (
        jwk.get("kty").and_then(Value::as_str),
        jwk.get("crv").and_then(Value::as_str),
        jwk.get("x").and_then(Value::as_str),
        jwk.get("y").and_then(Value::as_str),
    ) else {
        return None;
    };
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    Some(URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes())))
}
