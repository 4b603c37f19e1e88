//! `cargo xtask build-cost [rounds]`: what depending on tokensmith costs a user's build.
//!
//! Two fresh projects under `target/build-cost`: one depends on `tokensmith` with its default
//! features, the other on what it would use without it, `reqwest` (rustls) and
//! `reqwest-middleware`; both on the same `tokio`. Each is built cold (its own empty target
//! directory), in alternation, `rounds` times (default 2), and the median ratios of wall time
//! and of crates compiled are printed.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::run::project_root;

const TOKIO: &str = r#"tokio = { version = "1", features = ["rt-multi-thread", "macros"] }"#;

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let rounds = match args {
        [] => 2,
        [n] => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10).contains(n))
            .ok_or(format!("rounds must be 1 to 10, got `{n}`"))?,
        _ => {
            return Err(format!(
                "`build-cost` takes at most a round count, got {args:?}"
            ));
        }
    };
    let root = project_root();
    let dir = root.join("target").join("build-cost");
    let with = dir.join("with-tokensmith");
    let without = dir.join("without");
    project(
        &with,
        &format!(
            "tokensmith = {{ path = {:?} }}\n{TOKIO}\n",
            root.display().to_string()
        ),
    )?;
    project(
        &without,
        &format!(
            "reqwest = {{ version = \"0.13\", default-features = false, features = [\"rustls\"] }}\n\
             reqwest-middleware = {{ version = \"0.5\", default-features = false }}\n{TOKIO}\n"
        ),
    )?;
    let mut time_ratios = Vec::new();
    let mut crate_ratios = Vec::new();
    for round in 1..=rounds {
        let (base_secs, base_crates) = cold_build(&without)?;
        let (ours_secs, ours_crates) = cold_build(&with)?;
        println!(
            "==> round {round}: without {base_secs:.1} s, {base_crates} crates; \
             with tokensmith {ours_secs:.1} s, {ours_crates} crates"
        );
        time_ratios.push(ours_secs / base_secs);
        crate_ratios.push(ours_crates as f64 / base_crates as f64);
    }
    println!(
        "==> build time ratio {:.2} (target <= 1.2), crates ratio {:.2}",
        median(&mut time_ratios),
        median(&mut crate_ratios)
    );
    Ok(())
}

/// Writes a binary project at `dir` with these dependency lines.
fn project(dir: &Path, dependencies: &str) -> Result<(), String> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
         [workspace]\n\n[dependencies]\n{dependencies}"
    );
    fs::write(dir.join("Cargo.toml"), manifest).map_err(|e| e.to_string())?;
    fs::write(dir.join("src/main.rs"), "fn main() {}\n").map_err(|e| e.to_string())
}

/// Builds `dir` from an empty target directory: seconds, and crates compiled.
fn cold_build(dir: &Path) -> Result<(f64, usize), String> {
    let target = dir.join("target");
    if target.exists() {
        fs::remove_dir_all(&target).map_err(|e| e.to_string())?;
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let started = Instant::now();
    let output = Command::new(cargo)
        .args(["build", "--color", "never"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .stdout(Stdio::null())
        .output()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    let secs = started.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("cold build of {} failed:\n{log}", dir.display()));
    }
    let crates = log
        .lines()
        .filter(|line| line.trim_start().starts_with("Compiling "))
        .count();
    Ok((secs, crates))
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
