//! `cargo xtask interop`: the interop suite against a real authorization server.
//!
//! Installs the npm package `oidc-provider` (pinned by `xtask/interop/package-lock.json`) into
//! `target/interop` with `npm ci`, starts `xtask/interop/server.mjs` on 127.0.0.1, runs the
//! ignored tests of `tests/interop.rs` against it, and stops the server by its process id,
//! whether the tests pass or not. Needs Node.js and npm.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::run::{cargo, npm_install, project_root, step};

/// How long the server may take to say it is listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Stops the server when dropped, also when a step fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.0.id();
        let _ = self.0.kill();
        let _ = self.0.wait();
        println!("==> interop server (pid {pid}) stopped");
    }
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`interop` takes no arguments, got `{extra}`"));
    }
    let root = project_root();
    let source = root.join("xtask").join("interop");
    let work = root.join("target").join("interop");
    npm_install(
        &source,
        &work,
        &["package.json", "package-lock.json", "server.mjs"],
        "oidc-provider",
        "oidc-provider",
    )?;
    let tls = work.join("tls");
    certificates(&tls)?;
    let (server, facts) = start(&work, &tls)?;
    println!(
        "==> interop server at {} (pid {})",
        facts.issuer,
        server.0.id()
    );
    let mut tests = cargo(&[
        "test",
        "--package",
        "tokensmith",
        "--all-features",
        "--test",
        "interop",
        "--test",
        "interop_modern",
        "--test",
        "interop_workload",
        "--test",
        "interop_discovery",
        "--",
        "--ignored",
    ]);
    tests
        .env("TOKENSMITH_INTEROP_ISSUER", &facts.issuer)
        .env("TOKENSMITH_INTEROP_RESOURCE", &facts.resource)
        .env("TOKENSMITH_INTEROP_SECRET", &facts.secret)
        .env("TOKENSMITH_INTEROP_REDIRECT_URI", &facts.redirect_uri)
        .env("TOKENSMITH_INTEROP_FACTS", work.join("facts.json"))
        .env("TOKENSMITH_INTEROP_TLS", &tls);
    let result = step("interop tests", tests).and_then(|()| {
        // The doctor against the same server.
        let mut doctor = cargo(&[
            "test",
            "--package",
            "tokensmith-cli",
            "--test",
            "interop_doctor",
            "--",
            "--ignored",
        ]);
        doctor.env("TOKENSMITH_INTEROP_FACTS", work.join("facts.json"));
        step("interop tests (doctor)", doctor)
    });
    drop(server);
    result
}

struct Facts {
    issuer: String,
    resource: String,
    secret: String,
    redirect_uri: String,
}

/// Starts the server and waits for the line that says where it listens.
fn start(work: &Path, tls: &Path) -> Result<(Server, Facts), String> {
    let log = fs::File::create(work.join("server.log"))
        .map_err(|e| format!("cannot create server.log: {e}"))?;
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(work)
        .env("TOKENSMITH_INTEROP_TLS", tls)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot start node: {e}; the interop suite needs Node.js"))?;
    let stdout = child.stdout.take().ok_or("no stdout from node")?;
    let server = Server(child);
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end: the server logs to stdout too, and a closed pipe would stop it.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    loop {
        let line = received.recv_timeout(START_TIMEOUT).map_err(|_| {
            format!(
                "the interop server did not start within {START_TIMEOUT:?}; see {}",
                work.join("server.log").display()
            )
        })?;
        if let Some(issuer) = field(&line, "issuer") {
            // Every fact, for the tests that need more than the four below (keys, mTLS URLs).
            fs::write(work.join("facts.json"), &line)
                .map_err(|e| format!("cannot write facts.json: {e}"))?;
            let get = |name: &str| field(&line, name).ok_or(format!("no `{name}` in `{line}`"));
            let facts = Facts {
                issuer,
                resource: get("resource")?,
                secret: get("secret")?,
                redirect_uri: get("redirect_uri")?,
            };
            return Ok((server, facts));
        }
    }
}

/// A CA and what it issues, for mutual TLS: `ca.pem`, `server.pem` + `server-key.pem` (for
/// 127.0.0.1), `client.pem` + `client-key.pem` (SAN `client.tokensmith.test`, for
/// `tls_client_auth`), and a self-signed `self-signed.pem` + `self-signed-key.pem` (for
/// `self_signed_tls_client_auth`). Made afresh on every run.
fn certificates(dir: &Path) -> Result<(), String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let fail = |e: rcgen::Error| format!("cannot make the interop certificates: {e}");
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let write = |name: &str, text: String| {
        fs::write(dir.join(format!("{name}.pem")), text)
            .map_err(|e| format!("cannot write {name}.pem: {e}"))
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "tokensmith interop CA");
    let ca_key = KeyPair::generate().map_err(fail)?;
    write("ca", ca.self_signed(&ca_key).map_err(fail)?.pem())?;
    let issuer = Issuer::new(ca, ca_key);
    let leaf = |name: &str, san: &str, usage: ExtendedKeyUsagePurpose| -> Result<(), String> {
        let mut params = CertificateParams::new(vec![san.to_owned()]).map_err(fail)?;
        params.distinguished_name.push(DnType::CommonName, san);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().map_err(fail)?;
        write(name, params.signed_by(&key, &issuer).map_err(fail)?.pem())?;
        write(&format!("{name}-key"), key.serialize_pem())
    };
    leaf("server", "127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth)?;
    leaf(
        "client",
        "client.tokensmith.test",
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    let mut own =
        CertificateParams::new(vec!["self-signed.tokensmith.test".to_owned()]).map_err(fail)?;
    own.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().map_err(fail)?;
    write("self-signed", own.self_signed(&key).map_err(fail)?.pem())?;
    write("self-signed-key", key.serialize_pem())
}

/// The string value of `"name":"value"` in a one-line JSON object (values have no `"` or `\`).
fn field(line: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\":\"");
    let start = line.find(&key)? + key.len();
    let end = line[start..].find('"')? + start;
    Some(line[start..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn reads_fields_of_the_ready_line() {
        let line = r#"{"issuer":"http://127.0.0.1:1","resource":"http://127.0.0.1:2/","secret":"p:a@s/s+w&o=r%d x"}"#;
        assert_eq!(field(line, "issuer").as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(field(line, "secret").as_deref(), Some("p:a@s/s+w&o=r%d x"));
        assert_eq!(field(line, "missing"), None);
    }
}
