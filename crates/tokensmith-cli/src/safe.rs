//! Text that is safe to print: no secret in any encoding, no control character that a terminal
//! would act on, and shell lines that paste as they read.

use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokensmith_http::mask_secrets;

/// Secrets shorter than this are not searched for in output: masking every `ab` would garble
/// the text without protecting anything a guess would not find.
const SHORTEST: usize = 3;

/// The secrets a command knows of: every line it prints is masked with them.
#[derive(Default)]
pub(crate) struct Secrets(Mutex<Vec<String>>);

impl Secrets {
    /// Masks `value` (and its URL and JSON encodings) in everything printed from now on.
    pub(crate) fn add(&self, value: &str) {
        if value.chars().count() < SHORTEST {
            return;
        }
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !known.iter().any(|k| k == value) {
            known.push(value.to_owned());
        }
    }

    /// Adds a client's secret and the `Authorization: Basic` credentials made from it, in both
    /// encodings (RFC 6749 §2.3.1, and the id and secret as they are).
    pub(crate) fn add_client(&self, id: &str, secret: &str) {
        if secret.is_empty() {
            return;
        }
        self.add(secret);
        let encode =
            |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
        self.add(&STANDARD.encode(format!("{}:{}", encode(id), encode(secret))));
        self.add(&STANDARD.encode(format!("{id}:{secret}")));
    }

    /// `text` with every known secret replaced by `[redacted]`.
    pub(crate) fn mask(&self, text: &str) -> String {
        let known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if known.is_empty() {
            return text.to_owned();
        }
        let refs: Vec<&str> = known.iter().map(String::as_str).collect();
        mask_secrets(text, &refs)
    }
}

/// `text` with every character a terminal would act on written out instead: C0 controls but
/// the line feed and tab, DEL, C1 controls, and the bidirectional overrides that reorder what
/// a reader sees. Server text passes through here before it reaches the screen.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

/// One line of server text, printable and at most `max` characters: line breaks become spaces.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let printable = printable(&flat);
    if printable.chars().count() <= max {
        return printable;
    }
    let mut cut: String = printable.chars().take(max).collect();
    cut.push('…');
    cut
}

/// `value` quoted for a POSIX shell: single quotes, with any single quote in it closed,
/// escaped and reopened.
pub(crate) fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secrets_in_their_encodings_and_basic_credentials() {
        let secrets = Secrets::default();
        secrets.add_client("id", "s3cr/t+x");
        secrets.add("ab");
        let basic = STANDARD.encode("id:s3cr%2Ft%2Bx");
        let text = format!("s3cr/t+x s3cr%2Ft%2Bx {basic} ab");
        assert_eq!(
            secrets.mask(&text),
            "[redacted] [redacted] [redacted] ab",
            "two-letter values are left alone"
        );
    }

    #[test]
    fn control_characters_are_written_out() {
        assert_eq!(
            printable("a\x1b[31mb\rc\x07\u{202e}d\ne"),
            "a\\u{1b}[31mb\\u{d}c\\u{7}\\u{202e}d\ne"
        );
        assert_eq!(one_line("a\r\nb\n\x1b", 10), "a b \\u{1b}");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }

    #[test]
    fn shell_quotes_survive_a_quote() {
        assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
    }
}
