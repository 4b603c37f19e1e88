//! Running cargo from the project root, step by step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The workspace root: xtask lives one level below it.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// A `cargo` command run from the project root.
pub(crate) fn cargo(args: &[&str]) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(args).current_dir(project_root());
    command
}

/// Copies `files` (among them `package.json` and `package-lock.json`) from `source` to a
/// fresh or earlier `work` folder, and runs `npm ci` there when the lock file changed or
/// `installed` (a package folder below `node_modules`) is missing; `what` names it.
pub(crate) fn npm_install(
    source: &Path,
    work: &Path,
    files: &[&str],
    installed: &str,
    what: &str,
) -> Result<(), String> {
    std::fs::create_dir_all(work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let lock_changed = std::fs::read(work.join("package-lock.json")).ok()
        != std::fs::read(source.join("package-lock.json")).ok();
    for file in files {
        std::fs::copy(source.join(file), work.join(file))
            .map_err(|e| format!("cannot copy {file} to {}: {e}", work.display()))?;
    }
    if lock_changed || !work.join("node_modules").join(installed).exists() {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(work);
        step(&format!("npm ci ({what})"), npm)
            .map_err(|e| format!("{e}; {what} needs Node.js and npm (`npm --version`)"))?;
    }
    Ok(())
}

/// Runs one named step and fails with its name when it does.
pub(crate) fn step(name: &str, mut command: Command) -> Result<(), String> {
    println!("==> {name}");
    let started = Instant::now();
    let status = command
        .status()
        .map_err(|e| format!("{name}: could not start: {e}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    if status.success() {
        println!("==> {name}: ok ({elapsed:.1} s)");
        Ok(())
    } else {
        Err(format!("{name} failed ({status}) after {elapsed:.1} s"))
    }
}
