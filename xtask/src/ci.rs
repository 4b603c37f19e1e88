//! `cargo xtask ci`: the checks CI runs, in order, stopping at the first failure.

use std::process::Stdio;
use std::time::Instant;

use crate::run::{cargo, step};

/// The cargo-hack release the feature check installs.
const CARGO_HACK: &str = "0.6.46";

/// The members that are published: every crate but the automation and the benchmarks.
const PUBLISHED: &[&str] = &[
    "--workspace",
    "--exclude",
    "xtask",
    "--exclude",
    "tokensmith-benches",
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`ci` takes no arguments, got `{extra}`"));
    }
    step("format", cargo(&["fmt", "--all", "--", "--check"]))?;
    step(
        "clippy",
        cargo(&[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // The Redis tests start their own redis-server; it must be installed.
    crate::redis::run(&[])?;
    step("tests", cargo(&["test", "--workspace", "--all-features"]))?;
    features()?;
    packages()?;
    step(
        "benches compile",
        cargo(&["bench", "--workspace", "--all-features", "--no-run"]),
    )?;
    let mut doc = cargo(&["doc", "--workspace", "--all-features", "--no-deps"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    step("docs", doc)?;
    crate::interop::run(&[])?;
    crate::conformance::run(&[])?;
    println!("==> all checks passed");
    Ok(())
}

/// Every crate checked with each of its features alone (and with none, and with all), by
/// cargo-hack; a warning in any combination fails the step, as clippy's `-D warnings` does.
fn features() -> Result<(), String> {
    crate::tools::cargo_tool(
        "cargo-hack",
        &["hack", "--version"],
        "cargo-hack",
        CARGO_HACK,
    )?;
    let name = "each feature alone (cargo hack check --each-feature)";
    println!("==> {name}");
    let started = Instant::now();
    let mut hack = cargo(&["hack", "check", "--each-feature"]);
    hack.args(PUBLISHED).stdout(Stdio::inherit());
    let output = hack
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("{name}: could not start: {e}"))?;
    let text = String::from_utf8_lossy(&output.stderr);
    eprint!("{text}");
    let elapsed = started.elapsed().as_secs_f64();
    if !output.status.success() {
        return Err(format!(
            "{name} failed ({}) after {elapsed:.1} s",
            output.status
        ));
    }
    let warnings = text
        .lines()
        .filter(|line| line.starts_with("warning:"))
        .count();
    if warnings > 0 {
        return Err(format!("{name}: {warnings} warning lines, above"));
    }
    println!("==> {name}: ok ({elapsed:.1} s)");
    Ok(())
}

/// `cargo package` of every published crate, each verified by building it from its package
/// against the packages of the crates it depends on. Those build as registry crates of an
/// unchanged version, which cargo never rebuilds once built: so that a change to one of them
/// is seen, their artifacts from an earlier run are removed first (their dependencies stay).
fn packages() -> Result<(), String> {
    let target = crate::run::project_root()
        .join("target")
        .join("package-verify");
    for kind in [".fingerprint", "deps", "build", "incremental"] {
        let Ok(entries) = std::fs::read_dir(target.join("debug").join(kind)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with("tokensmith")
                || name.to_string_lossy().starts_with("libtokensmith")
            {
                let path = entry.path();
                let removed = if path.is_dir() {
                    std::fs::remove_dir_all(&path)
                } else {
                    std::fs::remove_file(&path)
                };
                removed.map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            }
        }
    }
    // Cargo unpacks each package it verifies against into the registry cache of the
    // temporary registry it makes for the workspace, and does not unpack it again while that
    // directory exists: a second run would build against the first run's sources.
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cargo"))
        });
    if let Some(Ok(registries)) =
        cargo_home.map(|home| std::fs::read_dir(home.join("registry").join("src")))
    {
        for registry in registries.flatten() {
            // The temporary registries are named by a hash alone; crates.io's by its host.
            if !registry.file_name().to_string_lossy().starts_with('-') {
                continue;
            }
            for entry in std::fs::read_dir(registry.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("tokensmith")
                {
                    let path = entry.path();
                    std::fs::remove_dir_all(&path)
                        .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
                }
            }
        }
    }
    let mut package = cargo(&["package", "--allow-dirty", "--target-dir"]);
    package.arg(&target).args(PUBLISHED);
    step(
        "packages (cargo package, each crate built from its package)",
        package,
    )
}
