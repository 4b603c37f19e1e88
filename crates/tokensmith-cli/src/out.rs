//! Output for people (aligned, coloured on a terminal) or for scripts (one JSON document).

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::safe::{Secrets, printable};

/// A line on standard output that never panics (`tokensmith doctor | head` closes it early).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// A line on standard error that never panics: a closed stderr (a caller that stopped
/// reading) loses the line and nothing else.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
pub(crate) use note;

/// Like [`note!`], without the newline.
macro_rules! note_inline {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}
pub(crate) use note_inline;

/// Where and how the command writes. Everything it prints, in every format, is masked with
/// the secrets the command registered and has its control characters written out.
pub(crate) struct Out {
    json: bool,
    colour: bool,
    secrets: Secrets,
}

/// How a finding reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    Ok,
    Warn,
    Fail,
    Info,
}

impl Mark {
    fn symbol(self) -> &'static str {
        match self {
            Self::Ok => "ok  ",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
            Self::Info => "info",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Self::Ok => "\x1b[32m",
            Self::Warn => "\x1b[33m",
            Self::Fail => "\x1b[31m",
            Self::Info => "\x1b[36m",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warning",
            Self::Fail => "failure",
            Self::Info => "info",
        }
    }
}

impl Out {
    pub(crate) fn new(json: bool, no_colour: bool) -> Self {
        let colour = !json
            && !no_colour
            && std::env::var_os("NO_COLOR").is_none()
            && std::io::stdout().is_terminal();
        Self {
            json,
            colour,
            secrets: Secrets::default(),
        }
    }

    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// The secrets masked in all output.
    pub(crate) fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// `text` as it may be printed: secrets masked, control characters written out.
    pub(crate) fn clean(&self, text: &str) -> String {
        printable(&self.secrets.mask(text))
    }

    /// `value` with each string in it cleaned.
    fn clean_value(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.clean(text)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.clean_value(v)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.clean(k), self.clean_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A line on standard error, cleaned (prompts and notes that keep `--json` output one
    /// document).
    pub(crate) fn note(&self, text: &str) {
        crate::out::note!("{}", self.clean(text));
    }

    /// A heading (text mode only).
    pub(crate) fn heading(&self, text: &str) {
        if self.json {
            return;
        }
        let text = self.clean(text);
        if self.colour {
            say!("\x1b[1m{text}\x1b[0m");
        } else {
            say!("{text}");
        }
    }

    /// Aligned `key  value` rows (text mode only).
    pub(crate) fn rows(&self, rows: &[(&str, String)]) {
        if self.json {
            return;
        }
        let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
        for (key, value) in rows {
            let value = self.clean(value);
            let mut lines = value.lines();
            say!("  {key:<width$}  {}", lines.next().unwrap_or(""));
            for more in lines {
                say!("  {:<width$}  {more}", "");
            }
        }
    }

    /// A marked line (text mode only).
    pub(crate) fn mark(&self, mark: Mark, text: &str) {
        if self.json {
            return;
        }
        let text = self.clean(text);
        if self.colour {
            say!("  {}{}\x1b[0m  {text}", mark.colour(), mark.symbol());
        } else {
            say!("  {}  {text}", mark.symbol());
        }
    }

    /// A plain line (text mode only).
    pub(crate) fn line(&self, text: &str) {
        if !self.json {
            say!("{}", self.clean(text));
        }
    }

    /// The JSON document (JSON mode only).
    pub(crate) fn document(&self, value: &Value) {
        if self.json {
            let mut stdout = std::io::stdout().lock();
            let _ = serde_json::to_writer_pretty(&mut stdout, &self.clean_value(value));
            let _ = writeln!(stdout);
        }
    }

    /// An error that ends the command, on standard error.
    pub(crate) fn fatal(&self, message: &str) {
        let message = self.clean(message);
        if self.json {
            crate::out::note!("{}", serde_json::json!({ "error": message }));
        } else {
            crate::out::note!("tokensmith: {message}");
        }
    }

    /// A progress note on standard error (a terminal only, so it never mixes into output).
    pub(crate) fn progress(&self, text: &str) {
        if std::io::stderr().is_terminal() {
            let text = self.clean(text);
            crate::out::note_inline!("\r{text}\x1b[K");
            let _ = std::io::stderr().flush();
        }
    }
}
