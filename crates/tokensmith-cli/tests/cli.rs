//! The `tokensmith` binary against the embedded server: each doctor diagnosis, the token
//! command's grants, decode and discover. The binary runs as a child process, stopped by its
//! id if it overruns.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use tokensmith_testkit::{
    ClientConfig, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD, DEFAULT_USERNAME,
    Endpoint, TestServer,
};

mod support;

use support::{LIMIT, Run, finish};

fn command(args: &[&str], secret: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokensmith"));
    command
        .args(args)
        .env_remove("TOKENSMITH_CLIENT_SECRET")
        .env_remove("TOKENSMITH_PASSWORD")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(secret) = secret {
        command.env("TOKENSMITH_CLIENT_SECRET", secret);
    }
    command
}

async fn run(args: &[&str], secret: Option<&str>) -> Run {
    let command = command(args, secret);
    tokio::task::spawn_blocking(move || {
        let mut command = command;
        finish(command.spawn().unwrap())
    })
    .await
    .unwrap()
}

async fn doctor(server_token_url: &str, extra: &[&str], secret: &str) -> Run {
    let mut args = vec![
        "doctor",
        "--token-url",
        server_token_url,
        "--client-id",
        DEFAULT_CLIENT_ID,
    ];
    args.extend_from_slice(extra);
    run(&args, Some(secret)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_a_basic_only_server() {
    let server = TestServer::builder()
        .client(ClientConfig::confidential(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).basic_only())
        .start()
        .await
        .unwrap();
    let text = doctor(&server.token_url(), &["--curl"], DEFAULT_CLIENT_SECRET).await;
    assert_eq!(text.code, 0, "{}{}", text.stdout, text.stderr);
    assert!(text.stdout.contains("verdict [ok]"), "{}", text.stdout);
    assert!(
        text.stdout.contains("tokensmith reads it: Bearer token"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("-u 'test-client:'\"$TOKENSMITH_CLIENT_SECRET\""),
        "{}",
        text.stdout
    );
    assert!(
        !text.stdout.contains(DEFAULT_CLIENT_SECRET),
        "the secret is never printed"
    );
    let json = doctor(&server.token_url(), &["--json"], DEFAULT_CLIENT_SECRET)
        .await
        .json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["verdict"]["code"], "ok");
    assert_eq!(json["client_authentication"], "client_secret_basic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_finds_a_body_only_server() {
    let server = TestServer::builder()
        .client(ClientConfig::confidential(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).body_only())
        .start()
        .await
        .unwrap();
    let run = doctor(&server.token_url(), &["--json"], DEFAULT_CLIENT_SECRET).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let json = run.json();
    assert_eq!(json["client_authentication"], "client_secret_post");
    let requests = json["requests"].as_array().unwrap();
    assert_eq!(
        requests[0]["placement"][0],
        "Authorization: Basic (client id and secret) in a header"
    );
    assert!(
        requests[1]["placement"][0]
            .as_str()
            .unwrap()
            .contains("client_secret in the form body")
    );
    let text = doctor(&server.token_url(), &[], DEFAULT_CLIENT_SECRET)
        .await
        .stdout;
    assert!(
        text.contains("verdict [client_auth_style]") && text.contains("ClientAuth::RequestBody"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_when_a_server_wants_get() {
    let server = TestServer::builder()
        .token_get_only()
        .start()
        .await
        .unwrap();
    let run = doctor(&server.token_url(), &[], DEFAULT_CLIENT_SECRET).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("POST, form body, with client_secret_basic: 405"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("verdict [wants_get]")
            && run
                .stdout
                .contains("GET with the parameters in the query string"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_when_the_path_is_wrong() {
    let server = TestServer::start().await.unwrap();
    let run = doctor(&server.url_of("/oauth2/token"), &[], DEFAULT_CLIENT_SECRET).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("verdict [wrong_path] Nothing is at this URL (404)"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_says_when_the_secret_is_wrong_and_never_shows_it() {
    let server = TestServer::start().await.unwrap();
    let run = doctor(&server.token_url(), &[], "canary-wrong-secret").await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("verdict [invalid_client]")
            && run.stdout.contains("The client id or secret is wrong"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("canary-wrong-secret") && !run.stderr.contains("canary-wrong-secret")
    );
    assert_eq!(
        server.requests_to(Endpoint::Token).len(),
        3,
        "Basic, then the body, then tokensmith itself for its hint"
    );
    assert!(
        run.stdout.contains("tokensmith could not use it") && run.stdout.contains("hint:"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_names_the_airvantage_region_that_knows_the_account() {
    let (na, eu) = tokensmith_airvantage::testing::regions().await.unwrap();
    let run = run(
        &[
            "doctor",
            "--vendor",
            "airvantage",
            "--region",
            &eu.url(),
            "--api-region",
            &na.url(),
            "--api-path",
            "api/v1/users/current",
            "--client-id",
            DEFAULT_CLIENT_ID,
        ],
        Some(DEFAULT_CLIENT_SECRET),
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("`context.unknown`"), "{}", run.stdout);
    assert!(
        run.stdout.contains("verdict [wrong_region]"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("these credentials work in {}", na.url())),
        "{}",
        run.stdout
    );
    let same = self::run(
        &[
            "doctor",
            "--vendor",
            "airvantage",
            "--region",
            &eu.url(),
            "--api-path",
            "api/v1/users/current",
            "--client-id",
            DEFAULT_CLIENT_ID,
        ],
        Some(DEFAULT_CLIENT_SECRET),
    )
    .await;
    assert_eq!(same.code, 0, "{}{}", same.stdout, same.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_masks_the_token_unless_asked_and_reads_secrets_from_the_environment_only() {
    let server = TestServer::start().await.unwrap();
    let url = server.token_url();
    let base = [
        "token",
        "--token-url",
        url.as_str(),
        "--client-id",
        DEFAULT_CLIENT_ID,
        "--scope",
        "orders.read",
    ];
    let masked = run(&base, Some(DEFAULT_CLIENT_SECRET)).await;
    assert_eq!(masked.code, 0, "{}{}", masked.stdout, masked.stderr);
    assert!(masked.stdout.contains("[masked:"), "{}", masked.stdout);
    assert!(masked.stdout.contains("orders.read"));
    assert!(masked.stdout.contains("opaque"), "{}", masked.stdout);
    let mut shown = base.to_vec();
    shown.extend(["--show-token", "--json"]);
    let json = run(&shown, Some(DEFAULT_CLIENT_SECRET)).await.json();
    assert_eq!(json["token_type"], "Bearer");
    assert!(json["access_token"].as_str().unwrap().len() > 10);
    assert!(
        !masked
            .stdout
            .contains(json["access_token"].as_str().unwrap())
    );

    let missing = run(&base, None).await;
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("TOKENSMITH_CLIENT_SECRET"),
        "{}",
        missing.stderr
    );
    let argv = run(&[&base[..], &["--client-secret", "x"]].concat(), None).await;
    assert_eq!(
        argv.code, 2,
        "there is no way to pass a secret on the command line"
    );
    let refused = run(&base, Some("canary-wrong")).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused.stdout.contains("invalid_client"),
        "{}",
        refused.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_with_the_password_and_device_grants() {
    let server = TestServer::start().await.unwrap();
    let url = server.token_url();
    let mut password_run = command(
        &[
            "token",
            "--token-url",
            &url,
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--grant",
            "password",
            "--username",
            DEFAULT_USERNAME,
        ],
        Some(DEFAULT_CLIENT_SECRET),
    );
    password_run.env("TOKENSMITH_PASSWORD", DEFAULT_PASSWORD);
    let run = tokio::task::spawn_blocking(move || finish(password_run.spawn().unwrap()))
        .await
        .unwrap();
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("refresh token  issued (not shown)"),
        "{}",
        run.stdout
    );

    // The device grant: the code goes to standard error; the test approves it.
    let device_url = server.device_authorization_url();
    let mut child = command(
        &[
            "token",
            "--token-url",
            &url,
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--grant",
            "device",
            "--device-url",
            &device_url,
        ],
        Some(DEFAULT_CLIENT_SECRET),
    )
    .spawn()
    .unwrap();
    let code = stderr_line(&mut child, "and enter the code: ");
    assert!(server.approve_device(&code, DEFAULT_USERNAME));
    let run = tokio::task::spawn_blocking(move || finish(child))
        .await
        .unwrap();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("type"), "{}", run.stdout);
}

/// The rest of the first standard error line of `child` that starts with `prefix`; the
/// stream is read to its end in the background, so the child can keep writing.
fn stderr_line(child: &mut Child, prefix: &'static str) -> String {
    let stderr = child.stderr.take().unwrap();
    let (found, wait) = std::sync::mpsc::channel();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let lines = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix(prefix) {
                let _ = found.send(rest.to_owned());
            }
            lines.lock().unwrap().push_str(&line);
        }
    });
    wait.recv_timeout(LIMIT).unwrap_or_else(|_| {
        let stdout = finish(std::mem::replace(
            child,
            Command::new("true").spawn().unwrap(),
        ))
        .stdout;
        panic!(
            "no `{prefix}` line on standard error: {}; standard output: {stdout}",
            seen.lock().unwrap()
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_with_the_code_grant_through_a_loopback_redirect() {
    let server = TestServer::builder()
        .client(ClientConfig::public("native-app"))
        .start()
        .await
        .unwrap();
    let url = server.token_url();
    let authorize = server.authorize_url();
    let mut child = command(
        &[
            "token",
            "--token-url",
            &url,
            "--client-id",
            "native-app",
            "--auth",
            "none",
            "--grant",
            "code",
            "--authorize-url",
            &authorize,
            "--no-browser",
        ],
        None,
    )
    .spawn()
    .unwrap();
    let sign_in = stderr_line(&mut child, "sign in at: ");
    let redirect = url::Url::parse(&sign_in)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "redirect_uri")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    // A connection that sends nothing holds up nothing, and a callback with another state
    // is refused while the sign-in goes on.
    let listener = url::Url::parse(&redirect).unwrap();
    let idle =
        tokio::net::TcpStream::connect((listener.host_str().unwrap(), listener.port().unwrap()))
            .await
            .unwrap();
    let forged = reqwest::get(format!("{redirect}?code=stolen&state=not-yours"))
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    // The browser: the server redirects at once to the CLI's loopback listener.
    let page = reqwest::get(&sign_in).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Signed in"));
    drop(idle);
    let run = tokio::task::spawn_blocking(move || finish(child))
        .await
        .unwrap();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("refresh token  issued (not shown)"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_for_a_resource_follows_its_401_for_a_machine_and_for_a_user() {
    let server = TestServer::start().await.unwrap();
    let resource = server.url_of("/resource/files");
    // A machine client: the id given, the secret from the environment.
    let machine = run(
        &[
            "token",
            "--resource",
            &resource,
            "--client-id",
            DEFAULT_CLIENT_ID,
        ],
        Some(DEFAULT_CLIENT_SECRET),
    )
    .await;
    assert_eq!(machine.code, 0, "{}", machine.stdout);
    assert!(machine.stdout.contains("200 OK"), "{}", machine.stdout);
    assert!(machine.stdout.contains("files:read"), "{}", machine.stdout);
    assert!(
        machine.stdout.contains(&server.url()),
        "the authorization server is named: {}",
        machine.stdout
    );
    assert!(!machine.stdout.contains(DEFAULT_CLIENT_SECRET));

    // A user: the command registers itself, prints the sign-in URL, and the test plays the
    // browser (the server redirects at once to the command's loopback listener).
    let mut child = command(&["token", "--resource", &resource, "--no-browser"], None)
        .spawn()
        .unwrap();
    let sign_in = stderr_line(&mut child, "sign in at: ");
    let page = reqwest::get(&sign_in).await.unwrap();
    assert_eq!(page.status(), 200);
    let user = tokio::task::spawn_blocking(move || finish(child))
        .await
        .unwrap();
    assert_eq!(user.code, 0, "{}", user.stdout);
    assert!(user.stdout.contains("files:read"), "{}", user.stdout);
    assert_eq!(server.requests_to(Endpoint::Registration).len(), 1);

    // A URL that does not challenge leads to no token, and the command says so.
    let nowhere = server.url_of("/nowhere");
    let refused = run(&["token", "--resource", &nowhere], None).await;
    assert_eq!(refused.code, 1, "{}", refused.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decode_reads_a_jwt_and_says_plainly_when_a_token_is_opaque() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = format!(
        "{}.{}.c2ln",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k1"}"#),
        URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"alice","iat":{now},"exp":{}}}"#,
            now + 3 * 3600 + 130
        ))
    );
    let run = run(&["decode", &jwt], None).await;
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("expires in 3h 2m"), "{}", run.stdout);
    assert!(run.stdout.contains("\"sub\": \"alice\""), "{}", run.stdout);
    let json = self::run(&["decode", &jwt, "--json"], None).await.json();
    assert_eq!(json["kind"], "jwt");
    assert_eq!(json["header"]["kid"], "k1");
    let opaque = self::run(&["decode", "2YotnFZFEjr1zCsicMWpAA"], None).await;
    assert!(
        opaque.stdout.contains("opaque (22 characters): not a JWT"),
        "{}",
        opaque.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_shows_the_metadata() {
    let server = TestServer::start().await.unwrap();
    let run = run(&["discover", &server.url()], None).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("token endpoint ")
                && l.ends_with(&server.token_url())),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("private_key_jwt"));
    let json = self::run(&["discover", &server.url(), "--json"], None)
        .await
        .json();
    assert_eq!(json["issuer"], server.url());
    let refused = self::run(&["discover", "http://login.example.com"], None).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    // The doctor takes the token endpoint from the same metadata.
    let doctor = self::run(
        &[
            "doctor",
            "--issuer",
            &server.url(),
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--json",
        ],
        Some(DEFAULT_CLIENT_SECRET),
    )
    .await;
    assert_eq!(doctor.code, 0, "{}{}", doctor.stdout, doctor.stderr);
    let json = doctor.json();
    assert_eq!(json["verdict"]["code"], "ok");
    assert_eq!(json["endpoint"], server.token_url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_has_help() {
    for command in [
        vec!["--help"],
        vec!["token", "--help"],
        vec!["decode", "--help"],
        vec!["discover", "--help"],
        vec!["doctor", "--help"],
    ] {
        let run = run(&command, None).await;
        assert_eq!(run.code, 0, "{command:?}");
        assert!(run.stdout.contains("Usage:"), "{command:?}: {}", run.stdout);
    }
}

/// The transcripts the README and the closing notes show: the Basic vendor (wrong secret,
/// then right), and an AirVantage account asked for in the wrong region. Printed with
/// `--nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_transcripts_for_the_basic_vendor_and_airvantage() {
    let basic = tokensmith_basic::testing::start().await.unwrap();
    let url = basic.url_of("/oauth/token");
    let right = doctor(&url, &["--curl"], DEFAULT_CLIENT_SECRET).await;
    assert_eq!(right.code, 0, "{}", right.stdout);
    println!(
        "$ tokensmith doctor --token-url {url} --client-id {DEFAULT_CLIENT_ID} --curl\n{}",
        right.stdout
    );
    let wrong = doctor(&url, &["--vendor", "basic"], "not-the-secret").await;
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stdout.contains("hint:"),
        "the vendor's hint: {}",
        wrong.stdout
    );
    println!(
        "$ tokensmith doctor --token-url {url} --client-id {DEFAULT_CLIENT_ID} --vendor basic   # a wrong secret\n{}",
        wrong.stdout
    );
    let (na, eu) = tokensmith_airvantage::testing::regions().await.unwrap();
    let (na, eu) = (na.url(), eu.url());
    let args = [
        "doctor",
        "--vendor",
        "airvantage",
        "--region",
        &eu,
        "--api-region",
        &na,
        "--api-path",
        "api/v1/users/current",
        "--client-id",
        DEFAULT_CLIENT_ID,
    ];
    let airvantage = run(&args, Some(DEFAULT_CLIENT_SECRET)).await;
    assert_eq!(airvantage.code, 1);
    println!("$ tokensmith {}\n{}", args.join(" "), airvantage.stdout);
}
