//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1), read in full: several challenges in one
//! field or over several fields, parameters with quoted strings and escapes, `token68`.
//!
//! What a resource server says there leads the client to its metadata (RFC 9728 §5.1:
//! `resource_metadata`), to the scopes it wants (RFC 6750 §3: `scope`, `error`), to a DPoP
//! nonce (RFC 9449 §8) or to a stronger sign-in (RFC 9470: `acr_values`, `max_age`). The
//! input comes from the network: it is bounded ([`MAX_CHALLENGE_BYTES`], at most
//! [`MAX_CHALLENGES`] challenges of at most [`MAX_PARAMS`] parameters), and a malformed field
//! is a typed error, never a panic.
//!
//! ```
//! use tokensmith_http::challenge::parse;
//!
//! let challenges = parse(
//!     r#"Bearer resource_metadata="https://api.example/.well-known/oauth-protected-resource", scope="files:read files:write", DPoP algs="ES256""#,
//! )?;
//! assert_eq!(challenges.len(), 2);
//! let bearer = &challenges[0];
//! assert!(bearer.is("bearer"));
//! assert_eq!(bearer.scopes().collect::<Vec<_>>(), ["files:read", "files:write"]);
//! assert_eq!(challenges[1].param("algs"), Some("ES256"));
//! # Ok::<(), tokensmith_http::challenge::ChallengeError>(())
//! ```

use std::fmt;

use http::HeaderMap;
use http::header::WWW_AUTHENTICATE;

/// The most bytes read of a response's `WWW-Authenticate` fields together.
pub const MAX_CHALLENGE_BYTES: usize = 8 * 1024;
/// The most challenges read from one response.
pub const MAX_CHALLENGES: usize = 16;
/// The most parameters read in one challenge.
pub const MAX_PARAMS: usize = 32;

/// One challenge: an authentication scheme with its parameters or its `token68`.
#[derive(Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    token68: Option<String>,
    params: Vec<(String, String)>,
}

impl Challenge {
    /// The scheme as the server wrote it (`Bearer`, `DPoP`, …).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether the scheme is `scheme` (schemes are case-insensitive).
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The parameter `name` (case-insensitive), unquoted and unescaped.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The parameters, names in lower case, in the order sent.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The `token68` form (`Basic dXNlcg==`), if the challenge has one instead of parameters.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }

    /// `error` (RFC 6750 §3.1: `invalid_token`, `insufficient_scope`, …; RFC 9470:
    /// `insufficient_user_authentication`).
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }

    /// `error_description`.
    pub fn error_description(&self) -> Option<&str> {
        self.param("error_description")
    }

    /// The scopes of `scope`, split on spaces; none when absent.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.param("scope")
            .unwrap_or("")
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// `resource_metadata` (RFC 9728 §5.1): the URL of the resource's metadata.
    pub fn resource_metadata(&self) -> Option<&str> {
        self.param("resource_metadata")
    }
}

impl fmt::Debug for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A challenge carries no secret of the client's, but a token68 may be anything: its
        // length only.
        let mut d = f.debug_struct("Challenge");
        d.field("scheme", &self.scheme);
        if let Some(token68) = &self.token68 {
            d.field("token68_len", &token68.len());
        }
        d.field("params", &self.params).finish()
    }
}

/// A `WWW-Authenticate` field that does not follow RFC 9110 §11.6.1, or is too large.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeError {
    reason: &'static str,
    at: usize,
}

impl ChallengeError {
    /// What is wrong.
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The byte offset where reading stopped.
    pub fn at(&self) -> usize {
        self.at
    }
}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed WWW-Authenticate header: {} (at byte {})",
            self.reason, self.at
        )
    }
}

impl std::error::Error for ChallengeError {}

impl From<ChallengeError> for tokensmith_core::Error {
    fn from(error: ChallengeError) -> Self {
        tokensmith_core::Error::other(error.to_string()).with_hint(
            "the resource server's challenge does not follow RFC 9110 §11.6.1, so what it asks \
             for (metadata, scopes) cannot be read; its operator can check the header",
        )
    }
}

/// The challenges of every `WWW-Authenticate` field in `headers`, in order. A field that is
/// not visible ASCII is an error, like a malformed one.
pub fn from_headers(headers: &HeaderMap) -> Result<Vec<Challenge>, ChallengeError> {
    let mut all = Vec::new();
    let mut read = 0usize;
    for value in headers.get_all(WWW_AUTHENTICATE) {
        read += value.len();
        if read > MAX_CHALLENGE_BYTES {
            return Err(ChallengeError {
                reason: "longer than the limit",
                at: MAX_CHALLENGE_BYTES,
            });
        }
        let text = value.to_str().map_err(|_| ChallengeError {
            reason: "not visible ASCII",
            at: 0,
        })?;
        for challenge in parse(text)? {
            if all.len() == MAX_CHALLENGES {
                return Err(ChallengeError {
                    reason: "more challenges than the limit",
                    at: read,
                });
            }
            all.push(challenge);
        }
    }
    Ok(all)
}

