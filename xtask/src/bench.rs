//! `cargo xtask bench [--quick]`: runs the criterion and instruction-count benchmarks and writes
//! `target/bench/summary.json` and a markdown table (`target/bench/summary.md`, and
//! `BENCHMARKS.md` after a full run), each figure beside its baseline from the same run.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use crate::run::{cargo, project_root, step};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let quick = match args {
        [] => false,
        [flag] if flag == "--quick" => true,
        _ => return Err(format!("`bench` takes only `--quick`, got {args:?}")),
    };
    let root = project_root();
    // The fleet figures start redis-server; without it they are left out.
    if let Err(e) = crate::redis::run(&[]) {
        println!("==> fleet figures will be skipped: {e}");
    }
    step(
        "allocation count",
        cargo(&[
            "bench",
            "-p",
            "tokensmith-benches",
            "--bench",
            "allocations",
        ]),
    )?;
    let mut bench = cargo(&["bench", "-p", "tokensmith-benches", "--bench", "tokensmith"]);
    // Criterion writes where the bench binary runs (the member's folder) unless told.
    bench.env("CRITERION_HOME", root.join("target").join("criterion"));
    if quick {
        bench.env("TOKENSMITH_BENCH_QUICK", "1");
    }
    step(
        if quick {
            "benchmarks (quick)"
        } else {
            "benchmarks"
        },
        bench,
    )?;

    let criterion = root.join("target").join("criterion");
    let median = |id: &str| median_ns(&criterion.join(id));
    let elements = |id: &str| elements(&criterion.join(id));
    let read = |name: &str| {
        fs::read_to_string(root.join("target/bench").join(name))
            .map_err(|e| format!("no {name} from the bench binaries: {e}"))
    };
    // Both files are flat JSON objects; their figures are looked up by name in either.
    let custom = format!("{},{}", read("custom.json")?, read("allocations.json")?);
    let number =
        |name: &str| json_number(&custom, name).ok_or(format!("no `{name}` in the bench figures"));

    // A paired figure: its median and the spread of its rounds, from custom.json.
    let paired = |name: &str| -> Result<Figure, String> {
        let value = |key: String| {
            json_number(&custom, &key).ok_or(format!("no `{key}` in the bench figures"))
        };
        Ok(Figure {
            value: value(name.to_owned())?,
            spread: Some((value(format!("{name}_min"))?, value(format!("{name}_max"))?)),
        })
    };
    let single = median("cached_single/tokensmith")?;
    let single_rwlock = median("cached_single/rwlock")?;
    let single_mutex = median("cached_single/mutex")?;
    let per_second = |id: &str| -> Result<f64, String> { Ok(elements(id)? / (median(id)? * 1e-9)) };
    let contended = per_second("contended/tokensmith")?;
    let contended_rwlock = per_second("contended/rwlock")?;
    let contended_mutex = per_second("contended/mutex")?;
    let middleware = per_second("middleware/tokensmith")?;
    let middleware_static = per_second("middleware/static_header")?;
    let fetch = median("token_fetch/tokensmith")?;
    let fetch_oauth2 = median("token_fetch/oauth2_crate")?;

    let mut rows = vec![
        Row::new("cached_single_ns", single, "ns per warm `token()`"),
        Row::new(
            "cached_single_rwlock_ns",
            single_rwlock,
            "baseline: tokio RwLock<Option<Token>>",
        ),
        Row::new(
            "cached_single_mutex_ns",
            single_mutex,
            "baseline: tokio Mutex<Option<Token>>",
        ),
        Row::target(
            "cached_single_ratio",
            paired("hit_vs_rwlock")?,
            "RwLock time / ours, median of paired rounds (min-max)",
            ">= 3",
            |v| v >= 3.0,
        ),
        Row::new(
            "hit_vs_aliri_ratio",
            paired("hit_vs_aliri")?,
            "aliri_tokens `TokenWatcher` borrow time / ours, paired",
        ),
        Row::new(
            "hit_over_arc_clone",
            paired("hit_floor")?,
            "ours / a bare `Arc` clone (the floor), paired",
        ),
        Row::target(
            "cached_allocs_per_call",
            number("cached_allocs_per_call")?,
            "allocations per warm `token()`",
            "0",
            |v| v == 0.0,
        ),
        Row::new("contended_calls_per_s", contended, "2 threads x 64 tasks"),
        Row::new(
            "contended_rwlock_calls_per_s",
            contended_rwlock,
            "baseline: RwLock",
        ),
        Row::new(
            "contended_mutex_calls_per_s",
            contended_mutex,
            "baseline: Mutex",
        ),
        Row::target(
            "contended_ratio",
            paired("contended_vs_rwlock")?,
            "ours / RwLock calls per second, paired",
            ">= 3",
            |v| v >= 3.0,
        ),
        Row::target(
            "herd_token_requests",
            number("herd_token_requests")?,
            "token requests for 10,000 cold callers",
            "1",
            |v| v == 1.0,
        ),
        Row::target(
            "herd_vs_single_ratio",
            number("herd_vs_single_ratio")?,
            "herd wall time / one fetch (50 ms endpoint)",
            "<= 1.5",
            |v| v <= 1.5,
        ),
        Row::new(
            "herd_vs_single_ratio_loopback",
            number("herd_vs_single_ratio_loopback")?,
            "same, endpoint answering at loopback speed",
        ),
        Row::new(
            "refresh_p99_ns",
            number("refresh_p99_ns")?,
            "p99 of callers during a 200 ms refresh",
        ),
        Row::new(
            "warm_p99_ns",
            number("warm_p99_ns")?,
            "p99 of the same callers, no refresh",
        ),
        Row::target(
            "refresh_vs_warm_p99_ratio",
            number("refresh_p99_ns")? / number("warm_p99_ns")?,
            "same order as the warm path",
            "<= 10",
            |v| v <= 10.0,
        ),
        Row::new(
            "middleware_calls_per_s",
            middleware,
            "requests/s with the bearer middleware",
        ),
        Row::new(
            "middleware_static_calls_per_s",
            middleware_static,
            "baseline: a static Authorization header",
        ),
        Row::target(
            "middleware_ratio",
            paired("middleware_paired")?,
            "ours / static header requests per second, paired bursts",
            ">= 0.98",
            |v| v >= 0.98,
        ),
        Row::new(
            "no_replay_middleware_ratio",
            paired("no_replay_middleware_paired")?,
            "the middleware without the 401 replay / static header, paired bursts",
        ),
        Row::new(
            "noop_middleware_ratio",
            paired("noop_middleware_paired")?,
            "a no-op middleware layer / static header, paired bursts",
        ),
        Row::new(
            "aliri_middleware_ratio",
            paired("aliri_middleware_paired")?,
            "peer: aliri_reqwest 0.5.1 / static header, both on reqwest 0.12, paired bursts",
        ),
        Row::new("fetch_ns", fetch, "one client-credentials fetch"),
        Row::new(
            "fetch_oauth2_ns",
            fetch_oauth2,
            "baseline: the oauth2 crate",
        ),
        Row::target(
            "fetch_vs_oauth2_ratio",
            paired("fetch_oauth2_over_ours")?.inverse(),
            "our fetch time / the oauth2 crate's, paired",
            "<= 1.0",
            |v| v <= 1.0,
        ),
        Row::new(
            "keyed_100k_bytes_per_key",
            number("keyed_100k_bytes_per_key")?,
            "bytes per key of a TokenManager holding 100,000 keys (cache and token)",
        ),
        Row::new(
            "keyed_100k_lookup_over_hit",
            paired("keyed_100k_lookup_over_hit")?,
            "a lookup among 100,000 keys / a single-key hit, paired",
        ),
    ];
    rows.extend(crate::instructions::rows()?);
    // Present when a redis-server could be started.
    if json_number(&custom, "fleet_token_requests").is_some() {
        rows.extend([
            Row::target(
                "fleet_token_requests",
                number("fleet_token_requests")?,
                "token requests of 16 replica processes starting together (50 ms endpoint)",
                "1",
                |v| v == 1.0,
            ),
            Row::target(
                "fleet_token_requests_64",
                number("fleet_token_requests_64")?,
                "token requests of 64 replica processes starting together",
                "1",
                |v| v == 1.0,
            ),
            Row::target(
                "fleet_token_requests_3_lifetimes",
                number("fleet_token_requests_3_lifetimes")?,
                "same over three 2 s lifetimes, refreshing 10% ahead (16 alone: ~16x)",
                "<= 4",
                |v| v <= 4.0,
            ),
            Row::new(
                "fleet_token_requests_3_lifetimes_alone",
                number("fleet_token_requests_3_lifetimes_alone")?,
                "baseline: one replica alone, same setting",
            ),
            Row::target(
                "fleet_dead_holder_extra_ms",
                number("fleet_dead_holder_extra_ms")?,
                "extra latency after the lock holder was SIGKILLed mid-fetch",
                "<= lock_wait (3000)",
                |v| v <= 3100.0,
            ),
            Row::target(
                "fleet_dead_holder_errors",
                number("fleet_dead_holder_errors")?,
                "errors the next replica saw",
                "0",
                |v| v == 0.0,
            ),
            Row::target(
                "fleet_429_requests",
                number("fleet_429_requests")?,
                "token requests of 16 replicas in 4 s against 429 with Retry-After: 2 (one at \
                 0 s, 2 s and 4 s is one per period)",
                "<= 3",
                |v| v <= 3.0,
            ),
            Row::target(
                "fleet_l2_hit_p99_over_redis_get",
                number("fleet_l2_hit_p99_over_redis_get")?,
                "p99 of a token read from Redis / p99 of a bare GET, same client library, same run",
                "<= 2",
                |v| v <= 2.0,
            ),
            Row::target(
                "fleet_redis_down_errors",
                number("fleet_redis_down_errors")?,
                "errors callers saw with Redis stopped midway",
                "0",
                |v| v == 0.0,
            ),
            Row::target(
                "fleet_redis_down_token_requests",
                number("fleet_redis_down_token_requests")?,
                "token requests meanwhile (1 s tokens, 4 s)",
                "<= 16 x lifetimes",
                |v| v <= 16.0 * 5.0,
            ),
            Row::new(
                "fleet_l2_hit_p99_us",
                number("fleet_l2_hit_p99_us")?,
                "p99 of a token read from Redis on loopback (a miss in memory)",
            ),
            Row::new(
                "fleet_redis_get_p99_us",
                number("fleet_redis_get_p99_us")?,
                "baseline: p99 of a bare GET of the same key, alternating with those reads",
            ),
            Row::new(
                "fleet_memory_hit_p99_us",
                number("fleet_memory_hit_p99_us")?,
                "p99 of a token read from memory",
            ),
            Row::target(
                "fleet_session_errors",
                number("fleet_session_errors")?,
                "8 replica processes on one user's session, 2 s tokens, 6 s, reuse revokes",
                "0",
                |v| v == 0.0,
            ),
            Row::target(
                "fleet_session_refresh_reuses",
                number("fleet_session_refresh_reuses")?,
                "rotated refresh tokens used again",
                "0",
                |v| v == 0.0,
            ),
            Row::new(
                "fleet_session_refreshes",
                number("fleet_session_refreshes")?,
                "refreshes for the fleet in those 6 s",
            ),
        ]);
    }

    let out = root.join("target").join("bench");
    fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let json = summary_json(&rows);
    fs::write(out.join("summary.json"), &json).map_err(|e| e.to_string())?;
    let table = markdown(&rows, quick);
    fs::write(out.join("summary.md"), &table).map_err(|e| e.to_string())?;
    if !quick {
        fs::write(root.join("BENCHMARKS.md"), &table).map_err(|e| e.to_string())?;
    }
    println!("{table}");
    println!("==> wrote {}", out.join("summary.json").display());
    Ok(())
}

