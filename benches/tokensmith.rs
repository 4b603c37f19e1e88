//! tokensmith's benchmarks, each beside the baseline a user would otherwise write, in one run.
//!
//! Run through `cargo xtask bench` (or `cargo xtask bench --quick`), which turns criterion's
//! estimates and the figures this binary writes to `target/bench/custom.json` into
//! `target/bench/summary.json` and `BENCHMARKS.md`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokensmith::RetryPolicy;

use async_trait::async_trait;
use criterion::Criterion;
use tokensmith::oauth2::{ClientCredentials, TokenEndpoint};
use tokensmith::reqwest::{BearerAuth, reqwest_middleware};
use tokensmith::{AccessToken, Cached, RefreshAhead, TokenManager, TokenSource};
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Fault, Target, TestServer};
use tokio::runtime::Runtime;

#[path = "support/fleet.rs"]
mod fleet;
#[path = "support/hour.rs"]
mod hour;
#[path = "support/peers.rs"]
mod peers;

use peers::{OAuth2Client, aliri_watcher, oauth2_fetch};

use hour::Instant1h;

fn hour_token() -> AccessToken {
    AccessToken::builder("bench-token")
        .expires_in(Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// The cache a user would hand-write: a lock around an optional token, an expiry check, a
/// clone.
async fn rwlock_token(lock: &tokio::sync::RwLock<Option<AccessToken>>) -> AccessToken {
    let guard = lock.read().await;
    match &*guard {
        Some(token) if !token.is_expired() => token.clone(),
        _ => unreachable!("the baseline is warm"),
    }
}

async fn mutex_token(lock: &tokio::sync::Mutex<Option<AccessToken>>) -> AccessToken {
    let guard = lock.lock().await;
    match &*guard {
        Some(token) if !token.is_expired() => token.clone(),
        _ => unreachable!("the baseline is warm"),
    }
}

fn runtime(threads: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
}

fn cached_single(c: &mut Criterion, rt: &Runtime) {
    let cache = Cached::new(Instant1h);
    rt.block_on(cache.token()).unwrap();
    let rwlock = tokio::sync::RwLock::new(Some(hour_token()));
    let mutex = tokio::sync::Mutex::new(Some(hour_token()));
    let mut group = c.benchmark_group("cached_single");
    group.bench_function("tokensmith", |b| {
        b.iter_custom(|iters| time_calls(rt, iters, || async { cache.token().await.unwrap() }))
    });
    group.bench_function("rwlock", |b| {
        b.iter_custom(|iters| time_calls(rt, iters, || rwlock_token(&rwlock)))
    });
    group.bench_function("mutex", |b| {
        b.iter_custom(|iters| time_calls(rt, iters, || mutex_token(&mutex)))
    });
    group.finish();
}

/// Time for `iters` sequential calls on the current thread.
fn time_calls<F, Fut>(rt: &Runtime, iters: u64, call: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(call().await);
        }
        start.elapsed()
    })
}

/// Tasks and calls per task in one contended iteration: 2 threads × 64 tasks.
const TASKS: usize = 128;
const CALLS_PER_TASK: usize = 100;

fn contended(c: &mut Criterion) {
    let rt = runtime(2);
    let cache = Cached::new(Instant1h);
    rt.block_on(cache.token()).unwrap();
    let rwlock = Arc::new(tokio::sync::RwLock::new(Some(hour_token())));
    let mutex = Arc::new(tokio::sync::Mutex::new(Some(hour_token())));
    let mut group = c.benchmark_group("contended");
    group.throughput(criterion::Throughput::Elements(
        (TASKS * CALLS_PER_TASK) as u64,
    ));
    group.bench_function("tokensmith", |b| {
        b.iter_custom(|iters| time_tasks(&rt, iters, || cached_task(cache.clone())))
    });
    group.bench_function("rwlock", |b| {
        b.iter_custom(|iters| time_tasks(&rt, iters, || rwlock_task(Arc::clone(&rwlock))))
    });
    group.bench_function("mutex", |b| {
        b.iter_custom(|iters| {
            time_tasks(&rt, iters, || {
                let lock = Arc::clone(&mutex);
                async move {
                    for _ in 0..CALLS_PER_TASK {
                        black_box(mutex_token(&lock).await);
                    }
                }
            })
        })
    });
    group.finish();
}

