//! `cargo xtask redis`: makes sure `redis-server` and `redis-cli` are installed, for the tests
//! of `tokensmith-redis` (each starts its own servers on 127.0.0.1 and stops them by their pid;
//! the Cluster test joins six with `redis-cli --cluster create`). Installs Debian's
//! `redis-server` and `redis-tools` packages with apt when one is missing and this runs as root.

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(extra) = args.first() {
        return Err(format!("`redis` takes no arguments, got `{extra}`"));
    }
    crate::tools::debian(
        &["redis-server", "redis-cli"],
        &["redis-server", "redis-tools"],
        "the tests of tokensmith-redis",
    )
}
