//! Sending one probe to the token endpoint and reading what came back into a [`Seen`].

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use tokensmith_http::{display_url, display_url_text, read_limited, scrub_excerpt};
use url::Url;

use super::diagnose::{Probe, Seen, Shape, Style, TokenShape, TokenTimes};
use crate::endpoint::{PASSWORD_VAR, SECRET_VAR};
use crate::out::Out;
use crate::safe::{one_line, shell_quote};

/// The most of an answer read.
const MAX_ANSWER: usize = 64 * 1024;
/// The longest excerpt of server text kept.
const EXCERPT: usize = 160;

/// What a probe needs to know about the client.
pub(crate) struct Client<'a> {
    pub(crate) http: &'a reqwest::Client,
    pub(crate) url: &'a Url,
    pub(crate) client_id: &'a str,
    pub(crate) secret: &'a str,
    pub(crate) username: Option<&'a str>,
    pub(crate) password: Option<&'a str>,
    pub(crate) grant: &'a str,
    pub(crate) scope: Option<&'a str>,
    /// Extra headers: name, value, and the environment variable the value came from.
    pub(crate) headers: &'a [(String, String, String)],
    pub(crate) out: &'a Out,
}

/// One request as the list shows it.
pub(crate) struct Sent {
    pub(crate) method: &'static str,
    pub(crate) url: String,
    pub(crate) placement: Vec<String>,
    pub(crate) answer: String,
    pub(crate) curl: String,
}

/// What one probe gave: the answer, its line in the request list, and the access token when
/// one came (kept in memory only, to try it against an API).
pub(crate) struct Outcome {
    pub(crate) seen: Seen,
    pub(crate) sent: Sent,
    pub(crate) token: Option<String>,
}