/// One contended task: [`CALLS_PER_TASK`] warm calls on the cache.
async fn cached_task(cache: Cached<Instant1h>) {
    for _ in 0..CALLS_PER_TASK {
        black_box(cache.token().await.unwrap());
    }
}

/// The same on the RwLock baseline.
async fn rwlock_task(lock: Arc<tokio::sync::RwLock<Option<AccessToken>>>) {
    for _ in 0..CALLS_PER_TASK {
        black_box(rwlock_token(&lock).await);
    }
}

/// Time for `iters` rounds of [`TASKS`] tasks made by `task`, spread over the runtime's threads.
fn time_tasks<F, Fut>(rt: &Runtime, iters: u64, task: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            let tasks: Vec<_> = (0..TASKS).map(|_| tokio::spawn(task())).collect();
            for task in tasks {
                task.await.unwrap();
            }
        }
        start.elapsed()
    })
}

/// Requests and concurrency in one middleware iteration.
const REQUESTS: usize = 64;
const CONCURRENCY: usize = 16;

async fn small_api() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|| async { "{\"ok\":true}" });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, task)
}

async fn burst(client: &reqwest_middleware::ClientWithMiddleware, url: &str) {
    burst_with(client, url, |client, url| async move {
        let answer = client.get(&url).send().await.unwrap();
        black_box(answer.bytes().await.unwrap());
    })
    .await;
}

/// The same burst on the reqwest 0.12 stack the peer middleware is built on.
async fn burst_012(client: &reqwest_middleware_04::ClientWithMiddleware, url: &str) {
    burst_with(client, url, |client, url| async move {
        let answer = client.get(&url).send().await.unwrap();
        black_box(answer.bytes().await.unwrap());
    })
    .await;
}

