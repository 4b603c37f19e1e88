//! The doctor's reasoning, apart from sending and printing: what each answer was, which probe
//! to send next, and one verdict over all of them.
//!
//! Nothing here does I/O; every answer comes in already classified (and its text masked), so
//! the rules are tested on their own and on the wire against the corpus in the CLI's tests.

/// The most requests the doctor sends to a token endpoint.
pub(crate) const MAX_PROBES: usize = 6;

/// How the client credentials travel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Style {
    /// `Authorization: Basic`, id and secret form-encoded first (RFC 6749 §2.3.1).
    Basic,
    /// `Authorization: Basic` with the id and secret as they are.
    BasicUnencoded,
    /// `client_id` and `client_secret` with the other parameters.
    Body,
}

impl Style {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Basic => "client_secret_basic",
            Self::BasicUnencoded => "client_secret_basic, id and secret not form-encoded",
            Self::Body => "client_secret_post",
        }
    }

    /// The tokensmith setting for this style.
    pub(crate) fn setting(self) -> &'static str {
        match self {
            Self::Basic => "ClientAuth::Basic (--auth basic)",
            Self::BasicUnencoded => "ClientAuth::BasicUnencoded",
            Self::Body => "ClientAuth::RequestBody (--auth body)",
        }
    }
}

/// Where the parameters go.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Shape {
    /// POST, `application/x-www-form-urlencoded` body: what RFC 6749 §3.2 asks.
    Form,
    /// POST, a JSON body.
    Json,
    /// GET, the parameters in the query string.
    Query,
}

/// One request the doctor may send.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Probe {
    pub(crate) style: Style,
    pub(crate) shape: Shape,
}

/// Times read from a token that came back, in seconds since the Unix epoch.
#[derive(Clone, Debug, Default)]
pub(crate) struct TokenTimes {
    /// `expires_in`, when it is a number.
    pub(crate) expires_in: Option<f64>,
    /// The JWT's `iat`, `nbf` and `exp`, when the token is a JWT that has them.
    pub(crate) iat: Option<f64>,
    pub(crate) exp: Option<f64>,
    /// The answer's `Date`.
    pub(crate) server_date: Option<f64>,
    /// This machine's clock when the answer came.
    pub(crate) local: f64,
}

/// How a token answer was written, where it differs from RFC 6749 §5.1.
#[derive(Clone, Debug, Default)]
pub(crate) struct TokenShape {
    /// The status, when not 200.
    pub(crate) status: Option<u16>,
    /// The answer was form-encoded rather than JSON.
    pub(crate) form: bool,
    /// `token_type` as sent, when it is not exactly `Bearer`; `None` when absent.
    pub(crate) token_type: Option<String>,
    pub(crate) token_type_missing: bool,
    /// `expires_in` was a string, or absent.
    pub(crate) expires_in_string: bool,
    pub(crate) expires_in_missing: bool,
}

/// What one answer was. Server text in it is masked and printable already.
#[derive(Clone, Debug)]
pub(crate) enum Seen {
    Token {
        times: TokenTimes,
        shape: TokenShape,
    },
    /// An error in the OAuth shape (`error`, and perhaps `error_description`), or one of the
    /// shapes vendors use instead, read into the same fields.
    OAuth {
        status: u16,
        code: String,
        description: String,
    },
    Html {
        status: u16,
    },
    Redirect {
        status: u16,
        location: Option<String>,
    },
    /// Any other answer: its status and a short excerpt.
    Other {
        status: u16,
        excerpt: String,
    },
    Tls(String),
    Unreachable(String),
    Timeout,
}

