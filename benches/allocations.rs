//! Allocations per warm `token()` and memory per key of a keyed manager, counted by an
//! instrumented global allocator.
//!
//! A binary of its own: the counting allocator keeps shared atomic counters, which would tax
//! every allocation of the timed benchmarks in `tokensmith.rs`. `cargo xtask bench` runs it
//! and reads `target/bench/allocations.json`.

use std::alloc::System;
use std::hint::black_box;

use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use tokensmith::{Cached, TokenManager};

#[path = "support/hour.rs"]
mod hour;

use hour::Instant1h;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn main() {
    const CALLS: u64 = 100_000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cache = Cached::new(Instant1h);
    rt.block_on(cache.token()).unwrap();
    let per_call = rt.block_on(async {
        let before = INSTRUMENTED_SYSTEM.stats();
        for _ in 0..CALLS {
            black_box(cache.token().await.unwrap());
        }
        let after = INSTRUMENTED_SYSTEM.stats();
        let events =
            (after.allocations - before.allocations) + (after.reallocations - before.reallocations);
        events as f64 / CALLS as f64
    });
    let bytes_per_key = keyed_bytes_per_key(&rt);
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .join("target")
        .join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    let json = format!(
        "{{\"cached_allocs_per_call\":{per_call},\"keyed_100k_bytes_per_key\":{bytes_per_key:.0}}}"
    );
    std::fs::write(dir.join("allocations.json"), &json).unwrap();
    println!("allocation figures: {json}");
}

/// Memory per key of a [`TokenManager`] holding 100,000 keys, each a cache with its token.
fn keyed_bytes_per_key(rt: &tokio::runtime::Runtime) -> f64 {
    const KEYS: u64 = 100_000;
    let held = || {
        let stats = INSTRUMENTED_SYSTEM.stats();
        stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
    };
    let before = held();
    let manager = TokenManager::new(|_: &u64| Ok(Cached::new(Instant1h))).capacity(KEYS as usize);
    rt.block_on(async {
        for key in 0..KEYS {
            manager.token(&key).await.unwrap();
        }
    });
    let bytes = (held() - before) as f64 / KEYS as f64;
    drop(manager);
    bytes
}
