//! Verdicts on a token that came back: how it was asked for, and its times.

use super::{Code, Note, Probe, Shape, Style, TokenShape, TokenTimes, Verdict};

/// Notes on a token answer that tokensmith reads although it departs from RFC 6749 §5.1.
pub(super) fn shape_notes(shape: &TokenShape, notes: &mut Vec<Note>) {
    let mut note = |code: &'static str, text: String| notes.push(Note { code, text });
    if let Some(status) = shape.status {
        note(
            "token_status",
            format!("the token comes with status {status}, not 200; tokensmith takes any 2xx"),
        );
    }
    if shape.form {
        note(
            "form_encoded_answer",
            "the token comes form-encoded (key=value&…), not as JSON; tokensmith reads both".into(),
        );
    }
    if shape.token_type_missing {
        note(
            "no_token_type",
            "no token_type: tokensmith takes the token as Bearer".into(),
        );
    } else if let Some(kind) = &shape.token_type {
        note(
            "token_type",
            format!(
                "token_type is `{kind}`; tokensmith sends {}",
                if kind.eq_ignore_ascii_case("bearer") {
                    "`Authorization: Bearer` as RFC 6750 spells it".to_owned()
                } else {
                    format!("`Authorization: {kind} …`")
                }
            ),
        );
    }
    if shape.expires_in_string {
        note(
            "string_expires_in",
            "expires_in is a string; tokensmith reads it as a number".into(),
        );
    }
    if shape.expires_in_missing {
        note(
            "no_expires_in",
            "no expires_in: tokensmith keeps the token until an API answers 401 (or the \
             lifetime CachedBuilder::default_lifetime sets, if the vendor documents one)"
                .into(),
        );
    }
}

pub(super) fn token_verdict(probe: Probe, times: &TokenTimes, notes: &mut Vec<Note>) -> Verdict {
    let style_works = || {
        Verdict::new(
            Code::ClientAuthStyle,
            format!(
                "The server refuses client_secret_basic but takes the credentials as {}.",
                probe.style.name()
            ),
            "Tell tokensmith how the client authenticates.",
        )
        .config(format!(
            "TokenEndpoint::builder(url).auth({})",
            probe.style.setting()
        ))
    };
    let shaped = match probe.shape {
        Shape::Query => Some(Verdict::new(
            Code::WantsGet,
            "The endpoint gives tokens only to GET with the parameters in the query string; \
                 RFC 6749 §3.2 asks for POST with a form body, which tokensmith sends (and the \
                 secret in a URL ends up in logs).",
            "Ask the vendor for its POST endpoint, or check the URL: the same path often takes \
                 POST at another host or version.",
        )),
        Shape::Json => Some(Verdict::new(
            Code::WantsJson,
            "The endpoint reads a JSON body, not the form body RFC 6749 §3.2 asks for (it \
                 answered the form as if its parameters were missing).",
            "Ask the vendor whether it takes application/x-www-form-urlencoded; tokensmith \
                 sends form bodies only.",
        )),
        Shape::Form => None,
    };
    if probe.style != Style::Basic && shaped.is_some() {
        notes.push(Note {
            code: "client_auth_style",
            text: format!("the credentials were accepted as {}", probe.style.name()),
        });
    }
    let base = shaped.unwrap_or_else(|| {
        if probe.style == Style::Basic {
            Verdict::new(
                Code::Ok,
                "The endpoint issues tokens to the standard request (POST, form body, \
                 client_secret_basic).",
                "",
            )
            .config("TokenEndpoint::builder(url) with the defaults")
        } else {
            style_works()
        }
    });
    match clock_verdict(times, notes) {
        Some(clock) => {
            if base.code != Code::Ok {
                notes.push(Note {
                    code: base.code.as_str(),
                    text: base.line(),
                });
            }
            clock
        }
        None => base,
    }
}

/// Whether a token arrived expired, or with times that show a clock off.
fn clock_verdict(times: &TokenTimes, notes: &mut Vec<Note>) -> Option<Verdict> {
    const SLACK: f64 = 60.0;
    if times.expires_in.is_some_and(|e| e <= 0.0) {
        return Some(Verdict::new(
            Code::TokenExpired,
            format!(
                "The server issued a token that had expired on arrival (expires_in {}).",
                times.expires_in.unwrap_or(0.0)
            ),
            "The server's token lifetime setting is wrong; ask its operators.",
        ));
    }
    let offset = times.server_date.map(|date| times.local - date);
    if let Some(offset) = offset
        && offset.abs() > SLACK
    {
        notes.push(Note {
            code: "clock_offset",
            text: format!(
                "this machine's clock is {:.0} s {} the server's (its Date header)",
                offset.abs(),
                if offset > 0.0 { "ahead of" } else { "behind" }
            ),
        });
    }
    let server_now = times.server_date.unwrap_or(times.local);
    if let Some(exp) = times.exp {
        if exp <= server_now {
            return Some(Verdict::new(
                Code::TokenExpired,
                format!(
                    "The token's `exp` is {:.0} s before the server's own time: it expired before \
                     it arrived.",
                    server_now - exp
                ),
                "The issuer's clock or token lifetime is wrong; ask its operators.",
            ));
        }
        if exp <= times.local {
            return Some(clock_skew(
                "The token is valid on the server's clock but already expired on this machine's",
                offset,
            ));
        }
    }
    if let Some(iat) = times.iat {
        if iat > times.local + SLACK {
            return Some(clock_skew(
                &format!(
                    "The token's `iat` is {:.0} s ahead of this machine's clock, so an API that \
                     checks it on a clock like this one refuses it as not yet valid",
                    iat - times.local
                ),
                offset,
            ));
        }
        if times.server_date.is_some_and(|date| iat > date + SLACK) {
            return Some(clock_skew(
                &format!(
                    "The token's `iat` is {:.0} s ahead of the server's own Date: the issuer's \
                     clock runs ahead",
                    iat - server_now
                ),
                offset,
            ));
        }
    }
    None
}

fn clock_skew(cause: &str, offset: Option<f64>) -> Verdict {
    let fix = match offset {
        Some(offset) if offset.abs() > 60.0 => format!(
            "This machine's clock is {:.0} s off the server's: synchronise it (NTP). tokensmith's \
             cache is not fooled (it counts expires_in on the monotonic clock), but an API that \
             checks the token's times on a clock like this one is.",
            offset.abs()
        ),
        _ => "Synchronise the clocks of this machine, the issuer and the API (NTP).".to_owned(),
    };
    Verdict::new(Code::ClockSkew, format!("{cause}."), fix)
}