impl Seen {
    fn status(&self) -> Option<u16> {
        match self {
            Self::OAuth { status, .. }
            | Self::Html { status }
            | Self::Redirect { status, .. }
            | Self::Other { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The code in lower case, for matching.
    fn code(&self) -> String {
        match self {
            Self::OAuth { code, .. } => code.to_ascii_lowercase(),
            _ => String::new(),
        }
    }

    /// All the text the server gave, in lower case, for matching.
    fn text(&self) -> String {
        match self {
            Self::OAuth {
                code, description, ..
            } => format!("{code} {description}").to_ascii_lowercase(),
            Self::Other { excerpt, .. } => excerpt.to_ascii_lowercase(),
            _ => String::new(),
        }
    }

    /// A short description for the request list.
    pub(crate) fn summary(&self) -> String {
        match self {
            Self::Token { .. } => "a token".into(),
            Self::OAuth {
                status,
                code,
                description,
            } if description.is_empty() => format!("{status} `{code}`"),
            Self::OAuth {
                status,
                code,
                description,
            } => format!("{status} `{code}`: {description}"),
            Self::Html { status } => format!("{status}: an HTML page"),
            Self::Redirect { status, location } => format!(
                "{status}: redirected{}",
                location
                    .as_deref()
                    .map(|l| format!(" to {l}"))
                    .unwrap_or_default()
            ),
            Self::Other { status, excerpt } if excerpt.is_empty() => format!("{status}, no body"),
            Self::Other { status, excerpt } => format!("{status}: {excerpt}"),
            Self::Tls(why) => format!("TLS failed: {why}"),
            Self::Unreachable(why) => format!("no connection: {why}"),
            Self::Timeout => "no answer in time".into(),
        }
    }

    /// An answer after which no other probe can tell more.
    fn ends_probing(&self) -> bool {
        match self {
            Self::Token { .. }
            | Self::Tls(_)
            | Self::Unreachable(_)
            | Self::Timeout
            | Self::Redirect { .. } => true,
            Self::Html { status } => *status < 400 || *status >= 500,
            other => other.status().is_some_and(|s| s == 404 || s >= 500) || other.gateway_path(),
        }
    }

    /// AWS API Gateway's answer for a route it does not have.
    fn gateway_path(&self) -> bool {
        self.text().contains("missing authentication token")
    }

    /// The server names an API key or subscription key, as gateways do.
    fn wants_api_key(&self) -> bool {
        let text = self.text();
        [
            "api key",
            "api-key",
            "apikey",
            "api_key",
            "subscription key",
            "subscription-key",
            "x-api-key",
        ]
        .iter()
        .any(|k| text.contains(k))
    }

    /// The parameters did not arrive: the server asks for ones that were sent.
    fn params_missing(&self) -> bool {
        if self.status() == Some(415) {
            return true;
        }
        if self.mentions_scope() || names_the_client(&self.text()) {
            return false;
        }
        // The description, not the code: `unsupported_grant_type` names grant_type too.
        let text = self.words();
        let missing = [
            "missing",
            "required",
            "not found",
            "no grant",
            "null",
            "empty",
            "not present",
        ];
        (text.contains("grant_type") || text.contains("grant type") || text.contains("parameter"))
            && missing.iter().any(|m| text.contains(m))
            || text.contains("content-type")
            || text.contains("content type")
    }

    /// The server names `grant_type` as wrong rather than missing.
    fn grant_type_refused(&self) -> bool {
        let words = self.words();
        (words.contains("grant_type") || words.contains("grant type"))
            && !self.params_missing()
            && !self.grant_not_allowed()
            && (words.contains("invalid")
                || words.contains("unsupported")
                || words.contains("not supported"))
    }

    /// The words of the answer without its error code (whose `invalid_…` says nothing of
    /// what was invalid), in lower case.
    fn words(&self) -> String {
        match self {
            Self::OAuth { description, .. } => description.to_ascii_lowercase(),
            other => other.text(),
        }
    }

    /// The server says this client may not use the grant (whatever code it gives).
    fn grant_not_allowed(&self) -> bool {
        let words = self.words();
        words.contains("grant")
            && [
                "not allowed",
                "not authorized",
                "not authorised",
                "not permitted",
                "not enabled",
            ]
            .iter()
            .any(|w| words.contains(w))
    }

    fn mentions_scope(&self) -> bool {
        self.code() == "invalid_scope" || self.text().contains("scope")
    }

    /// The server did not accept the client's credentials (in this style).
    fn refuses_client(&self) -> bool {
        match self {
            Self::OAuth { status, .. } => {
                let code = self.code();
                code == "invalid_client"
                    || code.contains("client_id")
                    || names_the_client(&self.text())
                    || (*status == 401 && !self.mentions_scope())
                    || code == "unauthorized" && *status != 400
            }
            Self::Other { status, .. } => matches!(status, 401 | 403),
            _ => false,
        }
    }

    /// How far the request got: 0 nowhere, 1 the client refused, 2 the client accepted and the
    /// grant or scope refused, 3 a token.
    fn progress(&self) -> u8 {
        match self {
            Self::Token { .. } => 3,
            // Whether the server read the parameters at all is not known yet.
            Self::OAuth { .. } if self.params_missing() || self.grant_type_refused() => 0,
            Self::OAuth { .. } if self.refuses_client() || self.wants_api_key() => 1,
            Self::OAuth { .. } => 2,
            Self::Other { .. } if self.refuses_client() => 1,
            _ => 0,
        }
    }
}

/// Whether a description says the client id or secret is what is wrong.
fn names_the_client(text: &str) -> bool {
    let client = text.contains("client_id")
        || text.contains("client id")
        || text.contains("client secret")
        || text.contains("client_secret")
        || text.contains("client authentication")
        || text.contains("bad credentials")
        || text.contains("invalid_client")
        || text.contains("unknown client");
    client && !text.contains("missing")
}

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

/// A verdict's stable code, for scripts (`--json`'s `verdict.code`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Code {
    Ok,
    ClientAuthStyle,
    InvalidClient,
    ApiKey,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidGrant,
    RedirectUriMismatch,
    SpentAuthorization,
    WantsGet,
    WantsJson,
    BodyNotRead,
    WrongPath,
    HtmlPage,
    ServerError,
    RateLimited,
    Tls,
    Unreachable,
    Timeout,
    Redirect,
    WrongRegion,
    TokenExpired,
    ClockSkew,
    ApiRefusedToken,
    Unknown,
}

impl Code {
    /// Every code, in the order the README's schema lists them.
    #[cfg(test)]
    pub(crate) const ALL: [Code; 26] = [
        Code::Ok,
        Code::ClientAuthStyle,
        Code::InvalidClient,
        Code::ApiKey,
        Code::InvalidScope,
        Code::UnauthorizedClient,
        Code::UnsupportedGrantType,
        Code::InvalidGrant,
        Code::RedirectUriMismatch,
        Code::SpentAuthorization,
        Code::WantsGet,
        Code::WantsJson,
        Code::BodyNotRead,
        Code::WrongPath,
        Code::HtmlPage,
        Code::ServerError,
        Code::RateLimited,
        Code::Tls,
        Code::Unreachable,
        Code::Timeout,
        Code::Redirect,
        Code::WrongRegion,
        Code::TokenExpired,
        Code::ClockSkew,
        Code::ApiRefusedToken,
        Code::Unknown,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ClientAuthStyle => "client_auth_style",
            Self::InvalidClient => "invalid_client",
            Self::ApiKey => "api_key",
            Self::InvalidScope => "invalid_scope",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidGrant => "invalid_grant",
            Self::RedirectUriMismatch => "redirect_uri_mismatch",
            Self::SpentAuthorization => "code_reused_or_expired",
            Self::WantsGet => "wants_get",
            Self::WantsJson => "wants_json",
            Self::BodyNotRead => "body_not_read",
            Self::WrongPath => "wrong_path",
            Self::HtmlPage => "html_page",
            Self::ServerError => "server_error",
            Self::RateLimited => "rate_limited",
            Self::Tls => "tls",
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::Redirect => "redirect",
            Self::WrongRegion => "wrong_region",
            Self::TokenExpired => "token_expired",
            Self::ClockSkew => "clock_skew",
            Self::ApiRefusedToken => "api_refused_token",
            Self::Unknown => "unknown",
        }
    }

    /// Whether tokensmith gets working tokens with the configuration the verdict names.
    pub(crate) fn works(self) -> bool {
        matches!(self, Self::Ok | Self::ClientAuthStyle)
    }
}

/// The cause in plain words, the fix, and the tokensmith configuration that works (when one
/// does).
#[derive(Clone, Debug)]
pub(crate) struct Verdict {
    pub(crate) code: Code,
    pub(crate) cause: String,
    pub(crate) fix: String,
    pub(crate) config: Option<String>,
}

impl Verdict {
    fn new(code: Code, cause: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            code,
            cause: cause.into(),
            fix: fix.into(),
            config: None,
        }
    }

