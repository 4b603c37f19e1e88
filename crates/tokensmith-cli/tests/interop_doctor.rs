//! The doctor against oidc-provider, an OpenID-certified server: each verdict a real server
//! gives cause for. The server's clients and secret come from the interop facts.
//!
//! Ignored by `cargo test`; `cargo xtask interop` starts the server and runs them.

mod support;

use std::process::{Command, Stdio};

use serde_json::Value;
use support::{Run, finish};

struct Facts(Value);

impl Facts {
    fn load() -> Self {
        let path = std::env::var("TOKENSMITH_INTEROP_FACTS").expect(
            "TOKENSMITH_INTEROP_FACTS is not set: run these tests through `cargo xtask interop`",
        );
        Self(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
    }

    fn get(&self, name: &str) -> &str {
        self.0[name].as_str().unwrap()
    }
}

/// `tokensmith doctor ARGS --json` with `secret`, and its verdict code.
fn doctor(args: &[&str], secret: &str) -> (Run, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokensmith"));
    command
        .arg("doctor")
        .args(args)
        .arg("--json")
        .env_remove("TOKENSMITH_PASSWORD")
        .env("TOKENSMITH_CLIENT_SECRET", secret)
        .env("TOKENSMITH_PASSWORD", "any-password")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let run = finish(command.spawn().unwrap());
    let verdict = serde_json::from_str::<Value>(&run.stdout)
        .ok()
        .and_then(|v| v["verdict"]["code"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("(no verdict: {}{})", run.stdout, run.stderr));
    (run, verdict)
}

#[test]
#[ignore = "needs the interop server: cargo xtask interop"]
fn the_doctor_names_what_a_certified_server_wants() {
    let facts = Facts::load();
    let issuer = facts.get("issuer");
    let token_url = format!("{issuer}/token");
    let no_such = format!("{issuer}/no-such-endpoint");
    let secret = facts.get("secret");
    // oidc-provider drops scopes it does not know, or cannot grant, from client credentials
    // requests rather than refusing them: invalid_scope is proven on the corpus's simulators.
    let cases: [(&str, Vec<&str>, &str, &str); 7] = [
        // An odd secret (every character RFC 6749 §2.3.1 makes clients encode) in Basic.
        (
            "basic client",
            vec!["--token-url", &token_url, "--client-id", "basic-client"],
            secret,
            "ok",
        ),
        (
            "the token endpoint from discovery",
            vec!["--issuer", issuer, "--client-id", "basic-client"],
            secret,
            "ok",
        ),
        (
            "a client registered for private_key_jwt, tried with a secret",
            vec!["--token-url", &token_url, "--client-id", "jwt-client"],
            secret,
            "invalid_client",
        ),
        (
            "a wrong secret",
            vec!["--token-url", &token_url, "--client-id", "basic-client"],
            "not-the-secret",
            "invalid_client",
        ),
        (
            "a client without the client credentials grant",
            vec!["--token-url", &token_url, "--client-id", "code-client"],
            secret,
            "unauthorized_client",
        ),
        (
            "a grant the server does not offer",
            vec![
                "--token-url",
                &token_url,
                "--client-id",
                "basic-client",
                "--grant",
                "password",
                "--username",
                "alice",
            ],
            secret,
            "unsupported_grant_type",
        ),
        (
            "a path that is not the token endpoint",
            vec!["--token-url", &no_such, "--client-id", "basic-client"],
            secret,
            "wrong_path",
        ),
    ];
    let mut failures = Vec::new();
    for (name, args, secret, expect) in cases {
        let (run, verdict) = doctor(&args, secret);
        if verdict != expect {
            failures.push(format!(
                "{name}: {verdict}, wanted {expect}\n{}",
                run.stdout
            ));
        }
        if run.stdout.contains(secret) || run.stderr.contains(secret) {
            failures.push(format!("{name}: the secret was printed"));
        }
    }
    // The resource wants a token issued for it (RFC 8707): one without is refused, and the
    // doctor says so.
    let resource = facts.get("resource");
    let (run, verdict) = doctor(
        &[
            "--token-url",
            &token_url,
            "--client-id",
            "basic-client",
            "--api-url",
            resource,
        ],
        secret,
    );
    if verdict != "api_refused_token" {
        failures.push(format!("the resource: {verdict}\n{}", run.stdout));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