/// The challenges of one `WWW-Authenticate` field value.
pub fn parse(value: &str) -> Result<Vec<Challenge>, ChallengeError> {
    if value.len() > MAX_CHALLENGE_BYTES {
        return Err(ChallengeError {
            reason: "longer than the limit",
            at: MAX_CHALLENGE_BYTES,
        });
    }
    let mut reader = Reader {
        bytes: value.as_bytes(),
        pos: 0,
    };
    let mut challenges = Vec::new();
    loop {
        reader.skip_list_separators();
        if reader.done() {
            return Ok(challenges);
        }
        if challenges.len() == MAX_CHALLENGES {
            return Err(reader.error("more challenges than the limit"));
        }
        challenges.push(reader.challenge()?);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error(&self, reason: &'static str) -> ChallengeError {
        ChallengeError {
            reason,
            at: self.pos,
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Empty list elements are allowed (RFC 9110 §5.6.1.2).
    fn skip_list_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.text(start))
    }

    fn text(&self, start: usize) -> String {
        // Only ASCII bytes are consumed by the readers, so this is a char boundary.
        String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned()
    }

    fn challenge(&mut self) -> Result<Challenge, ChallengeError> {
        let scheme = self
            .token()
            .ok_or_else(|| self.error("expected an authentication scheme"))?;
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        match self.peek() {
            None | Some(b',') => return Ok(challenge),
            Some(b' ' | b'\t') => self.skip_ows(),
            Some(_) => return Err(self.error("expected a space after the scheme")),
        }
        if self.done() || self.peek() == Some(b',') {
            return Ok(challenge);
        }
        if let Some(token68) = self.token68() {
            challenge.token68 = Some(token68);
            return Ok(challenge);
        }
        self.params(&mut challenge)?;
        Ok(challenge)
    }

    /// A `token68` that is the whole rest of the challenge, or `None` (position unchanged).
    fn token68(&mut self) -> Option<String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        {
            self.pos += 1;
        }
        let body = self.pos;
        while self.peek() == Some(b'=') {
            self.pos += 1;
        }
        let end = self.pos;
        self.skip_ows();
        if body > start && (self.done() || self.peek() == Some(b',')) {
            return Some(String::from_utf8_lossy(&self.bytes[start..end]).into_owned());
        }
        self.pos = start;
        None
    }

    /// `#auth-param`, up to the end or the next challenge's scheme.
    fn params(&mut self, challenge: &mut Challenge) -> Result<(), ChallengeError> {
        loop {
            let start = self.pos;
            let Some(name) = self.token() else {
                return Err(self.error("expected a parameter name"));
            };
            let name = name.to_ascii_lowercase();
            self.skip_ows();
            if self.peek() != Some(b'=') {
                // A token with no `=`: the scheme of the next challenge.
                if challenge.params.is_empty() {
                    return Err(self.error("expected `=` after the parameter name"));
                }
                self.pos = start;
                return Ok(());
            }
            self.pos += 1;
            self.skip_ows();
            let value = match self.peek() {
                Some(b'"') => self.quoted()?,
                _ => match self.token() {
                    Some(token) => token,
                    None => return Err(self.error("expected a token or a quoted string")),
                },
            };
            if challenge.params.iter().any(|(n, _)| *n == name) {
                return Err(self.error("a parameter appears twice in one challenge"));
            }
            if challenge.params.len() == MAX_PARAMS {
                return Err(self.error("more parameters than the limit"));
            }
            challenge.params.push((name, value));
            self.skip_ows();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {
                    self.skip_list_separators();
                    if self.done() {
                        return Ok(());
                    }
                }
                Some(_) => return Err(self.error("expected `,` between parameters")),
            }
        }
    }

    /// A quoted string (RFC 9110 §5.6.4), unescaped.
    fn quoted(&mut self) -> Result<String, ChallengeError> {
        self.pos += 1;
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => return Err(self.error("a quoted string is not closed")),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(value)
                        .map_err(|_| self.error("a quoted string is not UTF-8"));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) if b == b'\t' || b >= 0x20 && b != 0x7f => {
                            value.push(b);
                            self.pos += 1;
                        }
                        _ => return Err(self.error("a backslash escapes nothing")),
                    }
                }
                Some(b) if b == b'\t' || b >= 0x20 && b != 0x7f => {
                    value.push(b);
                    self.pos += 1;
                }
                Some(_) => return Err(self.error("a control character in a quoted string")),
            }
        }
    }
}

/// `tchar` (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests;
