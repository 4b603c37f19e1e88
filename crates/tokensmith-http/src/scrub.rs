//! Short, secret-free excerpts of what a server said, for error messages.

use tokensmith_core::OAuthError;

/// The longest excerpt, in characters.
pub const EXCERPT_CHARS: usize = 200;

/// How much of a body is examined; anything after this cannot reach an excerpt.
const WINDOW_BYTES: usize = 4096;

/// Shorter runs of token characters are left alone; longer ones are masked as possible tokens.
const TOKEN_RUN: usize = 32;

/// Field names whose values are masked wherever they appear (JSON or form encoded).
const SECRET_KEYS: &[&str] = &[
    "access_token",
    "accesstoken",
    "refresh_token",
    "refreshtoken",
    "id_token",
    "idtoken",
    "client_secret",
    "clientsecret",
    "authorization",
    "password",
    "assertion",
    "code_verifier",
    "device_code",
    "api_key",
    "apikey",
    "x-api-key",
    "code",
    "token",
    "secret",
];

const REDACTED: &str = "[redacted]";

/// Authorization schemes whose credentials follow after a space.
const SCHEMES: &[&[u8]] = &[b"basic", b"bearer", b"dpop", b"mac", b"token"];

/// Makes a short excerpt of a response body that is safe to show in an error message.
///
/// Reads at most the first 4 KiB, replaces every occurrence of `known_secrets` (the client
/// secret, a password), masks the values of fields such as `access_token`, `refresh_token`,
/// `password` or `code` in JSON and form-encoded text, masks any long run of token-like
/// characters (a JWT, an opaque token), folds control characters and white space, and cuts
/// the result to 200 characters.
///
/// ```
/// let body = br#"{"access_token":"abc.def.ghi","note":"hello"}"#;
/// let excerpt = tokensmith_http::scrub::scrub_excerpt(body, &[]);
/// assert_eq!(excerpt, r#"{"access_token":"[redacted]","note":"hello"}"#);
/// ```
pub fn scrub_excerpt(body: &[u8], known_secrets: &[&str]) -> String {
    let window = &body[..body.len().min(WINDOW_BYTES)];
    let text = mask_secrets(&String::from_utf8_lossy(window), known_secrets);
    let text = mask_secret_fields(&text);
    let text = mask_token_runs(&text);
    fold_and_cut(&text)
}

/// `error` with each text the server chose passed through [`scrub_excerpt`]: the secrets the
/// client sent (`known_secrets`, in every encoding) and anything that looks like a credential
/// masked, each text cut to an excerpt.
pub fn mask_oauth_error(error: OAuthError, known_secrets: &[&str]) -> OAuthError {
    error.masked_with(|text| scrub_excerpt(text.as_bytes(), known_secrets))
}

/// `text` with every occurrence of each of `known_secrets` replaced by `[redacted]`, in each
/// form a server may echo it (as sent, form- and percent-encoded, escaped in a JSON string);
/// nothing else changed, nothing cut. Longer secrets go first, so that one that contains
/// another is masked whole.
///
/// ```
/// let text = tokensmith_http::scrub::mask_secrets("bad secret: s%2Fx and s/x", &["s/x"]);
/// assert_eq!(text, "bad secret: [redacted] and [redacted]");
/// ```
pub fn mask_secrets(text: &str, known_secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = known_secrets
        .iter()
        .copied()
        .filter(|s| !s.is_empty())
        .collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut text = text.to_owned();
    for secret in secrets {
        for form in encodings(secret) {
            if text.contains(form.as_ref()) {
                text = text.replace(form.as_ref(), REDACTED);
            }
        }
    }
    text
}

/// `secret` as a server may echo it: as sent, form-encoded (`+` for a space), percent-encoded,
/// and escaped inside a JSON string. Only the forms that differ from the plain text are added.
fn encodings(secret: &str) -> Vec<std::borrow::Cow<'_, str>> {
    use std::borrow::Cow;
    let mut forms = vec![Cow::Borrowed(secret)];
    let mut add = |form: String| {
        if !form.is_empty() && !forms.iter().any(|f| *f == form) {
            forms.push(Cow::Owned(form));
        }
    };
    add(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    add(url::form_urlencoded::byte_serialize(secret.as_bytes())
        .collect::<String>()
        .replace('+', "%20"));
    let mut json = String::with_capacity(secret.len());
    for c in secret.chars() {
        match c {
            '"' => json.push_str("\\\""),
            '\\' => json.push_str("\\\\"),
            '/' => json.push_str("\\/"),
            c => json.push(c),
        }
    }
    add(json);
    forms
}

