//! `cargo xtask ci`: the checks CI runs, in order, stopping at the first failure.

use crate::run::{cargo, step};

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
    step(
        "benches compile",
        cargo(&["bench", "--workspace", "--all-features", "--no-run"]),
    )?;
    let mut doc = cargo(&["doc", "--workspace", "--all-features", "--no-deps"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    step("docs", doc)?;
    crate::interop::run(&[])?;
    println!("==> all checks passed");
    Ok(())
}
