//! The doctor against a corpus of real failures: each scenario is a small simulator of what a
//! public report describes (the `source` names the report, vendor document or RFC), and the
//! verdict the doctor must reach. Every scenario also runs the canary sweep: neither the
//! secret, the API key nor a token appears in any output format (text, `--curl`, `--json`,
//! standard error), and no raw control character reaches the terminal.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use support::{LIMIT, Run, finish};

const CLIENT_ID: &str = "doctor-client";
const SECRET: &str = "canary-S3cret-7f1d";
/// A secret with characters that form encoding changes.
const ODD_SECRET: &str = "canary+S3cret/7f1d=";
const API_KEY: &str = "canary-ApiKey-b8e2";
const TOKEN: &str = "canary-Token-4c6a";
const PASSWORD: &str = "canary-Passw0rd-33";

/// A request as the simulator saw it.
struct Req {
    method: String,
    path: String,
    headers: HeaderMap,
    /// Parameters from the form body, a JSON body or the query, by where they came.
    form: HashMap<String, String>,
    json: HashMap<String, String>,
    query: HashMap<String, String>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The Basic credentials, form-decoded as RFC 6749 §2.3.1 says.
    fn basic(&self) -> Option<(String, String)> {
        let raw = self.basic_raw()?;
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("v={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Some((decode(&raw.0), decode(&raw.1)))
    }

    /// The Basic credentials as they are, without form-decoding.
    fn basic_raw(&self) -> Option<(String, String)> {
        let value = self.header("authorization")?.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(value).ok()?).ok()?;
        let (id, secret) = decoded.split_once(':')?;
        Some((id.to_owned(), secret.to_owned()))
    }

    fn body_credentials(&self) -> Option<(String, String)> {
        Some((
            self.form.get("client_id")?.clone(),
            self.form.get("client_secret")?.clone(),
        ))
    }

    fn basic_is(&self, secret: &str) -> bool {
        self.basic() == Some((CLIENT_ID.into(), secret.into()))
    }

    fn grant_in_form(&self) -> bool {
        self.method == "POST" && self.form.contains_key("grant_type")
    }
}

/// The simulator's answer.
struct Resp {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

fn answer(status: u16, body: Value) -> Resp {
    Resp {
        status,
        headers: vec![("content-type", "application/json".into())],
        body: body.to_string(),
        delay: Duration::ZERO,
    }
}

fn raw(status: u16, content_type: &str, body: &str) -> Resp {
    Resp {
        status,
        headers: vec![("content-type", content_type.into())],
        body: body.into(),
        delay: Duration::ZERO,
    }
}

fn token() -> Resp {
    answer(
        200,
        json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600}),
    )
}

fn oauth(status: u16, code: &str, description: &str) -> Resp {
    answer(
        status,
        json!({"error": code, "error_description": description}),
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn jwt(claims: Value) -> String {
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2lnbmF0dXJl",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

type Handler = Arc<dyn Fn(&Req) -> Resp + Send + Sync>;

/// A scenario: its name, where the failure was reported, the simulator, extra arguments, and
/// the verdict (and exit code) the doctor must give.
struct Scenario {
    name: &'static str,
    source: &'static str,
    handler: Handler,
    args: Vec<String>,
    secret: &'static str,
    env: Vec<(&'static str, &'static str)>,
    expect: &'static str,
    exit: i32,
}

fn scenario(
    name: &'static str,
    source: &'static str,
    expect: &'static str,
    handler: impl Fn(&Req) -> Resp + Send + Sync + 'static,
) -> Scenario {
    let exit = if matches!(expect, "ok" | "client_auth_style") {
        0
    } else {
        1
    };
    Scenario {
        name,
        source,
        handler: Arc::new(handler),
        args: Vec::new(),
        secret: SECRET,
        env: Vec::new(),
        expect,
        exit,
    }
}

impl Scenario {
    fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|a| (*a).to_owned()));
        self
    }
}