fn mask_secret_fields(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let Some((key_len, value_start, value_end)) = secret_field_at(&lower, bytes, i) else {
            i += 1;
            continue;
        };
        out.push_str(&text[copied..value_start]);
        out.push_str(REDACTED);
        copied = value_end;
        i = value_end.max(i + key_len);
    }
    out.push_str(&text[copied..]);
    out
}

/// If a secret field name starts at `i` and is followed by a value, returns the key length
/// and the byte range of the value.
fn secret_field_at(lower: &str, bytes: &[u8], i: usize) -> Option<(usize, usize, usize)> {
    if i > 0 && is_word_byte(bytes[i - 1]) {
        return None;
    }
    let key = SECRET_KEYS
        .iter()
        .find(|key| lower.as_bytes()[i..].starts_with(key.as_bytes()))?;
    let mut j = i + key.len();
    if j < bytes.len() && is_word_byte(bytes[j]) {
        return None;
    }
    j = skip(bytes, j, |b| {
        b == b'"' || b == b'\'' || b.is_ascii_whitespace()
    });
    if j >= bytes.len() || (bytes[j] != b':' && bytes[j] != b'=') {
        return None;
    }
    j = skip(bytes, j + 1, |b| b.is_ascii_whitespace());
    if bytes[j..].starts_with(REDACTED.as_bytes()) {
        return None;
    }
    let quote = bytes.get(j).copied().filter(|&b| b == b'"' || b == b'\'');
    if quote.is_some() {
        j += 1;
    }
    let unquoted_end = |from| {
        skip(bytes, from, |b| {
            !(b.is_ascii_whitespace() || matches!(b, b'&' | b',' | b'}' | b']' | b';' | b'<'))
        })
    };
    let end = match quote {
        Some(q) => skip(bytes, j, |b| b != q),
        None => {
            // `Authorization: Basic <credentials>`: the scheme and what follows it.
            let word = unquoted_end(j);
            let scheme = &lower.as_bytes()[j..word];
            if SCHEMES.contains(&scheme) && bytes.get(word) == Some(&b' ') {
                unquoted_end(skip(bytes, word, |b| b == b' '))
            } else {
                word
            }
        }
    };
    (end > j).then_some((key.len(), j, end))
}

fn skip(bytes: &[u8], mut j: usize, pred: impl Fn(u8) -> bool) -> usize {
    while j < bytes.len() && pred(bytes[j]) {
        j += 1;
    }
    j
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_token_char(c: char) -> bool {
    // `/` is left out so that paths and URLs split into short runs.
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '=')
}

fn mask_token_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run_start = None;
    for (idx, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if is_token_char(c) && idx < text.len() {
            run_start.get_or_insert(idx);
            continue;
        }
        if let Some(start) = run_start.take() {
            out.push_str(mask_run(&text[start..idx]));
        }
        if idx < text.len() {
            out.push(c);
        }
    }
    out
}

fn mask_run(run: &str) -> &str {
    let looks_like_token = run.len() >= TOKEN_RUN
        && run.bytes().any(|b| b.is_ascii_digit())
        && run.bytes().any(|b| b.is_ascii_alphabetic());
    if looks_like_token { REDACTED } else { run }
}