/// [`REQUESTS`] requests by [`CONCURRENCY`] tasks, each sent with `send`.
async fn burst_with<C, F, Fut>(client: &C, url: &str, send: F)
where
    C: Clone + Send + 'static,
    F: Fn(C, String) -> Fut + Copy + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut tasks = Vec::with_capacity(CONCURRENCY);
    for _ in 0..CONCURRENCY {
        let client = client.clone();
        let url = url.to_owned();
        tasks.push(tokio::spawn(async move {
            for _ in 0..REQUESTS / CONCURRENCY {
                send(client.clone(), url.clone()).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// The two clients the middleware benchmarks compare: the bearer middleware, and the same
/// reqwest stack with a static `Authorization` header.
fn middleware_clients(
    addr: std::net::SocketAddr,
) -> (
    reqwest_middleware::ClientWithMiddleware,
    reqwest_middleware::ClientWithMiddleware,
) {
    let cache = Cached::new(Instant1h);
    let provider: Arc<dyn tokensmith::TokenProvider> = Arc::new(cache);
    // Both clients are built the same way: no Referer, redirects kept on the origin.
    let with_middleware = BearerAuth::builder(provider)
        .for_origin(format!("http://{addr}"))
        .build()
        .unwrap()
        .into_client(Some(reqwest::Client::builder()))
        .unwrap();
    let static_header = reqwest_middleware::ClientBuilder::new(static_header_http()).build();
    (with_middleware, static_header)
}

/// The baseline's reqwest client: a static `Authorization` header, and the redirect and
/// referer policy tokensmith sets on its own clients.
fn static_header_http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        hour_token().authorization_header(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(tokensmith::reqwest::same_origin_redirects())
        .referer(false)
        .build()
        .unwrap()
}

fn middleware(c: &mut Criterion) {
    let rt = runtime(2);
    let (addr, _server) = rt.block_on(small_api());
    let url = format!("http://{addr}/api/things");
    let (with_middleware, static_header) = middleware_clients(addr);
    let mut group = c.benchmark_group("middleware");
    group.throughput(criterion::Throughput::Elements(REQUESTS as u64));
    for (name, client) in [
        ("tokensmith", &with_middleware),
        ("static_header", &static_header),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| time_calls(&rt, iters, || burst(client, &url)))
        });
    }
    group.finish();
}

/// The two token clients the fetch benchmarks compare, with the same settings: no retries,
/// no redirects, a 10 s connect timeout and a 30 s bound on the call (tokensmith's defaults,
/// which cost a timer per call).
fn fetch_clients(
    server: &TestServer,
) -> (
    tokensmith::oauth2::GrantSource,
    OAuth2Client,
    oauth2::reqwest::Client,
) {
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let ours = ClientCredentials::new(endpoint).build_source();
    let (theirs, http) =
        peers::oauth2_client(server.token_url(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET);
    (ours, theirs, http)
}

fn token_fetch(c: &mut Criterion) {
    let rt = runtime(2);
    let server = rt.block_on(TestServer::start()).unwrap();
    let (ours, theirs, http) = fetch_clients(&server);
    let mut group = c.benchmark_group("token_fetch");
    group.bench_function("tokensmith", |b| {
        b.iter_custom(|iters| time_calls(&rt, iters, || async { ours.fetch().await.unwrap() }))
    });
    group.bench_function("oauth2_crate", |b| {
        b.iter_custom(|iters| time_calls(&rt, iters, || oauth2_fetch(&theirs, &http)))
    });
    group.finish();
}

/// A middleware that does nothing: what one reqwest-middleware layer costs by itself.
struct Noop;

#[async_trait]
impl reqwest_middleware::Middleware for Noop {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        next.run(request, extensions).await
    }
}

/// Paired ratios of middleware bursts, each against a static `Authorization` header on the
/// same stack (above 1: faster than the static header).
struct MiddlewareRatios {
    /// The bearer middleware.
    ours: Paired,
    /// The bearer middleware without the 401 replay (which copies each request).
    no_replay: Paired,
    /// A no-op middleware layer: what the framework costs by itself.
    noop: Paired,
    /// The peer, aliri_reqwest's `AccessTokenMiddleware`, on reqwest 0.12 and
    /// reqwest-middleware 0.4, against a static header on that stack.
    aliri: Paired,
}

fn middleware_paired(rounds: usize) -> MiddlewareRatios {
    let rt = runtime(2);
    let (addr, _server) = rt.block_on(small_api());
    let url = format!("http://{addr}/api/things");
    let (ours, baseline) = middleware_clients(addr);
    let noop = reqwest_middleware::ClientBuilder::new(static_header_http())
        .with(Noop)
        .build();
    let provider: Arc<dyn tokensmith::TokenProvider> = Arc::new(Cached::new(Instant1h));
    let no_replay = BearerAuth::builder(provider)
        .for_origin(format!("http://{addr}"))
        .no_retry_on_unauthorized()
        .build()
        .unwrap()
        .into_client(Some(reqwest::Client::builder()))
        .unwrap();
    let (aliri, aliri_baseline) = aliri_clients(&rt);
    let time = |client| {
        rt.block_on(async {
            let start = Instant::now();
            burst(client, &url).await;
            start.elapsed().as_secs_f64()
        })
    };
    let time_012 = |client| {
        rt.block_on(async {
            let start = Instant::now();
            burst_012(client, &url).await;
            start.elapsed().as_secs_f64()
        })
    };
    MiddlewareRatios {
        ours: Paired::of(rounds, || time(&ours), || time(&baseline)),
        no_replay: Paired::of(rounds, || time(&no_replay), || time(&baseline)),
        noop: Paired::of(rounds, || time(&noop), || time(&baseline)),
        aliri: Paired::of(rounds, || time_012(&aliri), || time_012(&aliri_baseline)),
    }
}

/// aliri_reqwest's middleware over a `TokenWatcher` (sending to 127.0.0.1), and a static
/// header, on reqwest 0.12.
fn aliri_clients(
    rt: &Runtime,
) -> (
    reqwest_middleware_04::ClientWithMiddleware,
    reqwest_middleware_04::ClientWithMiddleware,
) {
    let watcher = aliri_watcher(rt);
    let http = |headers| {
        reqwest_012::Client::builder()
            .default_headers(headers)
            .redirect(reqwest_012::redirect::Policy::none())
            .referer(false)
            .build()
            .unwrap()
    };
    let middleware = aliri_reqwest::AccessTokenMiddleware::new(watcher)
        .with_predicate(aliri_reqwest::ExactHostMatch::new("127.0.0.1"));
    let aliri =
        reqwest_middleware_04::ClientBuilder::new(http(reqwest_012::header::HeaderMap::new()))
            .with(middleware)
            .build();
    let mut headers = reqwest_012::header::HeaderMap::new();
    headers.insert(
        reqwest_012::header::AUTHORIZATION,
        reqwest_012::header::HeaderValue::from_static("Bearer bench-token"),
    );
    let baseline = reqwest_middleware_04::ClientBuilder::new(http(headers)).build();
    (aliri, baseline)
}

/// The ratios of paired rounds: per round, `baseline`'s time over `ours` (above 1: ours is
/// faster), the two run back to back in alternating order so that the machine's drift hits
/// both alike. One noisy round cannot move the median.
struct Paired {
    median: f64,
    min: f64,
    max: f64,
}

impl Paired {
    fn of(rounds: usize, mut ours: impl FnMut() -> f64, mut baseline: impl FnMut() -> f64) -> Self {
        for _ in 0..2 {
            ours();
            baseline();
        }
        let mut ratios: Vec<f64> = (0..rounds)
            .map(|round| {
                let (a, b) = if round % 2 == 0 {
                    let a = ours();
                    (a, baseline())
                } else {
                    let b = baseline();
                    (ours(), b)
                };
                b / a
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        Self {
            median: ratios[ratios.len() / 2],
            min: ratios[0],
            max: ratios[ratios.len() - 1],
        }
    }

    /// `"name":median,"name_min":…,"name_max":…` for custom.json.
    fn json(&self, name: &str) -> String {
        format!(
            "\"{name}\":{:.4},\"{name}_min\":{:.4},\"{name}_max\":{:.4}",
            self.median, self.min, self.max
        )
    }
}

/// Seconds for `calls` sequential awaits of `call` on `rt`.
fn seconds<F, Fut>(rt: &Runtime, calls: u64, call: F) -> f64
where
    F: Fn() -> Fut,
    Fut: std::future::Future,
{
    time_calls(rt, calls, call).as_secs_f64()
}

/// Paired ratios of the warm hit: against the hand-written RwLock cache, against the peer
/// `aliri_tokens` (a `TokenWatcher` borrow), and the floor (a bare `Arc` clone) over ours.
fn hit_ratios(rt: &Runtime, rounds: usize) -> (Paired, Paired, Paired) {
    const CALLS: u64 = 20_000;
    let cache = Cached::new(Instant1h);
    rt.block_on(cache.token()).unwrap();
    let rwlock = tokio::sync::RwLock::new(Some(hour_token()));
    let watcher = aliri_watcher(rt);
    let ours = || seconds(rt, CALLS, || async { cache.token().await.unwrap() });
    let vs_rwlock = Paired::of(rounds, ours, || {
        seconds(rt, CALLS, || rwlock_token(&rwlock))
    });
    let vs_aliri = Paired::of(rounds, ours, || {
        seconds(rt, CALLS, || async {
            let token = watcher.token();
            token.access_token().as_str().len()
        })
    });
    let token = hour_token();
    let floor = Paired::of(
        rounds,
        || seconds(rt, CALLS, || async { token.clone() }),
        ours,
    );
    (vs_rwlock, vs_aliri, floor)
}

/// Paired ratio of contended calls: ours against the RwLock cache, 2 threads x 64 tasks.
fn contended_ratio(rounds: usize) -> Paired {
    let rt = runtime(2);
    let cache = Cached::new(Instant1h);
    rt.block_on(cache.token()).unwrap();
    let rwlock = Arc::new(tokio::sync::RwLock::new(Some(hour_token())));
    Paired::of(
        rounds,
        || time_tasks(&rt, 4, || cached_task(cache.clone())).as_secs_f64(),
        || time_tasks(&rt, 4, || rwlock_task(Arc::clone(&rwlock))).as_secs_f64(),
    )
}

/// Paired ratio of client-credentials fetches against the testkit: the oauth2 crate's time
/// over ours (above 1: ours is faster), 20 fetches a round each.
fn fetch_ratio(rounds: usize) -> Paired {
    // Each round builds both clients anew (and warms their connections), so that neither
    // keeps a lucky or unlucky placement of its connection's tasks for the whole run.
    const CALLS: u64 = 50;
    let rt = runtime(2);
    let server = rt.block_on(TestServer::start()).unwrap();
    Paired::of(
        rounds,
        || {
            let (ours, _, _) = fetch_clients(&server);
            rt.block_on(ours.fetch()).unwrap();
            seconds(&rt, CALLS, || async { ours.fetch().await.unwrap() })
        },
        || {
            let (_, theirs, http) = fetch_clients(&server);
            rt.block_on(oauth2_fetch(&theirs, &http));
            seconds(&rt, CALLS, || oauth2_fetch(&theirs, &http))
        },
    )
}

/// 10,000 concurrent callers on an empty cache against the testkit, against one fetch; with
/// `latency`, the token endpoint takes that long to answer, as real ones do.
fn herd(rt: &Runtime, rounds: usize, latency: Option<Duration>) -> (u64, f64) {
    rt.block_on(async {
        let server = TestServer::start().await.unwrap();
        if let Some(latency) = latency {
            server.fail_share(Target::Token, 1.0, Fault::Delay(latency));
        }
        let provider = || {
            ClientCredentials::basic(server.token_url(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
                .unwrap()
                .build()
        };
        let mut singles = Vec::new();
        let mut herds = Vec::new();
        let mut herd_requests = 0;
        for _ in 0..rounds {
            let single = provider();
            let start = Instant::now();
            single.token().await.unwrap();
            singles.push(start.elapsed());

            let cache = provider();
            let before = server.counters().token_requests;
            let start = Instant::now();
            let callers: Vec<_> = (0..10_000)
                .map(|_| {
                    let cache = cache.clone();
                    tokio::spawn(async move { cache.token().await.map(|_| ()) })
                })
                .collect();
            for caller in callers {
                caller.await.unwrap().unwrap();
            }
            herds.push(start.elapsed());
            herd_requests = herd_requests.max(server.counters().token_requests - before);
        }
        (
            herd_requests,
            median(&mut herds).as_secs_f64() / median(&mut singles).as_secs_f64(),
        )
    })
}

/// p99 latency of callers while a refresh is in flight against a 200 ms endpoint, and of the
/// same callers on a warm cache with no refresh going on.
fn refresh_p99(rt: &Runtime) -> (u64, u64) {
    rt.block_on(async {
        let server = TestServer::builder()
            .token_lifetime(Duration::from_secs(2))
            .start()
            .await
            .unwrap();
        let source =
            ClientCredentials::basic(server.token_url(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
                .unwrap()
                .build_source();
        // Refresh from mid-life on: a 2 s token is refreshed ahead from 0.9 s.
        let cache = Cached::builder(source)
            .refresh_ahead(
                RefreshAhead::new(1.0, Duration::ZERO, Duration::from_secs(3600)).with_jitter(0.0),
            )
            .build()
            .unwrap();
        cache.token().await.unwrap();
        let warm = latencies(&cache, Duration::from_millis(150)).await;
        server.fail_share(Target::Token, 1.0, Fault::Delay(Duration::from_millis(200)));
        tokio::time::sleep(Duration::from_millis(950)).await;
        let during = latencies(&cache, Duration::from_millis(150)).await;
        assert!(
            cache.stats().refreshes_ahead >= 1,
            "a refresh was in flight"
        );
        (p99(during), p99(warm))
    })
}

async fn latencies(cache: &Cached<tokensmith::oauth2::GrantSource>, span: Duration) -> Vec<u64> {
    let end = Instant::now() + span;
    let mut samples = Vec::new();
    while Instant::now() < end && samples.len() < 1_000_000 {
        let start = Instant::now();
        black_box(cache.token().await.unwrap());
        samples.push(start.elapsed().as_nanos() as u64);
    }
    samples
}

fn p99(mut samples: Vec<u64>) -> u64 {
    samples.sort_unstable();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// The paired ratio of a lookup among the 100,000 keys of a [`TokenManager`] to a
/// single-key hit (above 1: slower).
fn keyed_lookup(rt: &Runtime, rounds: usize) -> Paired {
    const KEYS: u64 = 100_000;
    let manager = TokenManager::new(|_: &u64| Ok(Cached::new(Instant1h))).capacity(KEYS as usize);
    rt.block_on(async {
        for key in 0..KEYS {
            manager.token(&key).await.unwrap();
        }
    });
    let single = Cached::new(Instant1h);
    rt.block_on(single.token()).unwrap();
    const CALLS: u64 = 20_000;
    Paired::of(
        rounds,
        || seconds(rt, CALLS, || async { single.token().await.unwrap() }),
        || {
            let key = std::sync::atomic::AtomicU64::new(0);
            seconds(rt, CALLS, || {
                // A different key each call, spread over the 100,000.
                let k = key.fetch_add(7919, std::sync::atomic::Ordering::Relaxed) % KEYS;
                let manager = &manager;
                async move { manager.token(&k).await.unwrap() }
            })
        },
    )
}

fn main() {
    if let Ok(spec) = std::env::var(fleet::REPLICA_ENV) {
        fleet::replica_main(&spec);
        return;
    }
    let quick = std::env::var_os("TOKENSMITH_BENCH_QUICK").is_some();
    let mut c = Criterion::default().configure_from_args();
    c = if quick {
        c.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(10)
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4))
            .sample_size(30)
    };
    let rt = runtime(1);
    cached_single(&mut c, &rt);
    contended(&mut c);
    middleware(&mut c);
    token_fetch(&mut c);
    c.final_summary();
    if std::env::var_os("TOKENSMITH_BENCH_PROFILE").is_some() {
        // Under a profiler (`--profile-time`), only the benchmark named on the command line.
        return;
    }

    let rounds = if quick { 3 } else { 7 };
    let (herd_requests, herd_ratio) = herd(&runtime(2), rounds, Some(Duration::from_millis(50)));
    let (loopback_requests, loopback_ratio) = herd(&runtime(2), rounds, None);
    let herd_requests = herd_requests.max(loopback_requests);
    let (refresh_p99_ns, warm_p99_ns) = refresh_p99(&runtime(2));
    let rounds = if quick { 41 } else { 101 };
    let (hit, hit_aliri, hit_floor) = hit_ratios(&rt, rounds);
    let contended = contended_ratio(rounds);
    let fetch = fetch_ratio(rounds);
    let middleware = middleware_paired(if quick { 400 } else { 1000 });
    let keyed_lookup = keyed_lookup(&rt, rounds);
    let fleet = fleet::figures(&runtime(2)).map_or_else(String::new, |f| format!(",{}", f.json()));
    let paired = [
        hit.json("hit_vs_rwlock"),
        hit_aliri.json("hit_vs_aliri"),
        hit_floor.json("hit_floor"),
        contended.json("contended_vs_rwlock"),
        fetch.json("fetch_oauth2_over_ours"),
        middleware.ours.json("middleware_paired"),
        middleware.no_replay.json("no_replay_middleware_paired"),
        middleware.noop.json("noop_middleware_paired"),
        middleware.aliri.json("aliri_middleware_paired"),
        keyed_lookup.json("keyed_100k_lookup_over_hit"),
    ]
    .join(",");
    let custom = format!(
        "{{\"herd_token_requests\":{herd_requests},\
         \"herd_vs_single_ratio\":{herd_ratio:.3},\"herd_vs_single_ratio_loopback\":{loopback_ratio:.3},\
         \"refresh_p99_ns\":{refresh_p99_ns},\"warm_p99_ns\":{warm_p99_ns},\
         {paired}{fleet}}}"
    );
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .join("target")
        .join("bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("custom.json"), &custom).unwrap();
    println!("custom figures: {custom}");
}
