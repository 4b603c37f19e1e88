//! `tokensmith decode`: a JWT's header and claims, read without verifying.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Args;
use serde_json::{Value, json};
use time::{OffsetDateTime, UtcOffset};

use crate::out::{Mark, Out};
use crate::{Outcome, UsageError};

/// The longest token read from standard input.
const MAX_TOKEN: usize = 64 * 1024;

#[derive(Args, Debug)]
pub(crate) struct DecodeArgs {
    /// The token; `-`, or nothing, reads it from standard input (which keeps it out of the
    /// shell history).
    token: Option<String>,
}

/// What a token turned out to be.
pub(crate) enum Decoded {
    /// A signed JWT (JWS compact form).
    Jwt { header: Value, claims: Value },
    /// An encrypted JWT (JWE): only its recipient can read it.
    Encrypted { header: Value },
    /// Not a JWT: a reference only its issuer can resolve.
    Opaque,
}

fn part(text: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

pub(crate) fn decode(token: &str) -> Decoded {
    let parts: Vec<&str> = token.trim().split('.').collect();
    match parts.as_slice() {
        [header, claims, _] => match (part(header), part(claims)) {
            (Some(header), Some(claims)) => Decoded::Jwt { header, claims },
            _ => Decoded::Opaque,
        },
        [header, _, _, _, _] => match part(header) {
            Some(header) if header.get("enc").is_some() => Decoded::Encrypted { header },
            _ => Decoded::Opaque,
        },
        _ => Decoded::Opaque,
    }
}

/// "3h 2m", "45s", "2d 4h": the two largest units.
pub(crate) fn span(seconds: u64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut left = seconds;
    let mut parts = Vec::new();
    for (size, name) in units {
        if left >= size && parts.len() < 2 {
            parts.push(format!("{}{name}", left / size));
            left %= size;
        } else if !parts.is_empty() {
            break;
        }
    }
    if parts.is_empty() {
        "0s".into()
    } else {
        parts.join(" ")
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A claim's time in local time, and how far from now.
pub(crate) fn when(claim: &str, at: i64, offset: UtcOffset) -> (String, String) {
    let local = OffsetDateTime::from_unix_timestamp(at)
        .map(|t| t.to_offset(offset))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] [offset_hour sign:mandatory]:[offset_minute]"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("{at} (not a date)"));
    let delta = at - now();
    let relative = match (claim, delta >= 0) {
        ("exp", true) => format!("expires in {}", span(delta as u64)),
        ("exp", false) => format!("expired {} ago", span(delta.unsigned_abs())),
        ("nbf", true) => format!("valid in {}", span(delta as u64)),
        (_, true) => format!("in {}", span(delta as u64)),
        (_, false) => format!("{} ago", span(delta.unsigned_abs())),
    };
    (local, relative)
}

/// The rows and JSON of a decoded token.
pub(crate) fn describe(token: &str, offset: UtcOffset) -> (Vec<(&'static str, String)>, Value) {
    match decode(token) {
        Decoded::Jwt { header, claims } => {
            let mut rows = vec![
                (
                    "kind",
                    "JWT (signed; the signature is not checked)".to_owned(),
                ),
                ("header", header.to_string()),
            ];
            let mut times = serde_json::Map::new();
            for claim in ["iat", "nbf", "exp"] {
                if let Some(at) = claims.get(claim).and_then(Value::as_i64) {
                    let (local, relative) = when(claim, at, offset);
                    rows.push((
                        match claim {
                            "iat" => "issued (iat)",
                            "nbf" => "not before (nbf)",
                            _ => "expires (exp)",
                        },
                        format!("{local}  ({relative})"),
                    ));
                    times.insert(
                        claim.into(),
                        json!({"unix": at, "local": local, "relative": relative}),
                    );
                }
            }
            let pretty = serde_json::to_string_pretty(&claims).unwrap_or_default();
            rows.push(("claims", pretty));
            (
                rows,
                json!({"kind": "jwt", "header": header, "claims": claims, "times": times}),
            )
        }
        Decoded::Encrypted { header } => (
            vec![
                (
                    "kind",
                    "encrypted JWT (JWE): only its recipient can read the claims".into(),
                ),
                ("header", header.to_string()),
            ],
            json!({"kind": "jwe", "header": header}),
        ),
        Decoded::Opaque => (
            vec![(
                "kind",
                format!(
                    "opaque ({} characters): not a JWT, so there is nothing to decode; only the \
                     server that issued it can say what it means (token introspection, RFC 7662)",
                    token.trim().len()
                ),
            )],
            json!({"kind": "opaque", "length": token.trim().len()}),
        ),
    }
}

pub(crate) fn run(args: DecodeArgs, out: &Out, offset: UtcOffset) -> Result<Outcome, UsageError> {
    let token = match args.token.as_deref() {
        Some(token) if token != "-" => token.to_owned(),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .take(MAX_TOKEN as u64 + 1)
                .read_to_string(&mut text)
                .map_err(|e| {
                    UsageError(format!("cannot read the token from standard input: {e}"))
                })?;
            if text.len() > MAX_TOKEN {
                return Err(UsageError(format!(
                    "the token is longer than {MAX_TOKEN} bytes"
                )));
            }
            text
        }
    };
    let token = token.trim();
    if token.is_empty() {
        return Err(UsageError("no token given".into()));
    }
    let (rows, document) = describe(token, offset);
    out.heading("token");
    out.rows(&rows);
    if let Decoded::Jwt { claims, .. } = decode(token)
        && let Some(exp) = claims.get("exp").and_then(Value::as_i64)
        && exp < now()
    {
        out.mark(Mark::Warn, "this token has expired");
    }
    out.document(&document);
    Ok(Outcome::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_like_people_write_them() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(45), "45s");
        assert_eq!(span(3 * 3600 + 2 * 60 + 7), "3h 2m");
        assert_eq!(span(2 * 86_400 + 4 * 3600), "2d 4h");
        assert_eq!(span(3600), "1h");
    }

    #[test]
    fn jwts_jwes_and_opaque_tokens() {
        let jwt = format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"sub":"a","exp":1}"#)
        );
        assert!(matches!(decode(&jwt), Decoded::Jwt { .. }));
        let jwe = format!(
            "{}.k.iv.ct.tag",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"RSA-OAEP","enc":"A256GCM"}"#)
        );
        assert!(matches!(decode(&jwe), Decoded::Encrypted { .. }));
        assert!(matches!(decode("2YotnFZFEjr1zCsicMWpAA"), Decoded::Opaque));
        assert!(matches!(decode("a.b.c"), Decoded::Opaque));
    }
}