    fn config(mut self, config: impl Into<String>) -> Self {
        self.config = Some(config.into());
        self
    }

    /// The verdict as one line.
    pub(crate) fn line(&self) -> String {
        let mut line = format!("[{}] {} {}", self.code.as_str(), self.cause, self.fix);
        if let Some(config) = &self.config {
            line.push_str(&format!(" Configure: {config}"));
        }
        line
    }
}

/// A finding beside the verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Note {
    pub(crate) code: &'static str,
    pub(crate) text: String,
}

/// The verdict over all attempts, the notes beside it, and the probe that got furthest.
#[derive(Clone, Debug)]
pub(crate) struct Diagnosis {
    pub(crate) verdict: Verdict,
    pub(crate) notes: Vec<Note>,
    pub(crate) best: Option<Probe>,
}

/// RFC 6749's error codes and the registered extensions, for noticing other spellings.
const STANDARD_CODES: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "access_denied",
    "server_error",
    "temporarily_unavailable",
    "invalid_target",
    "use_dpop_nonce",
    "invalid_dpop_proof",
];

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
        shape_notes(shape, &mut notes);
        let verdict = token_verdict(best.probe, times, &mut notes);
        return Diagnosis {
            verdict,
            notes,
            best: Some(best.probe),
        };
    }
    let verdict = refusal_verdict(attempts, first, best, context, &mut notes);
    Diagnosis {
        verdict,
        notes,
        best: (best.seen.progress() >= 2).then_some(best.probe),
    }
}

