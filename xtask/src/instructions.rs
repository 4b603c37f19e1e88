//! The instruction-count benchmarks (callgrind through gungraun): valgrind and the runner
//! installed, the bench run, its figures turned into rows beside the wall-clock ones.

use std::process::Stdio;

use crate::bench::Row;
use crate::run::cargo;

#[path = "../../benches/support/counts.rs"]
mod counts;

use counts::{FETCHES, GUNGRAUN, HITS, REQUESTS};

/// Runs the benchmarks and returns their rows.
pub(crate) fn rows() -> Result<Vec<Row>, String> {
    crate::tools::debian(
        &["valgrind"],
        &["valgrind"],
        "the instruction-count benchmarks",
    )?;
    crate::tools::cargo_tool(
        "gungraun-runner",
        &["--version"],
        "gungraun-runner",
        GUNGRAUN,
    )?;
    println!("==> instruction counts (callgrind)");
    let output = cargo(&[
        "bench",
        "-p",
        "tokensmith-benches",
        "--bench",
        "instructions",
        "--",
        "--output-format=json",
    ])
    .stderr(Stdio::inherit())
    .output()
    .map_err(|e| format!("instruction counts: could not start: {e}"))?;
    if !output.status.success() {
        return Err(format!("instruction counts failed ({})", output.status));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let ir = |function: &str, id: &str| {
        counts_of(&text, function, id).ok_or(format!("no instruction count for {function} {id}"))
    };
    let per = |n: usize| move |value: f64| value / n as f64;
    let hit = per(HITS)(ir("hit_tokensmith", "warm")?);
    let current = per(HITS)(ir("hit_tokensmith_current", "warm")?);
    let floor = per(HITS)(ir("hit_arc_clock_floor", "warm")?);
    let rwlock = per(HITS)(ir("hit_rwlock", "warm")?);
    let request = per(REQUESTS);
    let middleware = request(ir("middleware", "ours")? - ir("middleware", "static_header")?);
    let aliri = request(ir("middleware_012", "aliri")? - ir("middleware_012", "static_header")?);
    let tower = ir("tower_layered", "layer")?;
    let hyper = ir("tower_static", "static_header")?;
    let fetch = per(FETCHES)(ir("fetch_tokensmith", "ours")?);
    let fetch_oauth2 = per(FETCHES)(ir("fetch_oauth2_crate", "peer")?);
    Ok(vec![
        Row::new("ir_hit", hit, "instructions per warm `token()`"),
        Row::new(
            "ir_hit_current",
            current,
            "instructions per warm `current()`, the hit the middleware takes",
        ),
        Row::new(
            "ir_hit_floor",
            floor,
            "floor: a bare `Arc` clone and one coarse clock read",
        ),
        Row::new(
            "ir_hit_rwlock",
            rwlock,
            "baseline: tokio RwLock<Option<Token>>, read, checked, cloned",
        ),
        Row::target(
            "ir_hit_over_floor",
            current / floor,
            "`current()` / the floor",
            "<= 2",
            |v| v <= 2.0,
        ),
        Row::new(
            "ir_hit_over_rwlock",
            hit / rwlock,
            "`token()` / the RwLock baseline",
        ),
        Row::new(
            "ir_middleware_per_request",
            middleware,
            "instructions the bearer middleware adds to a request over a static header",
        ),
        Row::new(
            "ir_aliri_per_request",
            aliri,
            "peer: what aliri_reqwest adds over a static header (reqwest 0.12)",
        ),
        Row::target(
            "ir_middleware_over_aliri",
            middleware / aliri,
            "ours / the peer's, per request",
            "<= 1",
            |v| v <= 1.0,
        ),
        Row::new(
            "ir_tower_per_request",
            request(tower - hyper),
            "instructions the tower layer adds to a hyper-util request over a static header",
        ),
        Row::new(
            "ir_tower_over_hyper",
            tower / hyper,
            "whole requests through the layer / bare hyper-util (server side included)",
        ),
        Row::new(
            "ir_fetch",
            fetch,
            "instructions per client-credentials fetch (server side included)",
        ),
        Row::new("ir_fetch_oauth2", fetch_oauth2, "peer: the oauth2 crate's"),
        Row::target(
            "ir_fetch_over_oauth2",
            fetch / fetch_oauth2,
            "ours / the oauth2 crate's",
            "<= 1.0",
            |v| v <= 1.0,
        ),
    ])
}

/// The total instruction count (`Ir`) of benchmark `function` with `id`, from gungraun's
/// JSON lines (one object per benchmark).
fn counts_of(text: &str, function: &str, id: &str) -> Option<f64> {
    let line = text.lines().find(|line| {
        line.contains(&format!("\"function_name\":\"{function}\""))
            && line.contains(&format!("\"id\":\"{id}\""))
    })?;
    let total = line.find("\"total\"")?;
    let rest = &line[total..];
    let ir = rest.find("\"Ir\"")?;
    crate::bench::json_number(&rest[ir..], "new")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_total_instruction_count_of_one_benchmark() {
        let text = concat!(
            r#"{"function_name":"a","id":"x","profiles":[{"data":{"parts":[{"metrics":{"Ir":{"values":{"new":7}}}}],"#,
            r#""total":{"metrics":{"Dr":{"values":{"new":3}},"Ir":{"values":{"new":253018}}}}}}]}"#,
            "\n",
            r#"{"function_name":"a","id":"y","profiles":[{"data":{"total":{"metrics":{"Ir":{"values":{"new":5}}}}}}]}"#,
        );
        assert_eq!(counts_of(text, "a", "x"), Some(253018.0));
        assert_eq!(counts_of(text, "a", "y"), Some(5.0));
        assert_eq!(counts_of(text, "b", "x"), None);
    }
}