/// A figure, with the spread of its paired rounds when it has them.
#[derive(Clone, Copy)]
pub(crate) struct Figure {
    value: f64,
    spread: Option<(f64, f64)>,
}

impl Figure {
    /// The reciprocal, for a ratio read the other way round.
    fn inverse(self) -> Self {
        Self {
            value: 1.0 / self.value,
            spread: self.spread.map(|(min, max)| (1.0 / max, 1.0 / min)),
        }
    }
}

impl From<f64> for Figure {
    fn from(value: f64) -> Self {
        Self {
            value,
            spread: None,
        }
    }
}

pub(crate) struct Row {
    key: &'static str,
    value: f64,
    spread: Option<(f64, f64)>,
    what: &'static str,
    target: Option<(&'static str, bool)>,
}

impl Row {
    pub(crate) fn new(key: &'static str, value: impl Into<Figure>, what: &'static str) -> Self {
        let figure = value.into();
        Self {
            key,
            value: figure.value,
            spread: figure.spread,
            what,
            target: None,
        }
    }

    pub(crate) fn target(
        key: &'static str,
        value: impl Into<Figure>,
        what: &'static str,
        target: &'static str,
        met: fn(f64) -> bool,
    ) -> Self {
        let row = Self::new(key, value, what);
        Self {
            target: Some((target, met(row.value))),
            ..row
        }
    }
}

fn summary_json(rows: &[Row]) -> String {
    let mut fields = Vec::new();
    for row in rows {
        fields.push(format!("  \"{}\": {}", row.key, format_number(row.value)));
        if let Some((min, max)) = row.spread {
            fields.push(format!("  \"{}_min\": {}", row.key, format_number(min)));
            fields.push(format!("  \"{}_max\": {}", row.key, format_number(max)));
        }
    }
    format!("{{\n{}\n}}\n", fields.join(",\n"))
}

fn format_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

fn markdown(rows: &[Row], quick: bool) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "# Benchmarks\n");
    let _ = writeln!(
        text,
        "Measured by `cargo xtask bench{}` on {}: {}, {} cores, {}. Each figure comes with its \
         baseline from the same run; ratios are what to compare, since the machine is shared \
         and noisy. A ratio with a range is the median of paired rounds (the two sides run \
         back to back in alternating order), with the lowest and highest round.\n",
        if quick { " --quick" } else { "" },
        command_line("date", &["-u", "+%Y-%m-%d"]),
        cpu_model(),
        command_line("nproc", &[]),
        command_line("rustc", &["--version"]),
    );
    let _ = writeln!(text, "| figure | value | what | target | met |");
    let _ = writeln!(text, "| --- | ---: | --- | --- | --- |");
    for row in rows {
        let (target, met) = match row.target {
            Some((target, met)) => (target, if met { "yes" } else { "**no**" }),
            None => ("", ""),
        };
        let value = match row.spread {
            Some((min, max)) => format!(
                "{} ({}-{})",
                format_number(row.value),
                format_number(min),
                format_number(max)
            ),
            None => format_number(row.value),
        };
        let _ = writeln!(
            text,
            "| `{}` | {} | {} | {} | {} |",
            row.key, value, row.what, target, met
        );
    }
    // The analysis behind the figures, kept by hand beside the benchmarks.
    if let Ok(findings) = fs::read_to_string(project_root().join("benches/FINDINGS.md")) {
        let _ = write!(text, "\n{findings}");
    }
    text
}

fn command_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The median point estimate, in ns, of a criterion benchmark.
fn median_ns(dir: &Path) -> Result<f64, String> {
    let path = dir.join("new").join("estimates.json");
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let median = text
        .find("\"median\"")
        .ok_or(format!("no median in {}", path.display()))?;
    json_number(&text[median..], "point_estimate")
        .ok_or(format!("no point estimate in {}", path.display()))
}

/// The number of elements one iteration of a criterion benchmark handles.
fn elements(dir: &Path) -> Result<f64, String> {
    let path = dir.join("new").join("benchmark.json");
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    json_number(&text, "Elements").ok_or(format!("no throughput in {}", path.display()))
}

/// The first number after `"name":` in a JSON text.
pub(crate) fn json_number(text: &str, name: &str) -> Option<f64> {
    let key = format!("\"{name}\":");
    let start = text.find(&key)? + key.len();
    let rest = text[start..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | 'e' | 'E' | '+')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests;
