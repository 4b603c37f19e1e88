//! The programs the checks need besides the Rust toolchain: Debian packages installed with
//! apt (as root), and cargo tools installed with `cargo install` at a pinned version.

use std::process::{Command, Stdio};

use crate::run::{cargo, step};

/// Whether `program --version` runs and succeeds.
fn runs(program: &str, version_arg: &str) -> bool {
    Command::new(program)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Makes sure each of `programs` runs, installing Debian's `packages` with apt when one does
/// not and this runs as root; `purpose` says in errors what they are for.
pub(crate) fn debian(programs: &[&str], packages: &[&str], purpose: &str) -> Result<(), String> {
    let present = || programs.iter().all(|program| runs(program, "--version"));
    let names = programs.join(" and ");
    if present() {
        println!("==> {names}: installed");
        return Ok(());
    }
    if !is_root() {
        return Err(format!(
            "{names} is not installed and this is not root: install Debian's {} package(s) \
             (`sudo apt-get install {}`) for {purpose}",
            packages.join(", "),
            packages.join(" ")
        ));
    }
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    step("apt-get update", update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    step(&format!("apt-get install {}", packages.join(" ")), install)?;
    if present() {
        Ok(())
    } else {
        Err(format!(
            "{names} is still not on the PATH after installing it"
        ))
    }
}

/// Makes sure cargo tool `binary` (from crate `krate`) answers `version_args` with
/// `version`, installing that version with `cargo install --locked` otherwise.
pub(crate) fn cargo_tool(
    binary: &str,
    version_args: &[&str],
    krate: &str,
    version: &str,
) -> Result<(), String> {
    let current = Command::new(binary)
        .args(version_args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned());
    if current
        .as_deref()
        .is_some_and(|text| text.contains(version))
    {
        println!("==> {binary} {version}: installed");
        return Ok(());
    }
    step(
        &format!("cargo install {krate} {version}"),
        cargo(&["install", "--locked", krate, "--version", version]),
    )
}
