//! `tokensmith doctor`: tries a token endpoint the ways servers differ, and says in plain words
//! what works and what to change.
//!
//! Only grants that can be repeated safely are used (client credentials, password). Every
//! request is listed (method, URL without secrets, which parameters went where) and, with
//! `--curl`, printed as a curl command with the secrets as environment variables.

use std::fmt::Write as _;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};
use tokensmith_airvantage::{Region, TOKEN_PATH};
use tokensmith_core::internal::display_url;
use tokensmith_core::{RetryPolicy, TokenSource};
use tokensmith_oauth2::{ClientAuth, ClientCredentials, Password, TokenEndpoint};
use url::Url;

use crate::decode::span;
use crate::endpoint::{self, EndpointArgs, PASSWORD_VAR, SECRET_VAR};
use crate::out::{Mark, Out};
use crate::{Outcome, UsageError};

/// The most of an answer read.
const MAX_ANSWER: usize = 64 * 1024;
/// The time allowed for each request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Args, Debug)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// The grant to try: only grants that can be repeated safely.
    #[arg(long, value_enum, default_value = "client_credentials")]
    grant: DoctorGrant,
    /// A vendor whose rules the doctor knows.
    #[arg(long, value_enum)]
    vendor: Option<Vendor>,
    /// The vendor's region (`na`, `eu`, or a base URL) whose token endpoint to check.
    #[arg(long)]
    region: Option<String>,
    /// The region whose API the token is used against (default: --region).
    #[arg(long)]
    api_region: Option<String>,
    /// An API path to call with the token (`api/v1/users/current`), to check that the API
    /// accepts it.
    #[arg(long)]
    api_path: Option<String>,
    /// Prints every request as a curl command, secrets as $TOKENSMITH_CLIENT_SECRET and
    /// $TOKENSMITH_PASSWORD.
    #[arg(long)]
    curl: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DoctorGrant {
    #[value(name = "client_credentials", alias = "client-credentials")]
    ClientCredentials,
    Password,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Vendor {
    /// AirVantage: regions `na` and `eu`, token endpoint at `api/oauth/token`.
    Airvantage,
    /// A generic Basic-client vendor: its error shapes and hints (`tokensmith-basic`).
    Basic,
}

/// How the client credentials travel.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Basic,
    BasicUnencoded,
    Body,
}

impl Style {
    fn name(self) -> &'static str {
        match self {
            Self::Basic => "client_secret_basic",
            Self::BasicUnencoded => "client_secret_basic, id and secret not form-encoded",
            Self::Body => "client_secret_post",
        }
    }

    fn client_auth(self) -> ClientAuth {
        match self {
            Self::Basic => ClientAuth::Basic,
            Self::BasicUnencoded => ClientAuth::BasicUnencoded,
            Self::Body => ClientAuth::RequestBody,
        }
    }
}

/// What one answer was.
#[derive(Debug)]
enum Answer {
    Token {
        fields: Map<String, Value>,
        form: bool,
        status: u16,
    },
    OAuthError {
        status: u16,
        code: String,
        description: Option<String>,
    },
    Html {
        status: u16,
    },
    Other {
        status: u16,
        excerpt: String,
    },
    Unreachable(String),
}

