//! What one answer was: the classification every rule reads.

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
    pub(super) fn status(&self) -> Option<u16> {
        match self {
            Self::OAuth { status, .. }
            | Self::Html { status }
            | Self::Redirect { status, .. }
            | Self::Other { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The code in lower case, for matching.
    pub(super) fn code(&self) -> String {
        match self {
            Self::OAuth { code, .. } => code.to_ascii_lowercase(),
            _ => String::new(),
        }
    }

    /// All the text the server gave, in lower case, for matching.
    pub(super) fn text(&self) -> String {
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
    pub(super) fn ends_probing(&self) -> bool {
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
    pub(super) fn gateway_path(&self) -> bool {
        self.text().contains("missing authentication token")
    }

    /// The server names an API key or subscription key, as gateways do.
    pub(super) fn wants_api_key(&self) -> bool {
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
    pub(super) fn params_missing(&self) -> bool {
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
    pub(super) fn grant_type_refused(&self) -> bool {
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
    pub(super) fn words(&self) -> String {
        match self {
            Self::OAuth { description, .. } => description.to_ascii_lowercase(),
            other => other.text(),
        }
    }

    /// The server says this client may not use the grant (whatever code it gives).
    pub(super) fn grant_not_allowed(&self) -> bool {
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

    /// The server wants an `audience` or `resource` naming the API, or does not know the one
    /// sent (Auth0: "No audience parameter was provided", "Service not found").
    pub(super) fn wants_audience(&self) -> bool {
        let words = self.words();
        let names = words.contains("audience")
            || (words.contains("resource") && !words.contains("resource owner"))
            || words.contains("service not found");
        names
            && [
                "missing",
                "required",
                "no audience",
                "not provided",
                "was provided",
                "not found",
                "unknown",
                "invalid",
                "not configured",
            ]
            .iter()
            .any(|w| words.contains(w))
    }

    pub(super) fn mentions_scope(&self) -> bool {
        self.code() == "invalid_scope" || self.text().contains("scope")
    }

    /// The server did not accept the client's credentials (in this style).
    pub(super) fn refuses_client(&self) -> bool {
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
    pub(super) fn progress(&self) -> u8 {
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
pub(super) fn names_the_client(text: &str) -> bool {
    let client = text.contains("client_id")
        || text.contains("client id")
        || text.contains("client secret")
        || text.contains("client_secret")
        || text.contains("client authentication")
        || text.contains("bad credentials")
        || text.contains("invalid_client")
        || text.contains("invalid client")
        || text.contains("client credentials")
        || text.contains("unknown client")
        // Entra ID: `AADSTS700016: Application with identifier '…' was not found`.
        || text.contains("application with identifier");
    client && !text.contains("missing")
}
