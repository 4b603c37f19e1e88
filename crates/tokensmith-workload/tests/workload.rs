//! Workload identity against simulators that check the wire formats the vendors document,
//! over real sockets on 127.0.0.1; rotation the way the kubelet does it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokensmith_core::{ExposeSecret, SecretString, TokenSource};
use tokensmith_oauth2::{ClientCredentials, TokenEndpoint, token_type};
use tokensmith_workload::google::{GoogleFederation, pool_audience};
use tokensmith_workload::{SPIFFE_ASSERTION_TYPE, WorkloadGrant, WorkloadIdentity, azure};

const JWT_BEARER_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A request as a simulator saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: HashMap<String, String>,
    authorization: Option<String>,
    content_type: String,
    form: HashMap<String, String>,
    json: Value,
}

type Handler = Arc<dyn Fn(&Seen) -> (u16, Value) + Send + Sync>;

/// A simulator on 127.0.0.1 that records what it is sent.
struct Sim {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Sim {
    async fn start(handler: impl Fn(&Seen) -> (u16, Value) + Send + Sync + 'static) -> Self {
        let handler: Handler = Arc::new(handler);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let handler = Arc::clone(&handler);
            let record = Arc::clone(&record);
            async move {
                let (parts, body) = request.into_parts();
                let bytes = to_bytes(body, 64 * 1024).await.unwrap_or_default();
                let pairs = |text: &[u8]| -> HashMap<String, String> {
                    url::form_urlencoded::parse(text)
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                };
                let header = |name: &str| {
                    parts
                        .headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                let content_type = header("content-type").unwrap_or_default();
                let seen = Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query: pairs(parts.uri.query().unwrap_or("").as_bytes()),
                    authorization: header("authorization"),
                    form: if content_type.starts_with("application/x-www-form-urlencoded") {
                        pairs(&bytes)
                    } else {
                        HashMap::new()
                    },
                    json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                    content_type,
                };
                let (status, body) = handler(&seen);
                record.lock().unwrap().push(seen);
                Response::builder()
                    .status(StatusCode::from_u16(status).unwrap())
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap()
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A platform token: an unsigned JWT is enough for the simulators, which check where it goes.
fn platform_token(sub: &str, lifetime: i64) -> String {
    static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let claims = json!({
        "jti": SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        "iss": "https://oidc.platform.test",
        "sub": sub,
        "aud": ["api://AzureADTokenExchange"],
        "iat": now(),
        "exp": now() as i64 + lifetime,
    });
    format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.c2ln",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// Writes a token the way the kubelet updates a projected volume: into a new timestamped
/// directory, then `..data` swapped to it with one rename, `token` a symlink through `..data`.
fn kubelet_write(dir: &Path, generation: u32, token: &str) {
    let versioned = dir.join(format!("..2026_12_06_{generation:04}"));
    std::fs::create_dir_all(&versioned).unwrap();
    std::fs::write(versioned.join("token"), token).unwrap();
    let staging = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&staging);
    std::os::unix::fs::symlink(versioned.file_name().unwrap(), &staging).unwrap();
    std::fs::rename(&staging, dir.join("..data")).unwrap();
    let link = dir.join("token");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("..data/token", &link).unwrap();
    }
}

fn token_answer(name: &str, expires_in: u64) -> Value {
    json!({"access_token": name, "token_type": "Bearer", "expires_in": expires_in})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_preset_sends_the_federated_token_file_as_the_client_assertion_and_follows_its_rotation()
 {
    let served = Arc::new(Mutex::new(0u32));
    let count = Arc::clone(&served);
    let sim = Sim::start(move |_| {
        let mut n = count.lock().unwrap();
        *n += 1;
        // Two-second tokens, so that the test sees the cache fetch again.
        (200, token_answer(&format!("entra-{n}"), 2))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let first = platform_token("system:serviceaccount:prod:reports", 3600);
    kubelet_write(dir.path(), 1, &first);
    let endpoint = azure::token_endpoint(
        &format!("{}/", sim.base),
        "contoso.onmicrosoft.com",
        "00000000-1111-2222-3333-444444444444",
        WorkloadIdentity::file(dir.path().join("token")),
    )
    .unwrap();
    let tokens = ClientCredentials::new(endpoint)
        .scope(["https://graph.microsoft.com/.default"])
        .build();
    assert_eq!(
        tokens.token().await.unwrap().secret().expose_secret(),
        "entra-1"
    );
    // The kubelet rotates the token while the cache is in use.
    let second = platform_token("system:serviceaccount:prod:reports", 3600);
    assert_ne!(first, second);
    kubelet_write(dir.path(), 2, &second);
    assert_eq!(
        tokens.token().await.unwrap().secret().expose_secret(),
        "entra-1",
        "cached until it expires"
    );
    let started = std::time::Instant::now();
    let mut fresh = None;
    while started.elapsed() < Duration::from_secs(10) {
        let token = tokens.token().await.unwrap();
        if token.secret().expose_secret() != "entra-1" {
            fresh = Some(token);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(fresh.is_some(), "a second token within the bound");
    let seen = sim.seen();
    assert!(seen.len() >= 2);
    for (n, request) in seen.iter().take(2).enumerate() {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/contoso.onmicrosoft.com/oauth2/v2.0/token");
        assert!(
            request
                .content_type
                .starts_with("application/x-www-form-urlencoded")
        );
        assert_eq!(request.authorization, None, "no secret, no Basic");
        let form = &request.form;
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["client_id"], "00000000-1111-2222-3333-444444444444");
        assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
        assert_eq!(form["client_assertion_type"], JWT_BEARER_TYPE);
        assert!(!form.contains_key("client_secret"));
        let expected = if n == 0 { &first } else { &second };
        assert_eq!(
            &form["client_assertion"], expected,
            "request {n}: the file as it is now"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_file_is_never_sent_and_the_error_names_the_file() {
    let sim = Sim::start(|_| (200, token_answer("never", 3600))).await;
    let dir = tempfile::tempdir().unwrap();
    let expired = platform_token("system:serviceaccount:prod:reports", -120);
    kubelet_write(dir.path(), 1, &expired);
    let endpoint = TokenEndpoint::builder(format!("{}/token", sim.base))
        .client_id("reports")
        .client_assertion(WorkloadIdentity::file(dir.path().join("token")))
        .build()
        .unwrap();
    let error = ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(
        text.contains(&dir.path().join("token").display().to_string()),
        "{text}"
    );
    assert!(text.contains("expired"), "{text}");
    assert!(
        error.hint().is_some_and(|h| h.contains("kubelet")),
        "{:?}",
        error.hint()
    );
    assert!(!text.contains(&expired), "the token is never in an error");
    assert!(sim.seen().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spiffe_jwt_svid_goes_with_the_spiffe_assertion_type() {
    let sim = Sim::start(|_| (200, token_answer("spiffe-token", 600))).await;
    let dir = tempfile::tempdir().unwrap();
    let svid = platform_token("spiffe://example.org/ns/prod/sa/reports", 300);
    std::fs::write(dir.path().join("jwt_svid.token"), &svid).unwrap();
    let endpoint = TokenEndpoint::builder(format!("{}/token", sim.base))
        .client_id("spiffe://example.org/ns/prod/sa/reports")
        .client_assertion(WorkloadIdentity::spiffe_jwt_svid_file(
            dir.path().join("jwt_svid.token"),
        ))
        .build()
        .unwrap();
    let token = ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap();
    let form = &sim.seen()[0].form;
    assert_eq!(form["client_assertion_type"], SPIFFE_ASSERTION_TYPE);
    assert_eq!(form["client_assertion"], svid);
    assert!(
        token.lifetime().unwrap() <= Duration::from_secs(300),
        "the server said 600 s; the SVID lives 300 s: {:?}",
        token.lifetime()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_platform_token_gets_a_hint_about_the_federated_credential() {
    let sim = Sim::start(|seen| {
        let echoed = seen.form.get("client_assertion").cloned().unwrap_or_default();
        (
            401,
            json!({"error": "invalid_client", "error_description": format!("AADSTS70021: No matching federated identity record found for presented assertion {echoed}")}),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let token = platform_token("system:serviceaccount:prod:other", 600);
    std::fs::write(dir.path().join("token"), &token).unwrap();
    let endpoint = TokenEndpoint::builder(format!("{}/token", sim.base))
        .client_id("reports")
        .client_assertion(WorkloadIdentity::file(dir.path().join("token")))
        .build()
        .unwrap();
    let error = ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(
        !text.contains(&token),
        "the platform token is masked: {text}"
    );
    assert!(
        error
            .hint()
            .is_some_and(|h| h.contains("federated credential")),
        "{:?}",
        error.hint()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_federation_exchanges_at_sts_then_impersonates_and_never_outlives_the_platform_token()
 {
    let audience = pool_audience("123456789", "ci-pool", "github");
    let expected_audience = audience.clone();
    let sim = Sim::start(move |seen| {
        if seen.path == "/v1/token" {
            let form = &seen.form;
            let ok = seen.authorization.is_none()
                && form.get("grant_type").map(String::as_str)
                    == Some("urn:ietf:params:oauth:grant-type:token-exchange")
                && form.get("audience") == Some(&expected_audience)
                && form.get("scope").map(String::as_str)
                    == Some("https://www.googleapis.com/auth/cloud-platform")
                && form.get("requested_token_type").map(String::as_str)
                    == Some("urn:ietf:params:oauth:token-type:access_token")
                && form.get("subject_token_type").map(String::as_str)
                    == Some("urn:ietf:params:oauth:token-type:jwt")
                && form.contains_key("subject_token");
            if !ok {
                return (400, json!({"error": "invalid_request", "error_description": format!("{form:?}")}));
            }
            (200, json!({"access_token": "federated-1", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in": 3599}))
        } else if seen.path
            == "/v1/projects/-/serviceAccounts/deployer@proj.iam.gserviceaccount.com:generateAccessToken"
        {
            if seen.authorization.as_deref() != Some("Bearer federated-1")
                || seen.json["scope"] != json!(["https://www.googleapis.com/auth/cloud-platform"])
                || seen.json["lifetime"] != "3600s"
            {
                return (403, json!({"error": {"code": 403, "message": "Permission 'iam.serviceAccounts.getAccessToken' denied", "status": "PERMISSION_DENIED"}}));
            }
            let expire = SystemTime::now() + Duration::from_secs(3600);
            let secs = expire.duration_since(UNIX_EPOCH).unwrap().as_secs();
            (200, json!({"accessToken": "ya29.impersonated", "expireTime": rfc3339(secs)}))
        } else {
            (404, json!({}))
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    // The platform token lives two minutes: the Google token is cut to that.
    let platform = platform_token("repo:org/app:ref:refs/heads/main", 120);
    std::fs::write(dir.path().join("token"), &platform).unwrap();
    let tokens = GoogleFederation::new(WorkloadIdentity::file(dir.path().join("token")), audience)
        .impersonate("deployer@proj.iam.gserviceaccount.com")
        .endpoints(format!("{}/v1/token", sim.base), format!("{}/", sim.base))
        .build()
        .unwrap();
    let token = tokens.token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "ya29.impersonated");
    let left = token.expires_in().unwrap();
    assert!(
        left <= Duration::from_secs(120),
        "bounded by the platform token: {left:?}"
    );
    let seen = sim.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].form["subject_token"], platform);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_errors_carry_a_hint_and_no_token() {
    let sim = Sim::start(|seen| {
        let subject = seen.form.get("subject_token").cloned().unwrap_or_default();
        (400, json!({"error": "invalid_grant", "error_description": format!("The audience in ID Token [{subject}] does not match the expected audience.")}))
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let platform = platform_token("repo:org/app", 300);
    std::fs::write(dir.path().join("token"), &platform).unwrap();
    let tokens = GoogleFederation::new(
        WorkloadIdentity::file(dir.path().join("token")),
        pool_audience("1", "p", "v"),
    )
    .endpoints(format!("{}/v1/token", sim.base), format!("{}/", sim.base))
    .build()
    .unwrap();
    let error = tokens.source().fetch().await.unwrap_err();
    let text = format!("{error} {error:?} {}", error.hint().unwrap_or(""));
    assert!(!text.contains(&platform), "{text}");
    assert!(text.contains("allowed audiences"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwt_bearer_grant_and_token_exchange_with_the_platform_token() {
    let sim = Sim::start(
        |seen| match seen.form.get("grant_type").map(String::as_str) {
            Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
                if seen.form.contains_key("assertion") =>
            {
                (200, token_answer("bearer-grant", 3600))
            }
            Some("urn:ietf:params:oauth:grant-type:token-exchange")
                if seen.form.get("subject_token_type").map(String::as_str)
                    == Some("urn:ietf:params:oauth:token-type:id_token")
                    && seen.form.get("audience").map(String::as_str) == Some("deploy-api") =>
            {
                (200, token_answer("exchanged", 3600))
            }
            _ => (400, json!({"error": "invalid_request"})),
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let platform = platform_token("ci", 60);
    std::fs::write(dir.path().join("token"), &platform).unwrap();
    let endpoint = || {
        TokenEndpoint::builder(format!("{}/token", sim.base))
            .client_id("ci")
            .client_secret("a-secret-for-the-sts")
            .build()
            .unwrap()
    };
    let identity = WorkloadIdentity::file(dir.path().join("token"));
    let bearer = WorkloadGrant::jwt_bearer(endpoint(), identity.clone())
        .scope(["deploy"])
        .build();
    let token = bearer.token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), "bearer-grant");
    assert!(
        token.expires_in().unwrap() <= Duration::from_secs(60),
        "bounded"
    );
    let exchange = WorkloadGrant::token_exchange(endpoint(), identity, token_type::ID_TOKEN)
        .audience("deploy-api")
        .build();
    assert_eq!(
        exchange.token().await.unwrap().secret().expose_secret(),
        "exchanged"
    );
    let seen = sim.seen();
    assert_eq!(seen[0].form["assertion"], platform);
    assert_eq!(seen[1].form["subject_token"], platform);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_actions_command_and_variable_sources() {
    let jwt = platform_token("repo:org/app:ref:refs/heads/main", 600);
    let value = jwt.clone();
    let sim = Sim::start(move |seen| {
        if seen.authorization.as_deref() == Some("Bearer request-token-canary")
            && seen.query.get("api-version").map(String::as_str) == Some("2.0")
            && seen.query.get("audience").map(String::as_str) == Some("sts.example.com")
        {
            (200, json!({"count": 1, "value": value}))
        } else {
            (401, json!({"message": "Bad credentials"}))
        }
    })
    .await;
    let github = WorkloadIdentity::github_endpoint(
        &format!("{}/_apis/token?api-version=2.0", sim.base),
        SecretString::from("request-token-canary"),
        Some("sts.example.com"),
    )
    .unwrap();
    let token = github.token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), jwt);
    assert_eq!(token.subject(), Some("repo:org/app:ref:refs/heads/main"));
    github.token().await.unwrap();
    assert_eq!(sim.seen().len(), 1, "fetched once while it has time left");
    let refused = WorkloadIdentity::github_endpoint(
        &format!("{}/_apis/token?api-version=2.0", sim.base),
        SecretString::from("wrong"),
        Some("sts.example.com"),
    )
    .unwrap()
    .token()
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("401"), "{refused}");
    assert!(
        WorkloadIdentity::github_endpoint(
            "http://example.com/token",
            SecretString::from("x"),
            None
        )
        .is_err(),
        "the request token never goes over plain http to another host"
    );

    let command = WorkloadIdentity::command("sh", ["-c", &format!("printf '%s\\n' {jwt}")]);
    assert_eq!(command.token().await.unwrap().secret().expose_secret(), jwt);
    let failing = WorkloadIdentity::command("sh", ["-c", "echo 'no credentials' >&2; exit 3"]);
    let error = failing.token().await.unwrap_err().to_string();
    assert!(
        error.contains("no credentials") && error.contains("sh"),
        "{error}"
    );

    let unset = WorkloadIdentity::env("TOKENSMITH_WORKLOAD_TEST_UNSET")
        .token()
        .await
        .unwrap_err();
    assert!(
        unset.to_string().contains("TOKENSMITH_WORKLOAD_TEST_UNSET"),
        "{unset}"
    );
}

/// Seconds since the epoch as RFC 3339 in UTC.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