impl Answer {
    fn summary(&self) -> String {
        match self {
            Self::Token { status, form, .. } => {
                format!(
                    "{status}: a token{}",
                    if *form { " (as a form)" } else { "" }
                )
            }
            Self::OAuthError {
                status,
                code,
                description,
            } => format!(
                "{status} `{code}`{}",
                description
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            Self::Html { status } => format!("{status}: an HTML page"),
            Self::Other { status, excerpt } => format!("{status}: {excerpt}"),
            Self::Unreachable(why) => format!("no answer: {why}"),
        }
    }

    /// The server did not accept the client's credentials (in this style).
    fn refuses_client(&self) -> bool {
        match self {
            Self::OAuthError { status, code, .. } => {
                *status == 401
                    || matches!(
                        code.to_ascii_lowercase().as_str(),
                        "invalid_client" | "unauthorized_client" | "invalid_request"
                    )
            }
            Self::Other { status, .. } => matches!(status, 400 | 401 | 403),
            _ => false,
        }
    }
}

/// One request the doctor sent.
struct Sent {
    method: &'static str,
    url: String,
    placement: Vec<String>,
    answer: String,
    curl: String,
}

struct Doctor<'a> {
    http: reqwest::Client,
    url: Url,
    client_id: String,
    secret: String,
    username: Option<String>,
    password: Option<String>,
    grant: DoctorGrant,
    scope: Option<String>,
    headers: Vec<(String, String)>,
    sent: Vec<Sent>,
    findings: Vec<(Mark, String)>,
    out: &'a Out,
    /// Whether a token endpoint answered with an OAuth error (worth tokensmith's hint).
    answered: bool,
    /// The vendor rules tokensmith applies when it reads the answers.
    vendor: Option<Vendor>,
}