/// Starts a simulator on 127.0.0.1; it runs until the runtime ends.
async fn serve(handler: Handler) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |request: Request<Body>| {
        let handler = Arc::clone(&handler);
        async move {
            let (parts, body) = request.into_parts();
            let bytes = to_bytes(body, 64 * 1024).await.unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let content_type = parts
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let pairs = |text: &str| -> HashMap<String, String> {
                url::form_urlencoded::parse(text.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            };
            let form = if content_type.starts_with("application/x-www-form-urlencoded") {
                pairs(&text)
            } else {
                HashMap::new()
            };
            let json = match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) if content_type.starts_with("application/json") => map
                    .into_iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
                    .collect(),
                _ => HashMap::new(),
            };
            let req = Req {
                method: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                query: pairs(parts.uri.query().unwrap_or("")),
                headers: parts.headers,
                form,
                json,
            };
            let resp = handler(&req);
            if !resp.delay.is_zero() {
                tokio::time::sleep(resp.delay).await;
            }
            let mut builder =
                Response::builder().status(StatusCode::from_u16(resp.status).unwrap());
            for (name, value) in resp.headers {
                builder = builder.header(name, value);
            }
            builder.body(Body::from(resp.body)).unwrap()
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// Runs the binary, stopped by its id if it overruns.
fn run(args: &[String], secret: &str, env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokensmith"));
    command
        .args(args)
        .env_remove("TOKENSMITH_CLIENT_SECRET")
        .env_remove("TOKENSMITH_PASSWORD")
        .env("TOKENSMITH_CLIENT_SECRET", secret)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    finish(command.spawn().unwrap())
}

/// Everything a scenario must never print, in the forms a server may echo it.
fn canaries(secret: &str) -> Vec<String> {
    let form = |s: &str| -> String { url::form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let mut all = vec![
        secret.to_owned(),
        API_KEY.to_owned(),
        TOKEN.to_owned(),
        PASSWORD.to_owned(),
        form(secret),
        STANDARD.encode(format!("{CLIENT_ID}:{}", form(secret))),
        STANDARD.encode(format!("{CLIENT_ID}:{secret}")),
    ];
    all.dedup();
    all
}

fn corpus() -> Vec<Scenario> {
    let standard = |req: &Req| req.grant_in_form() && req.basic_is(SECRET);
    vec![
        scenario("standard", "RFC 6749 §4.4 and §2.3.1", "ok", move |req| {
            if standard(req) { token() } else { oauth(401, "invalid_client", "") }
        }),
        scenario(
            "body credentials only",
            "DuendeArchive/IdentityServer4#2086: Basic refused, the same secret in the body works",
            "client_auth_style",
            |req| match req.body_credentials() {
                Some((id, secret)) if id == CLIENT_ID && secret == SECRET => token(),
                _ => oauth(401, "invalid_client", "Client authentication failed"),
            },
        ),
        Scenario {
            secret: ODD_SECRET,
            ..scenario(
                "Basic without form-encoding",
                "panva/openid-client#134, authlib/authlib#628: servers that do not form-decode Basic credentials",
                "client_auth_style",
                |req| {
                    if req.basic_raw() == Some((CLIENT_ID.into(), ODD_SECRET.into())) {
                        token()
                    } else {
                        oauth(401, "invalid_client", "Client authentication failed")
                    }
                },
            )
        },
        scenario(
            "wrong secret",
            "RFC 6749 §5.2 invalid_client; thephpleague/oauth2-server#1305",
            "invalid_client",
            |_| oauth(401, "invalid_client", "Client authentication failed"),
        ),
        scenario(
            "scope not allowed",
            "DuendeArchive/IdentityServer4#4508: client credentials, invalid_scope",
            "invalid_scope",
            move |req| {
                if standard(req) { oauth(400, "invalid_scope", "") } else { oauth(401, "invalid_client", "") }
            },
        )
        .args(&["--scope", "admin"]),
        scenario(
            "scope required",
            "DuendeArchive/IdentityServer4#3306: a scope is mandatory",
            "invalid_scope",
            move |req| {
                if standard(req) {
                    oauth(400, "invalid_request", "scope is required")
                } else {
                    oauth(401, "invalid_client", "")
                }
            },
        ),
        scenario(
            "gateway 403 without an API key",
            "AWS API Gateway API keys: 403 {\"message\":\"Forbidden\"} without x-api-key",
            "api_key",
            |_| answer(403, json!({"message": "Forbidden"})),
        ),
        scenario(
            "missing subscription key",
            "Azure API Management: 401 \"Access denied due to missing subscription key\" (tech-findings.com)",
            "api_key",
            |_| {
                answer(
                    401,
                    json!({"statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API."}),
                )
            },
        ),
        scenario(
            "Kong key-auth",
            "Kong/kong#3742: {\"message\":\"No API key found in request\"}",
            "api_key",
            |_| answer(401, json!({"message": "No API key found in request"})),
        ),
        Scenario {
            env: vec![("DOCTOR_API_KEY", "canary-ApiKey-b8e2")],
            ..scenario(
                "wrong API key, echoed",
                "Avionté (DESIGN.md): x-api-key on the token request; a gateway that echoes the key",
                "api_key",
                |req| {
                    let key = req.header("x-api-key").unwrap_or("");
                    answer(403, json!({"message": format!("Invalid API key {key}")}))
                },
            )
            .args(&["--header", "x-api-key:env:DOCTOR_API_KEY"])
        },
        scenario(
            "AWS route that does not exist",
            "stackery/php-lambda-layer#31: {\"message\":\"Missing Authentication Token\"} for a wrong path",
            "wrong_path",
            |_| answer(403, json!({"message": "Missing Authentication Token"})),
        ),
        scenario(
            "GET only, POST 405",
            "spring-attic/spring-authorization-server#1954; mitreid-connect#1118: token endpoints that take GET",
            "wants_get",
            |req| {
                if req.method == "GET" && req.query.contains_key("grant_type") && req.basic_is(SECRET) {
                    token()
                } else {
                    raw(405, "text/plain", "Method Not Allowed")
                }
            },
        ),
        scenario(
            "GET only, POST answered as missing grant_type",
            "spring-attic/spring-security-oauth#563: parameters read from the query only, \"Missing grant type\"",
            "wants_get",
            |req| {
                if req.query.contains_key("grant_type") && req.basic_is(SECRET) {
                    token()
                } else {
                    oauth(400, "invalid_request", "Missing grant type")
                }
            },
        ),
        scenario(
            "JSON body only",
            "PostHog/posthog#40209: token endpoints that read JSON bodies",
            "wants_json",
            |req| {
                if req.json.contains_key("grant_type") && req.basic_is(SECRET) {
                    token()
                } else {
                    oauth(400, "invalid_request", "grant_type is required")
                }
            },
        ),
        scenario(
            "body never read",
            "spring-attic/spring-security-oauth#490: \"Missing grant type\" with the parameters in the body",
            "body_not_read",
            |_| oauth(400, "invalid_request", "Missing grant type"),
        ),
        scenario(
            "Invalid_request: Invalid grant_type",
            "DESIGN.md (Deyel): {\"error\":\"Invalid_request\",\"error_description\":\"Invalid grant_type\"}",
            "unsupported_grant_type",
            |_| oauth(400, "Invalid_request", "Invalid grant_type"),
        ),
        scenario(
            "Invalid_request: Invalid client_id",
            "DESIGN.md (Deyel): {\"error\":\"Invalid_request\",\"error_description\":\"Invalid client_id\"}",
            "invalid_client",
            |_| oauth(400, "Invalid_request", "Invalid client_id"),
        ),
        scenario(
            "grant not enabled for the client",
            "RFC 6749 §5.2 unauthorized_client; DuendeArchive/IdentityServer4#4075",
            "unauthorized_client",
            move |req| {
                if standard(req) { oauth(400, "unauthorized_client", "") } else { oauth(401, "invalid_client", "") }
            },
        ),
        scenario(
            "grant not offered",
            "frol/flask-restplus-server-example#95: {\"error\":\"unsupported_grant_type\"}",
            "unsupported_grant_type",
            |_| answer(400, json!({"error": "unsupported_grant_type"})),
        ),
        scenario(
            "wrong path",
            "malike/sso-auth#7: a token URL that is not there",
            "wrong_path",
            |_| raw(404, "text/plain", ""),
        ),
        scenario(
            "sign-in page",
            "the authorization endpoint given as the token endpoint (RFC 6749 §3.1 vs §3.2)",
            "html_page",
            |_| raw(200, "text/html", "<html><body><form action=\"/login\">Sign in</form></body></html>"),
        ),
        scenario(
            "502 gateway page",
            "issue: a 502 gateway page was called a wrong path",
            "server_error",
            |_| raw(502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"),
        ),
        scenario(
            "503 temporarily unavailable",
            "RFC 6749 §5.2 (temporarily_unavailable), with Retry-After",
            "server_error",
            |_| {
                let mut resp = oauth(503, "temporarily_unavailable", "maintenance");
                resp.headers.push(("retry-after", "120".into()));
                resp
            },
        ),
        scenario(
            "rate limited",
            "DESIGN.md: vendors rate-limit token issuance (429 with Retry-After)",
            "rate_limited",
            |_| {
                let mut resp = answer(429, json!({"message": "Too Many Requests"}));
                resp.headers.push(("retry-after", "30".into()));
                resp
            },
        ),
        scenario(
            "redirect",
            "a token endpoint that redirects (http to https, or a moved path)",
            "redirect",
            |_| {
                let mut resp = raw(301, "text/plain", "");
                resp.headers.push(("location", "https://auth.example/oauth2/token?x=1".into()));
                resp
            },
        ),
        scenario("timeout", "a firewall that drops packets", "timeout", |_| {
            let mut resp = token();
            resp.delay = Duration::from_secs(5);
            resp
        })
        .args(&["--timeout", "1"]),
        scenario(
            "wrong password",
            "Keycloak: invalid_grant \"Invalid user credentials\"",
            "invalid_grant",
            move |req| {
                if !req.basic_is(SECRET) {
                    oauth(401, "invalid_client", "")
                } else if req.form.get("password").map(String::as_str) == Some("right") {
                    token()
                } else {
                    oauth(400, "invalid_grant", "Invalid user credentials")
                }
            },
        )
        .args(&["--grant", "password", "--username", "alice"]),
        scenario(
            "token expired on arrival",
            "wso2/product-is#2004 (time skew in issuing); RFC 7519 §4.1.4",
            "token_expired",
            |req| {
                if !req.basic_is(SECRET) {
                    return oauth(401, "invalid_client", "");
                }
                let now = now();
                let access = jwt(json!({"iat": now - 7200, "exp": now - 3600}));
                let mut resp = answer(200, json!({"access_token": access, "token_type": "Bearer"}));
                resp.headers.push(("date", httpdate::fmt_http_date(SystemTime::now())));
                resp
            },
        ),
        scenario(
            "iat in the future",
            "DuendeArchive/identity-model-oidc-client-js#1254: \"iat is in the future\"",
            "clock_skew",
            |req| {
                if !req.basic_is(SECRET) {
                    return oauth(401, "invalid_client", "");
                }
                let ahead = now() + 900;
                let access = jwt(json!({"iat": ahead, "exp": ahead + 3600}));
                let mut resp = answer(
                    200,
                    json!({"access_token": access, "token_type": "Bearer", "expires_in": 3600}),
                );
                resp.headers.push((
                    "date",
                    httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(900)),
                ));
                resp
            },
        ),
        scenario(
            "API refuses the audience",
            "RFC 6750 §3.1 invalid_token; Entra ID IDX10214 audience validation failed",
            "api_refused_token",
            move |req| {
                if req.path == "/api" {
                    let mut resp = answer(401, json!({"error": "invalid_token"}));
                    resp.headers.push((
                        "www-authenticate",
                        r#"Bearer error="invalid_token", error_description="IDX10214: Audience validation failed""#.into(),
                    ));
                    resp
                } else if standard(req) {
                    token()
                } else {
                    oauth(401, "invalid_client", "")
                }
            },
        ),
        scenario(
            "API wants another scope",
            "RFC 6750 §3.1 insufficient_scope",
            "api_refused_token",
            move |req| {
                if req.path == "/api" {
                    let mut resp = raw(403, "text/plain", "");
                    resp.headers.push((
                        "www-authenticate",
                        r#"Bearer error="insufficient_scope", scope="reports.read""#.into(),
                    ));
                    resp
                } else if standard(req) {
                    token()
                } else {
                    oauth(401, "invalid_client", "")
                }
            },
        ),
        scenario(
            "secret echoed in the error",
            "issue: a client secret echoed in the server's `error` field was printed",
            "invalid_client",
            |req| {
                let basic = req.header("authorization").unwrap_or("").to_owned();
                let secret = req
                    .basic()
                    .map(|(_, s)| s)
                    .or_else(|| req.body_credentials().map(|(_, s)| s))
                    .unwrap_or_default();
                answer(
                    401,
                    json!({
                        "error": secret,
                        "error_description": format!("bad credentials {basic} {}", url::form_urlencoded::byte_serialize(secret.as_bytes()).collect::<String>()),
                    }),
                )
            },
        ),
        scenario(
            "Spring Boot error body",
            "nydiarra/springboot-jwt#15: {\"status\":401,\"error\":\"Unauthorized\",\"message\":…}",
            "invalid_client",
            |_| {
                answer(
                    401,
                    json!({"timestamp": 1540592259710u64, "status": 401, "error": "Unauthorized", "message": "Bad credentials", "path": "/oauth/token"}),
                )
            },
        ),
        scenario(
            "Slack-style error",
            "Slack oauth.v2.access: 200 {\"ok\":false,\"error\":\"invalid_client_id\"}",
            "invalid_client",
            |_| answer(200, json!({"ok": false, "error": "invalid_client_id"})),
        ),
        scenario(
            "Keycloak, wrong secret",
            "Keycloak: 401 unauthorized_client \"Invalid client or Invalid client credentials\"",
            "invalid_client",
            |_| oauth(401, "unauthorized_client", "Invalid client or Invalid client credentials"),
        ),
        scenario(
            "Auth0, wrong secret",
            "Auth0: 401 access_denied \"Unauthorized\" for client credentials it does not accept",
            "invalid_client",
            |_| oauth(401, "access_denied", "Unauthorized"),
        ),
        scenario(
            "Auth0, no audience",
            "Auth0: 403 access_denied \"No audience parameter was provided, and no default audience has been configured\"",
            "audience",
            move |req| {
                if standard(req) {
                    oauth(
                        403,
                        "access_denied",
                        "No audience parameter was provided, and no default audience has been configured",
                    )
                } else {
                    oauth(401, "access_denied", "Unauthorized")
                }
            },
        ),
        scenario(
            "Entra ID, unknown application",
            "Microsoft Entra ID: AADSTS700016 \"Application with identifier was not found in the directory\"",
            "invalid_client",
            |_| {
                oauth(
                    400,
                    "unauthorized_client",
                    "AADSTS700016: Application with identifier 'doctor-client' was not found in the directory 'contoso'.",
                )
            },
        ),
        scenario(
            "Okta error shape",
            "Okta: {\"errorCode\":\"invalid_client\",\"errorSummary\":\"Invalid value for 'client_id' parameter.\"}",
            "invalid_client",
            |_| {
                answer(
                    401,
                    json!({"errorCode": "invalid_client", "errorSummary": "Invalid value for 'client_id' parameter.", "errorId": "oaeX"}),
                )
            },
        ),
        scenario(
            "form-encoded token",
            "GitHub OAuth: form-encoded answers unless asked for JSON",
            "ok",
            move |req| {
                if standard(req) {
                    raw(
                        200,
                        "application/x-www-form-urlencoded",
                        &format!("access_token={TOKEN}&token_type=bearer&scope=repo"),
                    )
                } else {
                    raw(200, "application/x-www-form-urlencoded", "error=incorrect_client_credentials")
                }
            },
        ),
        scenario(
            "control characters in the answer",
            "issue: server text printed with its escape sequences",
            "invalid_client",
            |_| oauth(401, "invalid_client", "\u{1b}[2J\u{1b}[31mcleared\r\u{7}\u{9b}31m"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_gets_its_verdict_and_prints_no_secret() {
    let mut failures = Vec::new();
    let scenarios = corpus();
    assert!(scenarios.len() >= 30, "{} scenarios", scenarios.len());
    for scenario in scenarios {
        let addr = serve(Arc::clone(&scenario.handler)).await;
        let mut args: Vec<String> = [
            "doctor",
            "--token-url",
            &format!("http://{addr}/token"),
            "--client-id",
            CLIENT_ID,
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        args.extend(scenario.args.iter().cloned());
        if matches!(
            scenario.name,
            "API refuses the audience" | "API wants another scope"
        ) {
            args.extend(["--api-url".to_owned(), format!("http://{addr}/api")]);
        }
        let mut env = scenario.env.clone();
        env.push(("TOKENSMITH_PASSWORD", PASSWORD));
        let json_args: Vec<String> = args.iter().cloned().chain(["--json".to_owned()]).collect();
        let text_args: Vec<String> = args.iter().cloned().chain(["--curl".to_owned()]).collect();
        let (secret, json_args2, text_args2, env2) = (
            scenario.secret,
            json_args.clone(),
            text_args.clone(),
            env.clone(),
        );
        let (json_run, text_run) = tokio::task::spawn_blocking(move || {
            (
                run(&json_args2, secret, &env2),
                run(&text_args2, secret, &env2),
            )
        })
        .await
        .unwrap();
        // The transcripts (`--nocapture` shows them; the README quotes three).
        println!(
            "## {} ({})\n$ tokensmith {}\n{}",
            scenario.name,
            scenario.source,
            text_args.join(" "),
            text_run.stdout
        );
        let verdict = serde_json::from_str::<Value>(&json_run.stdout)
            .ok()
            .and_then(|v| v["verdict"]["code"].as_str().map(str::to_owned))
            .unwrap_or_else(|| format!("(no JSON: {})", json_run.stdout));
        if verdict != scenario.expect {
            failures.push(format!(
                "{}: verdict {verdict}, wanted {} ({})\n{}",
                scenario.name, scenario.expect, scenario.source, text_run.stdout
            ));
        }
        if json_run.code != scenario.exit || text_run.code != scenario.exit {
            failures.push(format!(
                "{}: exit {} / {}, wanted {}\n{}{}",
                scenario.name,
                json_run.code,
                text_run.code,
                scenario.exit,
                text_run.stdout,
                text_run.stderr
            ));
        }
        for output in [
            &json_run.stdout,
            &json_run.stderr,
            &text_run.stdout,
            &text_run.stderr,
        ] {
            for canary in canaries(scenario.secret) {
                if output.contains(&canary) {
                    failures.push(format!(
                        "{}: printed a secret ({canary}):\n{output}",
                        scenario.name
                    ));
                }
            }
            if let Some(c) = output
                .chars()
                .find(|c| c.is_control() && !matches!(c, '\n' | '\t'))
            {
                failures.push(format!(
                    "{}: a raw control character {:?} in the output:\n{output}",
                    scenario.name, c
                ));
            }
        }
        // Every verdict is one line in the text output, with its code.
        if !text_run
            .stdout
            .lines()
            .any(|l| l.contains(&format!("verdict [{}]", scenario.expect)))
            && verdict == scenario.expect
        {
            failures.push(format!(
                "{}: no verdict line:\n{}",
                scenario.name, text_run.stdout
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_failures_get_their_own_verdicts() {
    // A port nothing listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    // TLS to a port that speaks plain HTTP.
    let plain = serve(Arc::new(|_: &Req| token())).await;
    for (url, expect) in [
        (format!("http://{closed}/token"), "unreachable"),
        (format!("https://{plain}/token"), "tls"),
    ] {
        let args: Vec<String> = [
            "doctor",
            "--token-url",
            &url,
            "--client-id",
            CLIENT_ID,
            "--json",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
        let run = tokio::task::spawn_blocking(move || run(&args, SECRET, &[]))
            .await
            .unwrap();
        let json: Value =
            serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
        assert_eq!(json["verdict"]["code"], expect, "{}", run.stdout);
        assert_eq!(run.code, 1);
        assert_eq!(json["schema"], "tokensmith-doctor/1");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_values_never_come_from_the_command_line() {
    let args: Vec<String> = [
        "doctor",
        "--token-url",
        "http://127.0.0.1:9/token",
        "--client-id",
        CLIENT_ID,
        "--header",
        &format!("x-api-key:{API_KEY}"),
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let run = tokio::task::spawn_blocking(move || run(&args, SECRET, &[]))
        .await
        .unwrap();
    assert_eq!(run.code, 2, "a usage error: {}", run.stderr);
    assert!(run.stderr.contains("env:VAR"), "{}", run.stderr);
    assert!(!run.stderr.contains(API_KEY) && !run.stdout.contains(API_KEY));
}

/// The code grant's `invalid_grant` reports: `tokensmith token` names the cause the doctor
/// knows (a redirect URI that differs between the two requests, a code used twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_code_grant_names_a_redirect_uri_mismatch_and_a_used_code() {
    use std::io::BufRead;
    for (description, expect, source) in [
        (
            "redirect_uri does not match the original request",
            "redirect_uri_mismatch",
            "getsentry/sentry-mcp#586, allegro/allegro-api#8285: Redirect URI mismatch",
        ),
        (
            "Unknown, expired, or already used code",
            "code_reused_or_expired",
            "zaproxy/zap-extensions#7681, lelylan/simple-oauth2#144: invalid authorization code",
        ),
    ] {
        let handler: Handler = Arc::new(move |req: &Req| {
            if req.path == "/authorize" {
                let redirect = req.query.get("redirect_uri").cloned().unwrap_or_default();
                let state = req.query.get("state").cloned().unwrap_or_default();
                let mut resp = raw(302, "text/plain", "");
                resp.headers
                    .push(("location", format!("{redirect}?code=abc&state={state}")));
                resp
            } else {
                oauth(400, "invalid_grant", description)
            }
        });
        let addr = serve(handler).await;
        let mut child = Command::new(env!("CARGO_BIN_EXE_tokensmith"))
            .args([
                "token",
                "--token-url",
                &format!("http://{addr}/token"),
                "--authorize-url",
                &format!("http://{addr}/authorize"),
                "--client-id",
                "native-app",
                "--auth",
                "none",
                "--grant",
                "code",
                "--no-browser",
            ])
            .env_remove("TOKENSMITH_CLIENT_SECRET")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (found, wait) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(url) = line.strip_prefix("sign in at: ") {
                    let _ = found.send(url.to_owned());
                }
            }
        });
        let sign_in = wait.recv_timeout(LIMIT).expect("the sign-in URL");
        let _ = reqwest::get(&sign_in).await;
        let run = tokio::task::spawn_blocking(move || finish(child))
            .await
            .unwrap();
        let text = run.stdout;
        assert_eq!(run.code, 1, "{text}");
        assert!(
            text.contains(&format!("verdict [{expect}]")),
            "{source}: {text}"
        );
    }
}

/// Output safety beyond the doctor: `token` (text and JSON) against a server that echoes the
/// secret with escape sequences, `discover` against metadata laced with control characters,
/// and `decode` of a token whose claims carry them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_masks_secrets_and_escapes_control_characters() {
    let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J\r\u{9b}1m\u{202e}";
    let addr = serve(Arc::new(move |req: &Req| {
        if req.path.starts_with("/.well-known/") {
            let issuer = format!("http://{}", req.header("host").unwrap_or("127.0.0.1"));
            return answer(
                200,
                json!({
                    "issuer": issuer,
                    "token_endpoint": format!("{issuer}/token"),
                    "grant_types_supported": [format!("client_credentials{hostile}")],
                    "scopes_supported": [hostile],
                }),
            );
        }
        let secret = req.basic().map(|(_, s)| s).unwrap_or_default();
        oauth(
            401,
            &format!("invalid_client{hostile}"),
            &format!(
                "secret {secret} is wrong{hostile} {}",
                req.header("x-api-key").unwrap_or("")
            ),
        )
    }))
    .await;
    let payload = URL_SAFE_NO_PAD.encode(json!({"sub": hostile, "exp": now() + 60}).to_string());
    let token = format!("eyJhbGciOiJub25lIn0.{payload}.");
    let base = format!("http://{addr}");
    let runs: Vec<Vec<String>> = vec![
        vec![
            "token",
            "--token-url",
            &format!("{base}/token"),
            "--client-id",
            CLIENT_ID,
            "--header",
            "x-api-key:env:DOCTOR_API_KEY",
        ],
        vec![
            "token",
            "--token-url",
            &format!("{base}/token"),
            "--client-id",
            CLIENT_ID,
            "--json",
            "--header",
            "x-api-key:env:DOCTOR_API_KEY",
        ],
        vec!["discover", &base],
        vec!["discover", &base, "--json"],
        vec!["decode", &token],
        vec!["decode", &token, "--json"],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(str::to_owned).collect())
    .collect();
    for args in runs {
        let shown = args.join(" ");
        let run =
            tokio::task::spawn_blocking(move || run(&args, SECRET, &[("DOCTOR_API_KEY", API_KEY)]))
                .await
                .unwrap();
        for output in [&run.stdout, &run.stderr] {
            for canary in canaries(SECRET) {
                assert!(
                    !output.contains(&canary),
                    "{shown}: printed {canary}:\n{output}"
                );
            }
            assert!(
                !output
                    .chars()
                    .any(|c| (c.is_control() && !matches!(c, '\n' | '\t')) || c == '\u{202e}'),
                "{shown}: a raw control character:\n{output:?}"
            );
        }
    }
}

/// `tokensmith token --grant workload`: what was read (masked) and what it was traded for,
/// with a token file, with the Azure preset's variables, and with an expired file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workload_grant_shows_what_it_read_and_never_the_token() {
    let platform = jwt(json!({
        "iss": "https://oidc.platform.test",
        "sub": "system:serviceaccount:prod:reports",
        "aud": "api://AzureADTokenExchange",
        "exp": now() + 600,
        "jti": "canary-platform-jti",
    }));
    let expected = platform.clone();
    let addr = serve(Arc::new(move |req: &Req| {
        let form = &req.form;
        let path_ok = req.path == "/token" || req.path == "/contoso/oauth2/v2.0/token";
        if path_ok
            && form.get("client_assertion") == Some(&expected)
            && form.get("client_assertion_type").map(String::as_str)
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            && req.header("authorization").is_none()
        {
            token()
        } else {
            oauth(401, "invalid_client", "no federated credential matches")
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, &platform).unwrap();
    let file_arg = format!("file:{}", file.display());
    let base = format!("http://{addr}");
    let token_url = format!("{base}/token");
    let plain: Vec<String> = [
        "token",
        "--grant",
        "workload",
        "--identity-token",
        &file_arg,
        "--token-url",
        &token_url,
        "--client-id",
        "reports",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let mut json_args = plain.clone();
    json_args.push("--json".into());
    let authority = format!("{base}/");
    let file_text = file.display().to_string();
    let azure: Vec<String> = [
        "token",
        "--grant",
        "workload",
        "--preset",
        "azure",
        "--client-id",
        "ignored",
        "--scope",
        "https://graph.microsoft.com/.default",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let (text, json_run, azure_run) = tokio::task::spawn_blocking(move || {
        let env = [
            ("AZURE_FEDERATED_TOKEN_FILE", file_text.as_str()),
            ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001"),
            ("AZURE_TENANT_ID", "contoso"),
            ("AZURE_AUTHORITY_HOST", authority.as_str()),
        ];
        (
            run(&plain, SECRET, &[]),
            run(&json_args, SECRET, &[]),
            run(&azure, SECRET, &env),
        )
    })
    .await
    .unwrap();
    for (name, run) in [("text", &text), ("json", &json_run), ("azure", &azure_run)] {
        assert_eq!(run.code, 0, "{name}: {}{}", run.stdout, run.stderr);
        for output in [&run.stdout, &run.stderr] {
            assert!(
                !output.contains(&platform),
                "{name}: the platform token printed:\n{output}"
            );
            assert!(
                !output.contains(TOKEN),
                "{name}: the access token printed:\n{output}"
            );
        }
    }
    assert!(
        text.stdout.contains("system:serviceaccount:prod:reports"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains(&format!("the file {}", file.display())),
        "{}",
        text.stdout
    );
    let json = json_run.json();
    assert_eq!(json["ok"], true);
    assert_eq!(
        json["platform_token"]["subject"],
        "system:serviceaccount:prod:reports"
    );

    // An expired token file: no request, the file named, exit 1.
    std::fs::write(
        &file,
        jwt(json!({"sub": "system:serviceaccount:prod:reports", "exp": now() - 60})),
    )
    .unwrap();
    let args: Vec<String> = [
        "token",
        "--grant",
        "workload",
        "--identity-token",
        &file_arg,
        "--token-url",
        &token_url,
        "--client-id",
        "reports",
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    let expired = tokio::task::spawn_blocking(move || run(&args, SECRET, &[]))
        .await
        .unwrap();
    assert_eq!(expired.code, 1, "{}{}", expired.stdout, expired.stderr);
    assert!(
        expired.stdout.contains("expired") && expired.stdout.contains(&file.display().to_string()),
        "{}",
        expired.stdout
    );
}
