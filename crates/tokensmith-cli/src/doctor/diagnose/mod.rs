//! The doctor's reasoning, apart from sending and printing: what each answer was, which probe
//! to send next, and one verdict over all of them.
//!
//! Nothing here does I/O; every answer comes in already classified (and its text masked), so
//! the rules are tested on their own and on the wire against the corpus in the CLI's tests.

mod refusal;
mod seen;
mod token;
mod verdict;

pub(crate) use self::seen::{Probe, Seen, Shape, Style, TokenShape, TokenTimes};
use self::verdict::STANDARD_CODES;
pub(crate) use self::verdict::{Code, Diagnosis, Note, Verdict};

/// The most requests the doctor sends to a token endpoint.
pub(crate) const MAX_PROBES: usize = 6;

/// One request sent and what came back.
#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    pub(crate) probe: Probe,
    pub(crate) seen: Seen,
}

/// What the doctor knows besides the answers.
#[derive(Clone, Debug, Default)]
pub(crate) struct Context {
    /// The grant tried: `client_credentials` or `password`.
    pub(crate) grant: String,
    /// The scope asked for, if any.
    pub(crate) scope: Option<String>,
    /// Whether the client id or secret has characters that form encoding changes.
    pub(crate) special_characters: bool,
    /// The names of the extra headers sent.
    pub(crate) headers: Vec<String>,
}

/// The next request to send, or `None` when the answers so far say all there is to say.
pub(crate) fn next_probe(attempts: &[Attempt], context: &Context) -> Option<Probe> {
    let first = Probe {
        style: Style::Basic,
        shape: Shape::Form,
    };
    if attempts.is_empty() {
        return Some(first);
    }
    if attempts.len() >= MAX_PROBES || attempts.iter().any(|a| a.seen.ends_probing()) {
        return None;
    }
    // The grant or the scope was refused with the client accepted: another style or shape
    // would say the same.
    if attempts.iter().any(|a| a.seen.progress() == 2) {
        return None;
    }
    let tried = |probe: &Probe| attempts.iter().any(|a| a.probe == *probe);
    let method_refused = attempts
        .iter()
        .any(|a| a.probe.shape != Shape::Query && a.seen.status() == Some(405));
    let params_unread = attempts.iter().any(|a| {
        a.probe.shape == Shape::Form && (a.seen.params_missing() || a.seen.grant_type_refused())
    });
    let client_refused = attempts.iter().any(|a| a.seen.refuses_client());
    // The shape the server read parameters in, for trying other credential styles.
    let read_shape = attempts
        .iter()
        .rev()
        .find(|a| {
            a.seen.progress() >= 1 && a.seen.status() != Some(405) && !a.seen.params_missing()
        })
        .map_or(Shape::Form, |a| a.probe.shape);
    let mut candidates = Vec::new();
    if method_refused || params_unread {
        candidates.push(Probe {
            style: Style::Basic,
            shape: Shape::Query,
        });
    }
    if params_unread {
        candidates.push(Probe {
            style: Style::Basic,
            shape: Shape::Json,
        });
    }
    if client_refused {
        candidates.push(Probe {
            style: Style::Body,
            shape: read_shape,
        });
        if context.special_characters {
            candidates.push(Probe {
                style: Style::BasicUnencoded,
                shape: read_shape,
            });
        }
    }
    // Never a secret in a URL: a query carries no client secret and no password.
    let safe = |probe: &Probe| {
        probe.shape != Shape::Query || (probe.style != Style::Body && context.grant != "password")
    };
    candidates
        .into_iter()
        .find(|probe| safe(probe) && !tried(probe))
}

/// The verdict over `attempts` (at least one).
pub(crate) fn diagnose(attempts: &[Attempt], context: &Context) -> Diagnosis {
    let mut notes = Vec::new();
    for attempt in attempts {
        if let Seen::OAuth { code, .. } = &attempt.seen {
            let lower = code.to_ascii_lowercase();
            if lower != *code && STANDARD_CODES.contains(&lower.as_str()) {
                let note = Note {
                    code: "nonstandard_error_code",
                    text: format!(
                        "the server spells the error code `{code}`; RFC 6749 §5.2 codes are lower \
                         case (`{lower}`), and tokensmith reads it either way"
                    ),
                };
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
        }
    }
    let Some(first) = attempts.first() else {
        return Diagnosis {
            verdict: Verdict::new(Code::Unknown, "Nothing was sent.", ""),
            notes,
            best: None,
        };
    };
    let best = attempts
        .iter()
        .max_by_key(|a| (a.seen.progress(), std::cmp::Reverse(rank(a.probe))))
        .unwrap_or(first);
    if let Seen::Token { times, shape } = &best.seen {
        token::shape_notes(shape, &mut notes);
        let verdict = token::token_verdict(best.probe, times, &mut notes);
        return Diagnosis {
            verdict,
            notes,
            best: Some(best.probe),
        };
    }
    let verdict = refusal::refusal_verdict(attempts, first, best, context, &mut notes);
    Diagnosis {
        verdict,
        notes,
        best: (best.seen.progress() >= 2).then_some(best.probe),
    }
}

/// Prefer the standard request among equals.
fn rank(probe: Probe) -> u8 {
    let shape = match probe.shape {
        Shape::Form => 0,
        Shape::Query => 2,
        Shape::Json => 4,
    };
    let style = match probe.style {
        Style::Basic => 0,
        Style::Body => 1,
        Style::BasicUnencoded => 1,
    };
    shape + style
}

/// A verdict for an error tokensmith returned from a token request, when its OAuth error names
/// a cause the doctor knows (used by `tokensmith token`).
pub(crate) fn from_oauth_error(
    status: u16,
    code: &str,
    description: &str,
    grant: &str,
) -> Option<Verdict> {
    let attempt = Attempt {
        probe: Probe {
            style: Style::Basic,
            shape: Shape::Form,
        },
        seen: Seen::OAuth {
            status,
            code: code.to_owned(),
            description: description.to_owned(),
        },
    };
    let context = Context {
        grant: grant.to_owned(),
        ..Context::default()
    };
    let diagnosis = diagnose(std::slice::from_ref(&attempt), &context);
    (diagnosis.verdict.code != Code::Unknown).then_some(diagnosis.verdict)
}

#[cfg(test)]
mod tests;