/// Notes on a token answer that tokensmith reads although it departs from RFC 6749 §5.1.
fn shape_notes(shape: &TokenShape, notes: &mut Vec<Note>) {
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

fn token_verdict(probe: Probe, times: &TokenTimes, notes: &mut Vec<Note>) -> Verdict {
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

fn refusal_verdict(
    attempts: &[Attempt],
    first: &Attempt,
    best: &Attempt,
    context: &Context,
    notes: &mut Vec<Note>,
) -> Verdict {
    match &first.seen {
        Seen::Tls(why) => {
            return Verdict::new(
                Code::Tls,
                format!("The TLS handshake failed: {why}."),
                "Check that the URL's scheme and port are right (https to a plain-http port \
                 fails this way), and that the server's certificate is valid for this host name \
                 and signed by a trusted authority.",
            );
        }
        Seen::Unreachable(why) => {
            return Verdict::new(
                Code::Unreachable,
                format!("No connection: {why}."),
                "Check the host name, the port and the network path (proxy, firewall, VPN).",
            );
        }
        Seen::Timeout => {
            return Verdict::new(
                Code::Timeout,
                "The endpoint did not answer in time.",
                "Check the network path; a firewall that drops packets looks like this.",
            );
        }
        Seen::Redirect { status, location } => {
            return Verdict::new(
                Code::Redirect,
                format!(
                    "The token endpoint answers {status}, a redirect{}; a token request must not \
                     follow redirects (the secret would go along).",
                    location
                        .as_deref()
                        .map(|l| format!(" to {l}"))
                        .unwrap_or_default()
                ),
                "Use the final URL as the token endpoint (often https instead of http, or a \
                 trailing slash).",
            );
        }
        _ => {}
    }
    if first.seen.status() == Some(429) {
        return Verdict::new(
            Code::RateLimited,
            "The endpoint answers 429: this client asks for tokens too often.",
            "Wait for its Retry-After; cache tokens (Cached, and RedisCache for a fleet) so that \
             one token serves every caller for its lifetime.",
        );
    }
    if let Some(status) = first.seen.status().filter(|s| *s >= 500) {
        return Verdict::new(
            Code::ServerError,
            format!(
                "The endpoint or a gateway in front of it fails ({status}){}.",
                match &first.seen {
                    Seen::Html { .. } => ", with an error page",
                    _ => "",
                }
            ),
            "Not a client configuration problem: retry later, or tell the vendor with the time \
             of the request.",
        );
    }
    if first.seen.status() == Some(404) || first.seen.gateway_path() {
        return Verdict::new(
            Code::WrongPath,
            if first.seen.gateway_path() {
                "The URL answers as an AWS API Gateway does for a route it does not have \
                 (`Missing Authentication Token`)."
            } else {
                "Nothing is at this URL (404)."
            },
            "The token path is wrong, or the region or base URL is (a vendor's regions each \
             have their own host); token endpoints usually end in /token or /oauth/token.",
        );
    }
    if let Seen::Html { status } = first.seen {
        return Verdict::new(
            Code::HtmlPage,
            format!("The URL answers {status} with a web page, not a token endpoint's JSON."),
            "It is likely the sign-in page or the portal: use the token endpoint from the \
             vendor's API documentation or its metadata (`tokensmith discover ISSUER`).",
        );
    }
    // An answer over GET or JSON that shows the parameters were read: not a 404 or 405 for
    // the method or body it was sent with.
    let read = |shape: Shape| {
        attempts.iter().find(|a| {
            a.probe.shape == shape
                && a.seen.progress() >= 1
                && !matches!(a.seen.status(), Some(404 | 405 | 415))
        })
    };
    let query = read(Shape::Query);
    let json = read(Shape::Json);
    let post_405 = attempts
        .iter()
        .any(|a| a.probe.shape != Shape::Query && a.seen.status() == Some(405));
    let form_unread = attempts.iter().any(|a| {
        a.probe.shape == Shape::Form && (a.seen.params_missing() || a.seen.grant_type_refused())
    });
    if post_405 || form_unread {
        if let Some(read) = query {
            notes.push(Note {
                code: "then",
                text: format!("over GET the server then answered {}", read.seen.summary()),
            });
            return Verdict::new(
                Code::WantsGet,
                format!(
                    "The endpoint reads its parameters only from the query string of a GET (POST \
                     {}); RFC 6749 §3.2 asks for POST with a form body, which tokensmith sends.",
                    if post_405 {
                        "answered 405"
                    } else {
                        "was answered as if they were missing"
                    }
                ),
                "Ask the vendor for its POST endpoint, or check the URL.",
            );
        }
        if let Some(read) = json {
            notes.push(Note {
                code: "then",
                text: format!(
                    "with a JSON body the server then answered {}",
                    read.seen.summary()
                ),
            });
            return Verdict::new(
                Code::WantsJson,
                "The endpoint reads a JSON body, not the form body RFC 6749 §3.2 asks for.",
                "Ask the vendor whether it takes application/x-www-form-urlencoded; tokensmith \
                 sends form bodies only.",
            );
        }
        if post_405 {
            return Verdict::new(
                Code::WrongPath,
                "The URL answers POST with 405 and GET does not give a token either: it is not a \
                 token endpoint.",
                "Use the token endpoint from the vendor's API documentation or its metadata.",
            );
        }
        let missing = attempts
            .iter()
            .any(|a| a.probe.shape == Shape::Form && a.seen.params_missing());
        if missing && !attempts.iter().any(|a| a.seen.progress() >= 1) {
            return Verdict::new(
                Code::BodyNotRead,
                format!(
                    "The server did not see the parameters although the form body had them \
                     (it answered: {}).",
                    first.seen.summary()
                ),
                "A proxy may drop the body or rewrite the content type, or the server wants \
                 another format; compare with the request `--curl` prints. grant_type belongs in \
                 the form body, never in a header or the query string.",
            );
        }
    }
    if best.probe.style != Style::Basic && best.seen.progress() >= 2 {
        notes.push(Note {
            code: "client_auth_style",
            text: format!(
                "the client was accepted as {}: configure {}",
                best.probe.style.name(),
                best.probe.style.setting()
            ),
        });
    }
    let seen = &best.seen;
    let code = seen.code();
    let text = seen.text();
    if text.contains("context.unknown") {
        return Verdict::new(
            Code::WrongRegion,
            "The server does not know this account here (`context.unknown`): it lives in another \
             region.",
            "Use the region the account was created in, for the token and for the API.",
        );
    }
    if attempts.iter().any(|a| a.seen.wants_api_key()) {
        let sent = if context.headers.is_empty() {
            "no API key header was sent".to_owned()
        } else {
            format!("sent: {}", context.headers.join(", "))
        };
        return Verdict::new(
            Code::ApiKey,
            format!(
                "A gateway in front of the token endpoint wants an API or subscription key ({sent})."
            ),
            "Add the key header the vendor documents, with the key for this API product.",
        )
        .config(
            "TokenEndpoint::builder(url).header(NAME, key); tokensmith doctor --header NAME:env:VAR",
        );
    }
    if code == "invalid_scope" || (seen.progress() == 2 && seen.mentions_scope()) {
        let asked = context
            .scope
            .as_deref()
            .map_or("no scope was asked for".to_owned(), |s| {
                format!("asked for `{s}`")
            });
        return Verdict::new(
            Code::InvalidScope,
            format!("The client was accepted but the scope was not ({asked})."),
            "Ask only for scopes this client is granted, spelled as the vendor documents them; \
             some servers require one.",
        )
        .config("ClientCredentials::new(endpoint).scope([...]) (--scope)");
    }
    if code == "unauthorized_client" || code == "access_denied" || seen.grant_not_allowed() {
        return Verdict::new(
            Code::UnauthorizedClient,
            format!(
                "The client is known but may not use the {} grant.",
                context.grant
            ),
            "Enable the grant for this client in the vendor's console, or use the grant it has.",
        );
    }
    if code == "unsupported_grant_type" || seen.grant_type_refused() {
        return Verdict::new(
            Code::UnsupportedGrantType,
            format!(
                "The server does not take grant_type={} (it answered {}).",
                context.grant,
                seen.summary()
            ),
            "Check which grants the vendor offers, and the exact grant_type it expects.",
        );
    }
    if code == "invalid_grant" {
        return grant_verdict(&text, &context.grant);
    }
    let refused: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.seen.status().is_some())
        .collect();
    if !refused.is_empty() && refused.iter().all(|a| a.seen.refuses_client()) {
        let gateway = refused
            .iter()
            .all(|a| matches!(a.seen, Seen::Other { status: 403, .. }));
        if gateway {
            return Verdict::new(
                Code::ApiKey,
                "Every way of sending the client credentials got 403 without an OAuth error: a \
                 gateway in front of the endpoint refuses the request before the token server \
                 sees it.",
                "Add the API key or subscription header the vendor documents.",
            )
            .config("TokenEndpoint::builder(url).header(NAME, key)");
        }
        let styles: Vec<&str> = {
            let mut styles: Vec<&str> = refused.iter().map(|a| a.probe.style.name()).collect();
            styles.dedup();
            styles
        };
        return Verdict::new(
            Code::InvalidClient,
            format!(
                "The server refused the client credentials in every style tried ({}).",
                styles.join("; ")
            ),
            "The client id or secret is wrong (a secret copied with a space or line break, a \
             secret of another environment, an expired secret); check them in the vendor's \
             console.",
        );
    }
    if first.seen.status() == Some(405) {
        return Verdict::new(
            Code::WrongPath,
            "The URL answers POST with 405: it is not a token endpoint.",
            "Use the token endpoint from the vendor's API documentation or its metadata.",
        );
    }
    Verdict::new(
        Code::Unknown,
        format!("The endpoint answered {}.", best.seen.summary()),
        "See the requests below; `--curl` prints each one to try by hand.",
    )
}

/// `invalid_grant`: what the description says was wrong with the grant.
fn grant_verdict(text: &str, grant: &str) -> Verdict {
    if text.contains("redirect") {
        return Verdict::new(
            Code::RedirectUriMismatch,
            "The redirect_uri of the code exchange differs from the one in the authorization \
             request (RFC 6749 §4.1.3 wants them identical).",
            "Send the same redirect_uri in both requests, character for character, and register \
             it with the client.",
        )
        .config(
            "AuthorizationCode::new(endpoint, authorize_url, redirect_uri) uses one value for both",
        );
    }
    let code_grant = grant == "authorization_code" || text.contains("code");
    if code_grant
        && [
            "expired",
            "used",
            "already",
            "redeemed",
            "invalid",
            "not found",
            "unknown",
        ]
        .iter()
        .any(|w| text.contains(w))
    {
        return Verdict::new(
            Code::SpentAuthorization,
            "The authorization code was refused: a code can be exchanged once, within minutes of \
             the sign-in.",
            "Exchange each code once, right after the callback; on a retry start a new sign-in \
             rather than sending the code again.",
        );
    }
    if grant == "password" {
        return Verdict::new(
            Code::InvalidGrant,
            "The client was accepted but the user's name or password was not (or the account is \
             locked, or needs a second factor this grant cannot give).",
            "Check the user's credentials; accounts with MFA need a browser sign-in (--grant code).",
        );
    }
    if grant == "refresh_token" {
        return Verdict::new(
            Code::InvalidGrant,
            "The refresh token was refused: it expired, was revoked, or was already used once \
             where the server rotates refresh tokens.",
            "Sign in again; with several processes, share the session through RedisCache so \
             that each refresh token is used once.",
        );
    }
    Verdict::new(
        Code::InvalidGrant,
        "The server refused the grant itself (invalid_grant).",
        "Check the grant's parameters against the vendor's documentation.",
    )
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
