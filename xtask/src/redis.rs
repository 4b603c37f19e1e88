//! `cargo xtask redis`: makes sure `redis-server` and `redis-cli` are installed, for the tests
//! of `tokensmith-redis` (each starts its own servers on 127.0.0.1 and stops them by their pid;
//! the Cluster test joins six with `redis-cli --cluster create`). Installs Debian's
//! `redis-server` and `redis-tools` packages with apt when one is missing and this runs as root.

use std::process::{Command, Stdio};

use crate::run::step;

fn installed() -> bool {
    ["redis-server", "redis-cli"].iter().all(|program| {
        Command::new(program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`redis` takes no arguments, got `{extra}`"));
    }
    if installed() {
        println!("==> redis-server and redis-cli: installed");
        return Ok(());
    }
    if !is_root() {
        return Err(
            "redis-server or redis-cli is not installed and this is not root: install Debian's \
             `redis-server` and `redis-tools` packages (`sudo apt-get install redis-server \
             redis-tools`) for the tests of tokensmith-redis"
                .into(),
        );
    }
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    step("apt-get update", update)?;
    let mut install = Command::new("apt-get");
    install
        .args([
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            "redis-server",
            "redis-tools",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive");
    step("apt-get install redis-server redis-tools", install)?;
    if installed() {
        Ok(())
    } else {
        Err("redis-server or redis-cli is still not on the PATH after installing them".into())
    }
}