pub(crate) async fn run(args: DoctorArgs, out: &Out) -> Result<Outcome, UsageError> {
    let region = match (&args.vendor, &args.region) {
        (Some(Vendor::Airvantage), Some(region)) => Some(
            region
                .parse::<Region>()
                .map_err(|e| UsageError(e.to_string()))?,
        ),
        (Some(Vendor::Airvantage), None) => {
            return Err(UsageError(
                "--vendor airvantage needs --region (na, eu or a URL)".into(),
            ));
        }
        (_, Some(_)) => return Err(UsageError("--region needs --vendor airvantage".into())),
        (_, None) => None,
    };
    let url_text = match (&region, &args.endpoint.token_url) {
        (Some(region), None) => region
            .base_url()
            .join(TOKEN_PATH)
            .map_err(|e| UsageError(e.to_string()))?
            .to_string(),
        (_, Some(url)) => url.clone(),
        (None, None) => {
            return Err(UsageError(
                "say which token endpoint to check: --token-url URL (or --vendor and --region)"
                    .into(),
            ));
        }
    };
    let url = Url::parse(url_text.trim())
        .map_err(|e| UsageError(format!("the token endpoint URL is not a URL: {e}")))?;
    if url.scheme() != "https"
        && !tokensmith_core::internal::is_loopback(&url)
        && !args.endpoint.insecure_http
    {
        return Err(UsageError(format!(
            "refusing plain http to {}: the secret would cross the network unencrypted \
             (--insecure-http for a closed test network)",
            url.host_str().unwrap_or("")
        )));
    }
    let secret = endpoint::client_secret(true)?.unwrap_or_default();
    let (username, password) = match args.grant {
        DoctorGrant::Password => {
            let username = args
                .endpoint
                .username
                .clone()
                .ok_or_else(|| UsageError("--grant password needs --username".into()))?;
            let password = endpoint::password(&username)?;
            (Some(username), Some(password))
        }
        DoctorGrant::ClientCredentials => (None, None),
    };
    let scopes = endpoint::scopes(&args.endpoint);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("tokensmith-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| UsageError(format!("cannot build the HTTP client: {e}")))?;
    let mut doctor = Doctor {
        http,
        url,
        client_id: args.endpoint.client_id.clone(),
        secret,
        username,
        password,
        grant: args.grant,
        scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        headers: endpoint::headers(&args.endpoint)?,
        sent: Vec::new(),
        findings: Vec::new(),
        out,
        answered: false,
        vendor: args.vendor,
    };
    out.heading(&format!("tokensmith doctor: {}", display_url(&doctor.url)));
    let style = doctor.authentication().await;
    let mut ok = false;
    let mut token = None;
    match &style {
        Some((style, answer)) => {
            doctor.shape(answer);
            token = doctor.read_with_tokensmith(*style, &args.endpoint).await;
            ok = token.is_some();
        }
        // What tokensmith makes of the refusal: its error names the likely cause.
        None if doctor.answered => {
            doctor
                .read_with_tokensmith(Style::Basic, &args.endpoint)
                .await;
        }
        None => {}
    }
    if let (Some(region), Some(token)) = (&region, &token) {
        ok &= doctor.airvantage(region, &args, token).await;
    }
    doctor.report(style.as_ref().map(|(s, _)| *s), ok, args.curl);
    Ok(if ok { Outcome::Ok } else { Outcome::Refused })
}

impl Doctor<'_> {
    fn find(&mut self, mark: Mark, text: impl Into<String>) {
        let text = text.into();
        self.out.mark(mark, &text);
        self.findings.push((mark, text));
    }

    fn grant_type(&self) -> &'static str {
        match self.grant {
            DoctorGrant::ClientCredentials => "client_credentials",
            DoctorGrant::Password => "password",
        }
    }

    /// The grant's parameters, with the password masked for display.
    fn grant_params(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![("grant_type", self.grant_type().to_owned())];
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            params.push(("username", user.clone()));
            params.push(("password", password.clone()));
        }
        if let Some(scope) = &self.scope {
            params.push(("scope", scope.clone()));
        }
        params
    }

    /// Tries Basic, then the body, then Basic without encoding; returns what worked.
    async fn authentication(&mut self) -> Option<(Style, Answer)> {
        self.out.heading("client authentication");
        let basic = self.post(Style::Basic).await;
        match &basic {
            Answer::Token { .. } => {
                self.find(Mark::Ok, "HTTP Basic (client_secret_basic) is accepted");
                return Some((Style::Basic, basic));
            }
            Answer::Unreachable(why) => {
                self.find(
                    Mark::Fail,
                    format!("the token endpoint cannot be reached: {why}; check the host, port and network"),
                );
                return None;
            }
            Answer::Html { status } => {
                self.find(
                    Mark::Fail,
                    format!(
                        "the URL answers {status} with a web page, not a token endpoint: the path is \
                         wrong, or it is a sign-in page; token endpoints usually end in /token or \
                         /oauth/token"
                    ),
                );
                return None;
            }
            Answer::Other { status: 404, .. } | Answer::OAuthError { status: 404, .. } => {
                self.find(
                    Mark::Fail,
                    "404: nothing is at this URL: the token path is wrong, or the region or base URL \
                     is (a vendor's regions each have their own host)",
                );
                return None;
            }
            Answer::Other { status: 405, .. } | Answer::OAuthError { status: 405, .. } => {
                self.find(Mark::Warn, "POST answered 405 (method not allowed)");
                self.get_only().await;
                return None;
            }
            _ => {}
        }
        self.find(
            Mark::Warn,
            format!(
                "HTTP Basic (client_secret_basic) was refused: {}",
                basic.summary()
            ),
        );
        if !basic.refuses_client() {
            self.explain(&basic);
            return None;
        }
        let body = self.post(Style::Body).await;
        if let Answer::Token { .. } = body {
            self.find(
                Mark::Ok,
                "credentials in the body (client_secret_post) are accepted: use ClientAuth::RequestBody (--auth body)",
            );
            return Some((Style::Body, body));
        }
        self.find(
            Mark::Warn,
            format!(
                "credentials in the body (client_secret_post) were refused: {}",
                body.summary()
            ),
        );
        let special = |s: &str| {
            s.chars()
                .any(|c| !c.is_ascii_alphanumeric() && !"-._~".contains(c))
        };
        if special(&self.client_id) || special(&self.secret) {
            let raw = self.post(Style::BasicUnencoded).await;
            if let Answer::Token { .. } = raw {
                self.find(
                    Mark::Ok,
                    "HTTP Basic works when the id and secret are NOT form-encoded first (the server \
                     does not follow RFC 6749 §2.3.1): use ClientAuth::BasicUnencoded",
                );
                return Some((Style::BasicUnencoded, raw));
            }
        }
        self.find(
            Mark::Fail,
            "no client authentication style was accepted: the client id or secret is most likely \
             wrong, or the client may not use this grant",
        );
        self.explain(&body);
        None
    }

    /// After a 405 to POST: does the endpoint answer GET with query parameters?
    async fn get_only(&mut self) {
        let answer = self.send(Style::Basic, true).await;
        match answer {
            Answer::Token { .. } => self.find(
                Mark::Fail,
                "this endpoint wants GET with the parameters in the query string; RFC 6749 §3.2 \
                 requires POST with a form body, which tokensmith sends: ask the vendor for its POST \
                 endpoint, or check the URL (the same path may accept POST at another host or version)",
            ),
            other => self.find(
                Mark::Fail,
                format!(
                    "GET did not work either ({}): the URL is likely not a token endpoint",
                    other.summary()
                ),
            ),
        }
    }

    /// A line on an OAuth error the server gave.
    fn explain(&mut self, answer: &Answer) {
        let Answer::OAuthError {
            code, description, ..
        } = answer
        else {
            return;
        };
        let description = description.as_deref().unwrap_or("");
        let hint = match code.to_ascii_lowercase().as_str() {
            "invalid_request" if description.to_ascii_lowercase().contains("grant_type") => {
                "the server did not see grant_type: it must be in the form body of a POST \
                 (application/x-www-form-urlencoded), not in a header or the query string"
                    .to_owned()
            }
            "invalid_scope" => "the scope asked for is not allowed: check the scope names the vendor documents (--scope)".into(),
            "unsupported_grant_type" => format!("the server does not offer the {} grant to anyone", self.grant_type()),
            "unauthorized_client" => format!("this client may not use the {} grant", self.grant_type()),
            "invalid_grant" => "the user's credentials (or the grant) were refused".into(),
            _ => return,
        };
        self.find(Mark::Info, hint);
    }

    async fn post(&mut self, style: Style) -> Answer {
        self.send(style, false).await
    }

    /// Sends the grant with the client credentials in `style`, as POST (or GET, query).
    async fn send(&mut self, style: Style, as_get: bool) -> Answer {
        let mut params = self.grant_params();
        let mut placement: Vec<String> = Vec::new();
        let mut curl = format!("curl -sS '{}'", self.url);
        let encode =
            |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
        let basic = match style {
            Style::Basic => Some(format!(
                "{}:{}",
                encode(&self.client_id),
                encode(&self.secret)
            )),
            Style::BasicUnencoded => Some(format!("{}:{}", self.client_id, self.secret)),
            Style::Body => None,
        };
        if let Some(joined) = &basic {
            placement.push("Authorization: Basic (client id and secret) in a header".into());
            let _ = write!(curl, " -u \"{}:${SECRET_VAR}\"", self.client_id);
            if style == Style::Basic && joined.contains('%') {
                curl.push_str("  # form-encode the id and secret before joining them");
            }
        } else {
            params.push(("client_id", self.client_id.clone()));
            params.push(("client_secret", self.secret.clone()));
        }
        let where_ = if as_get { "query" } else { "form body" };
        placement.push(format!(
            "{} in the {where_}",
            params
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        for (name, _) in &self.headers {
            placement.push(format!("{name} header"));
            let _ = write!(curl, " -H '{name}: ...'");
        }
        for (name, value) in &params {
            let shown = match *name {
                "client_secret" => format!("${SECRET_VAR}"),
                "password" => format!("${PASSWORD_VAR}"),
                _ => value.clone(),
            };
            if as_get {
                let _ = write!(curl, " -G --data-urlencode \"{name}={shown}\"");
            } else {
                let _ = write!(curl, " --data-urlencode \"{name}={shown}\"");
            }
        }
        let mut request = if as_get {
            let mut url = self.url.clone();
            url.query_pairs_mut()
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
            self.http.get(url)
        } else {
            let form = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
                .finish();
            self.http
                .post(self.url.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
        };
        request = request.header("accept", "application/json");
        if let Some(joined) = basic {
            request = request.header(
                "authorization",
                format!("Basic {}", STANDARD.encode(joined)),
            );
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let answer = match request.send().await {
            Err(e) => Answer::Unreachable(e.without_url().to_string()),
            Ok(response) => self.classify(response).await,
        };
        if matches!(answer, Answer::OAuthError { .. }) {
            self.answered = true;
        }
        self.sent.push(Sent {
            method: if as_get { "GET" } else { "POST" },
            url: display_url(&self.url),
            placement,
            answer: self.scrub(&answer.summary()),
            curl,
        });
        answer
    }

    /// Masks the secrets in text from the server.
    fn scrub(&self, text: &str) -> String {
        let mut secrets: Vec<&str> = vec![&self.secret];
        secrets.extend(self.password.as_deref());
        tokensmith_core::internal::scrub_excerpt(text.as_bytes(), &secrets)
    }

    async fn classify(&self, response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = match tokensmith_core::internal::read_limited(http_body_of(response), MAX_ANSWER)
            .await
        {
            Ok(body) => body,
            Err(_) => {
                return Answer::Other {
                    status,
                    excerpt: format!("an answer over {MAX_ANSWER} bytes, or cut short"),
                };
            }
        };
        let text = String::from_utf8_lossy(&body);
        let form = content_type.starts_with("application/x-www-form-urlencoded")
            || (!text.trim_start().starts_with('{') && text.contains("access_token="));
        let fields: Option<Map<String, Value>> = if form {
            Some(
                url::form_urlencoded::parse(text.as_bytes())
                    .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                    .collect(),
            )
        } else {
            serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| match v {
                    Value::Object(map) => Some(map),
                    _ => None,
                })
        };
        match fields {
            Some(fields) if fields.contains_key("access_token") => Answer::Token {
                fields,
                form,
                status,
            },
            Some(fields) if fields.contains_key("error") => Answer::OAuthError {
                status,
                code: match &fields["error"] {
                    Value::String(code) => code.clone(),
                    other => other.to_string(),
                },
                description: fields
                    .get("error_description")
                    .and_then(Value::as_str)
                    .map(|d| self.scrub(d)),
            },
            _ if content_type.starts_with("text/html") || text.trim_start().starts_with('<') => {
                Answer::Html { status }
            }
            _ => Answer::Other {
                status,
                excerpt: self.scrub(text.trim()).chars().take(120).collect(),
            },
        }
    }

    /// What the successful answer looks like, and how tokensmith reads it.
    fn shape(&mut self, answer: &Answer) {
        let Answer::Token {
            fields,
            form,
            status,
        } = answer
        else {
            return;
        };
        self.out.heading("the answer");
        if *form {
            self.find(
                Mark::Warn,
                "the token comes as a form (key=value&…), not JSON; tokensmith reads both",
            );
        } else {
            self.find(Mark::Ok, "the token comes as JSON");
        }
        if *status != 200 {
            self.find(
                Mark::Warn,
                format!("the token comes with status {status}, not 200"),
            );
        }
        match fields.get("token_type").and_then(Value::as_str) {
            Some("Bearer") => self.find(Mark::Ok, "token_type is Bearer"),
            Some(kind) if kind.eq_ignore_ascii_case("bearer") => self.find(
                Mark::Info,
                format!("token_type is `{kind}`; tokensmith sends `Authorization: Bearer` as RFC 6750 spells it"),
            ),
            Some(kind) => self.find(Mark::Info, format!("token_type is `{kind}`, sent as the Authorization scheme")),
            None => self.find(Mark::Warn, "no token_type: tokensmith takes it as Bearer"),
        }
        match fields.get("expires_in") {
            Some(Value::Number(n)) => self.find(
                Mark::Ok,
                format!("expires_in {n} s ({})", span(n.as_u64().unwrap_or(0))),
            ),
            Some(Value::String(s)) => self.find(
                Mark::Info,
                format!("expires_in is a string (\"{s}\"); tokensmith reads it as a number"),
            ),
            _ => self.find(
                Mark::Warn,
                "no expires_in: tokensmith keeps the token until an API answers 401; set \
                 CachedBuilder::default_lifetime if the vendor documents one",
            ),
        }
        if fields.contains_key("refresh_token") {
            self.find(Mark::Info, "a refresh token comes too");
        }
    }

    /// Gets a token through tokensmith itself in `style`, and shows what it read.
    async fn read_with_tokensmith(&mut self, style: Style, args: &EndpointArgs) -> Option<String> {
        self.out.heading("tokensmith");
        let mut builder = TokenEndpoint::builder(self.url.as_str())
            .client_id(&self.client_id)
            .client_secret(self.secret.clone())
            .auth(style.client_auth())
            .retry(RetryPolicy::none());
        if args.insecure_http {
            builder = builder.danger_allow_insecure_http();
        }
        for (name, value) in &self.headers {
            builder = builder.header(name.clone(), value.clone());
        }
        if let Some(Vendor::Basic) = self.vendor {
            builder = builder.vendor(tokensmith_basic::Quirks);
        }
        let endpoint = match builder.build() {
            Ok(endpoint) => endpoint,
            Err(e) => {
                self.find(Mark::Fail, e.to_string());
                return None;
            }
        };
        let scopes: Vec<String> = self.scope.iter().cloned().collect();
        let result = match (self.grant, &self.username, &self.password) {
            (DoctorGrant::Password, Some(user), Some(password)) => {
                Password::new(endpoint, user.clone(), password.clone())
                    .scope(&scopes)
                    .build_source()
                    .fetch()
                    .await
            }
            _ => {
                ClientCredentials::new(endpoint)
                    .scope(&scopes)
                    .build_source()
                    .fetch()
                    .await
            }
        };
        self.sent.push(Sent {
            method: "POST",
            url: display_url(&self.url),
            placement: vec![format!(
                "the same request through tokensmith ({})",
                style.name()
            )],
            answer: match &result {
                Ok(_) => "a token".into(),
                Err(e) => self.scrub(&e.to_string()),
            },
            curl: String::new(),
        });
        match result {
            Ok(token) => {
                self.find(
                    Mark::Ok,
                    format!(
                        "tokensmith reads it: {} token, {}, scopes: {}",
                        token.token_type(),
                        token
                            .lifetime()
                            .map_or("no stated lifetime".into(), |l| format!(
                                "valid {}",
                                span(l.as_secs())
                            )),
                        if token.scopes().is_empty() {
                            "(none stated)".into()
                        } else {
                            token.scopes().join(" ")
                        }
                    ),
                );
                self.find(
                    Mark::Info,
                    format!(
                        "configure: TokenEndpoint::builder(\"{}\").auth(ClientAuth::{:?})",
                        display_url(&self.url),
                        style.client_auth()
                    ),
                );
                Some(token.secret().expose_secret().to_owned())
            }
            Err(error) => {
                self.find(Mark::Fail, format!("tokensmith could not use it: {error}"));
                None
            }
        }
    }

    /// AirVantage: is a token from this region accepted by the API of the region it is for?
    async fn airvantage(&mut self, region: &Region, args: &DoctorArgs, token: &str) -> bool {
        let Some(path) = &args.api_path else {
            return true;
        };
        self.out.heading("AirVantage region");
        let api_region = match &args.api_region {
            Some(text) => match text.parse::<Region>() {
                Ok(region) => region,
                Err(e) => {
                    self.find(Mark::Fail, e.to_string());
                    return false;
                }
            },
            None => region.clone(),
        };
        let answer = self.call_api(&api_region, path, token).await;
        match answer {
            Some((200, _)) => {
                self.find(
                    Mark::Ok,
                    format!("the {api_region} API accepts a token from {region}"),
                );
                true
            }
            Some((_, code)) if code == "context.unknown" => {
                self.find(
                    Mark::Fail,
                    format!(
                        "the {api_region} API does not know a token from {region} (`context.unknown`): \
                         AirVantage accounts live in one region, and its tokens work there only"
                    ),
                );
                if &api_region != region {
                    self.other_region(&api_region, path).await;
                }
                false
            }
            Some((status, code)) => {
                self.find(Mark::Fail, format!("the API answered {status} `{code}`"));
                false
            }
            None => false,
        }
    }

    /// Whether the credentials work in `region`, which names the region to use.
    async fn other_region(&mut self, region: &Region, path: &str) {
        let Ok(url) = region
            .base_url()
            .join(TOKEN_PATH)
            .map(|u| Url::parse(u.as_str()))
        else {
            return;
        };
        let Ok(url) = url else { return };
        let saved = std::mem::replace(&mut self.url, url);
        let answer = self.post(Style::Basic).await;
        let other = match &answer {
            Answer::Token { fields, .. } => fields
                .get("access_token")
                .and_then(Value::as_str)
                .map(str::to_owned),
            _ => None,
        };
        self.url = saved;
        if let Some(token) = other
            && let Some((200, _)) = self.call_api(region, path, &token).await
        {
            self.find(
                Mark::Info,
                format!("these credentials work in {region}: use --region {region} (Region::{region:?}) for both the token and the API"),
            );
        }
    }

    async fn call_api(
        &mut self,
        region: &Region,
        path: &str,
        token: &str,
    ) -> Option<(u16, String)> {
        let url = region.base_url().join(path.trim_start_matches('/')).ok()?;
        let url = Url::parse(url.as_str()).ok()?;
        let answer = self.http.get(url.clone()).bearer_auth(token).send().await;
        let (status, code) = match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap_or_default();
                let code = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                    .unwrap_or_default();
                (status, code)
            }
            Err(e) => {
                self.find(
                    Mark::Fail,
                    format!("the API cannot be reached: {}", e.without_url()),
                );
                return None;
            }
        };
        self.sent.push(Sent {
            method: "GET",
            url: display_url(&url),
            placement: vec!["Authorization: Bearer (the token) in a header".into()],
            answer: format!("{status} {code}").trim_end().to_owned(),
            curl: format!(
                "curl -sS -H \"Authorization: Bearer $TOKEN\" '{}'",
                display_url(&url)
            ),
        });
        Some((status, code))
    }

    fn report(&self, style: Option<Style>, ok: bool, curl: bool) {
        let out = self.out;
        out.heading("requests sent");
        for (n, sent) in self.sent.iter().enumerate() {
            out.line(&format!("  {}. {} {}", n + 1, sent.method, sent.url));
            for place in &sent.placement {
                out.line(&format!("       {place}"));
            }
            out.line(&format!("       -> {}", sent.answer));
            if curl && !sent.curl.is_empty() {
                out.line(&format!("       $ {}", sent.curl));
            }
        }
        out.line(if ok {
            "\nverdict: tokensmith can get tokens from this endpoint"
        } else {
            "\nverdict: not working yet; see the failures above"
        });
        out.document(&json!({
            "ok": ok,
            "endpoint": display_url(&self.url),
            "client_authentication": style.map(Style::name),
            "requests": self.sent.iter().map(|s| json!({
                "method": s.method,
                "url": s.url,
                "placement": s.placement,
                "answer": s.answer,
                "curl": (!s.curl.is_empty()).then_some(&s.curl),
            })).collect::<Vec<_>>(),
            "findings": self.findings.iter().map(|(mark, text)| json!({"level": mark.name(), "message": text})).collect::<Vec<_>>(),
        }));
    }
}

/// The body of a reqwest answer as an `http_body::Body`.
fn http_body_of(response: reqwest::Response) -> reqwest::Body {
    http::Response::from(response).into_body()
}