impl Client<'_> {
    /// The grant's parameters (the password as it is: only ever in a body).
    fn params(&self, probe: Probe) -> Vec<(&'static str, String)> {
        let mut params = vec![("grant_type", self.grant.to_owned())];
        if let (Some(user), Some(password)) = (self.username, self.password) {
            params.push(("username", user.to_owned()));
            params.push(("password", password.to_owned()));
        }
        if let Some(scope) = self.scope {
            params.push(("scope", scope.to_owned()));
        }
        if probe.style == Style::Body {
            params.push(("client_id", self.client_id.to_owned()));
            params.push(("client_secret", self.secret.to_owned()));
        }
        params
    }

    /// The `Authorization: Basic` value of a probe, if it sends one.
    fn basic(&self, style: Style) -> Option<String> {
        let encode =
            |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
        let joined = match style {
            Style::Basic => format!("{}:{}", encode(self.client_id), encode(self.secret)),
            Style::BasicUnencoded => format!("{}:{}", self.client_id, self.secret),
            Style::Body => return None,
        };
        Some(format!("Basic {}", STANDARD.encode(joined)))
    }

    /// The request as a curl line that pastes safely: every value shell-quoted, secrets as
    /// environment variables, no user info or query in the URL.
    fn curl(&self, probe: Probe, params: &[(&'static str, String)]) -> String {
        let mut curl = format!("curl -sS {}", shell_quote(&curl_url(self.url)));
        if probe.style != Style::Body {
            let _ = write!(
                curl,
                " -u {}\"${SECRET_VAR}\"",
                shell_quote(&format!("{}:", self.client_id))
            );
        }
        for (name, _, var) in self.headers {
            let _ = write!(curl, " -H {}\"${var}\"", shell_quote(&format!("{name}: ")));
        }
        match probe.shape {
            Shape::Json => {
                curl.push_str(" -H 'content-type: application/json' --data-binary @body.json");
                curl.push_str(" # body.json: the parameters as one JSON object");
                return curl;
            }
            Shape::Query => curl.push_str(" -G"),
            Shape::Form => {}
        }
        for (name, value) in params {
            match *name {
                "client_secret" => {
                    let _ = write!(curl, " --data-urlencode \"client_secret=${SECRET_VAR}\"");
                }
                "password" => {
                    let _ = write!(curl, " --data-urlencode \"password=${PASSWORD_VAR}\"");
                }
                _ => {
                    let _ = write!(
                        curl,
                        " --data-urlencode {}",
                        shell_quote(&format!("{name}={value}"))
                    );
                }
            }
        }
        let encoded = |s: &str| form(s) != s;
        if probe.style == Style::Basic && (encoded(self.client_id) || encoded(self.secret)) {
            curl.push_str("  # -u sends them as they are: form-encode the id and secret first");
        }
        curl
    }

    /// Sends `probe` and reads the answer.
    pub(crate) async fn send(&self, probe: Probe) -> Outcome {
        let params = self.params(probe);
        let mut placement = Vec::new();
        if probe.style != Style::Body {
            placement.push(format!(
                "Authorization: Basic (client id and secret{}) in a header",
                if probe.style == Style::BasicUnencoded {
                    ", not form-encoded"
                } else {
                    ""
                }
            ));
        }
        let names: Vec<&str> = params.iter().map(|(name, _)| *name).collect();
        placement.push(format!(
            "{} in the {}",
            names.join(", "),
            match probe.shape {
                Shape::Form => "form body",
                Shape::Json => "JSON body",
                Shape::Query => "query string (GET)",
            }
        ));
        for (name, _, _) in self.headers {
            placement.push(format!("{name} header"));
        }
        let mut request = match probe.shape {
            Shape::Query => {
                let mut url = self.url.clone();
                url.query_pairs_mut()
                    .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
                self.http.get(url)
            }
            Shape::Form => {
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish();
                self.http
                    .post(self.url.clone())
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form)
            }
            Shape::Json => {
                let body: Map<String, Value> = params
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                    .collect();
                self.http
                    .post(self.url.clone())
                    .header("content-type", "application/json")
                    .body(Value::Object(body).to_string())
            }
        };
        request = request.header("accept", "application/json");
        // Its credentials are masked already: the secret was registered with both Basic
        // encodings when it was read.
        if let Some(basic) = self.basic(probe.style) {
            request = request.header("authorization", basic);
        }
        for (name, value, _) in self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let (seen, token) = match request.send().await {
            Err(error) => (transport(&error), None),
            Ok(response) => self.classify(response).await,
        };
        let sent = Sent {
            method: if probe.shape == Shape::Query {
                "GET"
            } else {
                "POST"
            },
            url: display_url(self.url),
            placement,
            answer: seen.summary(),
            curl: self.curl(probe, &params),
        };
        Outcome { seen, sent, token }
    }

    /// Reads an answer; tokens in it are registered as secrets at once.
    async fn classify(&self, response: reqwest::Response) -> (Seen, Option<String>) {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        if (300..400).contains(&status) {
            return (
                Seen::Redirect {
                    status,
                    location: header("location").map(|l| {
                        let absolute = self.url.join(&l).map_or(l, |u| u.to_string());
                        one_line(&display_url_text(&absolute), EXCERPT)
                    }),
                },
                None,
            );
        }
        let server_date = header("date")
            .and_then(|d| httpdate::parse_http_date(&d).ok())
            .and_then(|d| d.duration_since(UNIX_EPOCH).ok())
            .map(|d| d.as_secs_f64());
        let body = match read_limited(http::Response::from(response).into_body(), MAX_ANSWER).await
        {
            Ok(body) => body,
            Err(_) => {
                return (
                    Seen::Other {
                        status,
                        excerpt: format!("an answer over {} KiB, or cut short", MAX_ANSWER / 1024),
                    },
                    None,
                );
            }
        };
        let text = String::from_utf8_lossy(&body);
        let fields = fields(&text, &content_type);
        // Tokens never reach the screen, whatever field or encoding the server echoes them in.
        if let Some(fields) = &fields {
            for name in ["access_token", "refresh_token", "id_token"] {
                if let Some(Value::String(value)) = fields.get(name) {
                    self.out.secrets().add(value);
                }
            }
        }
        // Every secret the command knows of (the client secret, the password, header values,
        // tokens seen) is masked before the excerpt is cut, so that none survives in part.
        let mask = |text: &str| -> String {
            let masked = self.out.secrets().mask(text);
            one_line(&scrub_excerpt(masked.as_bytes(), &[]), EXCERPT)
        };
        if let Some(fields) = &fields
            && let Some(Value::String(access)) = fields.get("access_token")
            && !access.is_empty()
        {
            let local = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_secs_f64();
            let (iat, exp) = jwt_times(access);
            let expires_in = match fields.get("expires_in") {
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::String(s)) => s.trim().parse().ok(),
                _ => None,
            };
            let token_type = fields.get("token_type").and_then(Value::as_str);
            let form = !text.trim_start().starts_with('{');
            let shape = TokenShape {
                status: (status != 200).then_some(status),
                // A form-encoded answer has only strings: its expires_in is no departure.
                form,
                token_type: token_type
                    .filter(|kind| *kind != "Bearer")
                    .map(|kind| one_line(kind, 40)),
                token_type_missing: token_type.is_none(),
                expires_in_string: !form
                    && matches!(fields.get("expires_in"), Some(Value::String(_))),
                expires_in_missing: expires_in.is_none(),
            };
            return (
                Seen::Token {
                    times: TokenTimes {
                        expires_in,
                        iat,
                        exp,
                        server_date,
                        local,
                    },
                    shape,
                },
                Some(access.clone()),
            );
        }
        if let Some(fields) = &fields
            && let Some((code, description)) = error_of(fields)
        {
            return (
                Seen::OAuth {
                    status,
                    code: mask(&code),
                    description: mask(&description),
                },
                None,
            );
        }
        if content_type.starts_with("text/html") || text.trim_start().starts_with('<') {
            return (Seen::Html { status }, None);
        }
        (
            Seen::Other {
                status,
                excerpt: mask(text.trim()),
            },
            None,
        )
    }
}

/// The URL for a curl line: its query kept (a vendor's `api-version` is part of the endpoint)
/// but the values of parameters that may be secrets masked; no user info, no fragment.
fn curl_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_fragment(None);
    if url.query().is_some() {
        let secretish = |name: &str| {
            let name = name.to_ascii_lowercase();
            [
                "key",
                "secret",
                "token",
                "password",
                "code",
                "sig",
                "assertion",
                "auth",
            ]
            .iter()
            .any(|word| name.contains(word))
        };
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if secretish(&name) {
                    "[redacted]".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

fn form(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

mod read;

use self::read::{error_of, fields, jwt_times, transport};

#[cfg(test)]
mod tests;
