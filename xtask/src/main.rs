//! Project automation, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: everything CI checks (format, lints, tests, docs, interop,
//!   conformance).
//! - `cargo xtask interop`: the interop suite against a real authorization server.
//! - `cargo xtask conformance [scenario…]`: the MCP conformance suite's authorization
//!   scenarios against `examples/mcp_client.rs`.
//! - `cargo xtask redis`: installs `redis-server` when missing (the Redis tests need it).
//! - `cargo xtask bench [--quick]`: benchmarks beside their baselines; writes the summary.
//! - `cargo xtask build-cost [rounds]`: cold build of a project on tokensmith against one on
//!   reqwest and reqwest-middleware alone.

mod bench;
mod build_cost;
mod ci;
mod conformance;
mod instructions;
mod interop;
mod redis;
mod run;
mod tools;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(&args[1..]),
        Some("interop") => interop::run(&args[1..]),
        Some("conformance") => conformance::run(&args[1..]),
        Some("redis") => redis::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("build-cost") => build_cost::run(&args[1..]),
        Some("help" | "--help" | "-h") | None => {
            print_usage();
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown command `{other}`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn print_usage() {
    println!(
        "usage: cargo xtask <command>\n\n\
         commands:\n  \
         ci       format check, clippy, tests, docs and interop, as CI runs them\n  \
         interop  the interop suite against oidc-provider (needs Node.js and npm)\n  \
         conformance [scenario…]  the MCP conformance suite's auth scenarios (needs npm)\n  \
         redis    installs redis-server (Debian package) when missing, for the Redis tests\n  \
         bench    criterion benchmarks beside their baselines (--quick: under two minutes)\n  \
         build-cost  cold build with tokensmith against reqwest and reqwest-middleware alone"
    );
}