fn fold_and_cut(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut pending_space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if chars + usize::from(pending_space) >= EXCERPT_CHARS {
            out.push('…');
            break;
        }
        if pending_space {
            out.push(' ');
            chars += 1;
            pending_space = false;
        }
        out.push(c);
        chars += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use tokensmith_core::{Error, ErrorCode};

    use super::*;

    #[test]
    fn masking_reaches_the_normalised_code_but_not_a_registered_one() {
        let echoed = mask_oauth_error(
            OAuthError::new(StatusCode::BAD_REQUEST, "Canary-Secret-9")
                .with_description("it was canary-secret-9"),
            &["Canary-Secret-9", "canary-secret-9"],
        );
        let text = format!("{echoed:?} {}", Error::from(echoed.clone()));
        assert!(
            !text.to_ascii_lowercase().contains("canary-secret"),
            "{text}"
        );
        assert_eq!(echoed.code, ErrorCode::Other("[redacted]".into()));
        let nonce = mask_oauth_error(
            OAuthError::new(StatusCode::UNAUTHORIZED, "use_dpop_nonce"),
            &["nonce"],
        );
        assert_eq!(nonce.code.as_str(), "use_dpop_nonce");
        let standard = mask_oauth_error(
            OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client"),
            &["client"],
        );
        assert_eq!(standard.code, ErrorCode::InvalidClient);
    }

    #[test]
    fn masks_known_secrets_and_secret_fields() {
        let body = b"client_secret=hunter2&grant_type=password&password=p%40ss&scope=read";
        let out = scrub_excerpt(body, &[]);
        assert_eq!(
            out,
            "client_secret=[redacted]&grant_type=password&password=[redacted]&scope=read"
        );
        let out = scrub_excerpt(b"{\"error\":\"bad\",\"echo\":\"MyS3cret\"}", &["MyS3cret"]);
        assert_eq!(out, "{\"error\":\"bad\",\"echo\":\"[redacted]\"}");
        let out = scrub_excerpt(b"client_secret=MyS3cret; password=pw", &["MyS3cret"]);
        assert_eq!(out, "client_secret=[redacted]; password=[redacted]");
    }

    #[test]
    fn masks_camel_case_keys_and_authorization_credentials() {
        let body =
            br#"{"accessToken":"a1","refreshToken":"r1","idToken":"i1","clientSecret":"s1"}"#;
        assert_eq!(
            scrub_excerpt(body, &[]),
            r#"{"accessToken":"[redacted]","refreshToken":"[redacted]","idToken":"[redacted]","clientSecret":"[redacted]"}"#
        );
        let echoed =
            b"you sent authorization: Basic Y2xpZW50OnNlY3JldA== and Authorization=Bearer abc";
        assert_eq!(
            scrub_excerpt(echoed, &[]),
            "you sent authorization: [redacted] and Authorization=[redacted]"
        );
        let json = br#"{"headers":{"Authorization":"Basic Y2xpZW50OnNlY3JldA=="}}"#;
        assert_eq!(
            scrub_excerpt(json, &[]),
            r#"{"headers":{"Authorization":"[redacted]"}}"#
        );
    }

    #[test]
    fn masks_json_fields_with_spacing_and_single_quotes() {
        let out = scrub_excerpt(b"{ \"refresh_token\" : \"r-1\", 'code': 'abc' }", &[]);
        assert_eq!(
            out,
            "{ \"refresh_token\" : \"[redacted]\", 'code': '[redacted]' }"
        );
    }

    #[test]
    fn leaves_ordinary_words_alone() {
        let body = b"<html><body>502 Bad Gateway: the upstream error_code is 17</body></html>";
        let out = scrub_excerpt(body, &[]);
        assert_eq!(
            out,
            "<html><body>502 Bad Gateway: the upstream error_code is 17</body></html>"
        );
    }

    #[test]
    fn masks_long_token_like_runs() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let body =
            format!("unexpected {jwt} here; see https://example.com/a/very/long/path/to/docs1");
        let out = scrub_excerpt(body.as_bytes(), &[]);
        assert_eq!(
            out,
            "unexpected [redacted] here; see https://example.com/a/very/long/path/to/docs1"
        );
    }

    #[test]
    fn folds_whitespace_and_cuts() {
        let body = format!("a\n\n\tb\r\n{}", "x ".repeat(500));
        let out = scrub_excerpt(body.as_bytes(), &[]);
        assert!(out.starts_with("a b x x"));
        assert!(out.ends_with('…'));
        assert!(out.chars().count() <= EXCERPT_CHARS + 1);
        let long = "x".repeat(500);
        let out = scrub_excerpt(long.as_bytes(), &[]);
        assert_eq!(out, format!("{}…", &long[..EXCERPT_CHARS]));
        assert_eq!(
            scrub_excerpt(&long.as_bytes()[..EXCERPT_CHARS], &[]),
            &long[..EXCERPT_CHARS]
        );
    }

    #[test]
    fn survives_arbitrary_bytes() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state & 0xff) as u8
                })
                .collect();
            let out = scrub_excerpt(&bytes, &["k"]);
            assert!(out.chars().count() <= EXCERPT_CHARS + 1);
        }
        assert_eq!(scrub_excerpt(b"password=", &[]), "password=");
        assert_eq!(scrub_excerpt("código=é".as_bytes(), &[]), "código=é");
    }
}
