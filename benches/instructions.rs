//! Instruction counts (callgrind, through gungraun): figures that do not drift with the
//! machine, each beside its baseline and peer in the same run.
//!
//! Every benchmark runs `CALLS` operations on one thread (a current-thread runtime: servers,
//! clients and connection tasks are all polled inside the measured function) after a warm-up
//! in its setup, which is not counted. `cargo xtask bench` runs it, divides by `CALLS` and
//! writes the figures into `target/bench/summary.json` and `BENCHMARKS.md`.

// gungraun's macros make a module per benchmark and group, without documentation.
#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use gungraun::{library_benchmark, library_benchmark_group, main};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokensmith::RetryPolicy;
use tokensmith::oauth2::{ClientCredentials, GrantSource, TokenEndpoint};
use tokensmith::reqwest::{BearerAuth, reqwest_middleware};
use tokensmith::tower::AuthLayer;
use tokensmith::{AccessToken, Cached, TokenSource};
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, TestServer};
use tokio::runtime::Runtime;
use tower::{Layer as _, Service as _, ServiceExt as _};

#[path = "support/hour.rs"]
mod hour;
#[path = "support/peers.rs"]
mod peers;

use peers::OAuth2Client;

use hour::Instant1h;

#[path = "support/counts.rs"]
mod counts;

use counts::{FETCHES, HITS, REQUESTS};

/// Polls a future that is ready at once (a warm cache's hit) without a runtime; the caller
/// pins it where it is made (`pin!`), so no copy of it is measured.
fn ready<F: Future>(future: Pin<&mut F>) -> F::Output {
    match future.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("a warm hit is ready at once"),
    }
}

fn current_thread() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn hour_token() -> AccessToken {
    AccessToken::builder("bench-token")
        .expires_in(Duration::from_secs(3600))
        .build()
        .unwrap()
}

// ---- The cache hit ----

fn warm_cache() -> Cached<Instant1h> {
    let cache = Cached::new(Instant1h);
    current_thread().block_on(cache.token()).unwrap();
    cache
}

#[library_benchmark]
#[bench::warm(setup = warm_cache)]
fn hit_tokensmith(cache: Cached<Instant1h>) -> Cached<Instant1h> {
    for _ in 0..HITS {
        black_box(ready(pin!(cache.token())).unwrap());
    }
    cache
}

// The floor of a checked hit: a bare `Arc` clone and one coarse clock read.
#[library_benchmark]
#[bench::warm(setup = hour_token_arc)]
fn hit_arc_clock_floor(token: Arc<AccessToken>) -> Arc<AccessToken> {
    for _ in 0..HITS {
        black_box(Arc::clone(&token));
        black_box(rustix::time::clock_gettime(
            rustix::time::ClockId::MonotonicCoarse,
        ));
    }
    token
}

fn hour_token_arc() -> Arc<AccessToken> {
    Arc::new(hour_token())
}

fn warm_rwlock() -> tokio::sync::RwLock<Option<AccessToken>> {
    tokio::sync::RwLock::new(Some(hour_token()))
}

// The cache a user would hand-write: a lock around an optional token, an expiry check, a
// clone.
#[library_benchmark]
#[bench::warm(setup = warm_rwlock)]
fn hit_rwlock(
    lock: tokio::sync::RwLock<Option<AccessToken>>,
) -> tokio::sync::RwLock<Option<AccessToken>> {
    for _ in 0..HITS {
        black_box(ready(pin!(async {
            let guard = lock.read().await;
            match &*guard {
                Some(token) if !token.is_expired() => token.clone(),
                _ => unreachable!("the baseline is warm"),
            }
        })));
    }
    lock
}

// The synchronous hit the middleware and the tower layer take first.
#[library_benchmark]
#[bench::warm(setup = warm_cache)]
fn hit_tokensmith_current(cache: Cached<Instant1h>) -> Cached<Instant1h> {
    for _ in 0..HITS {
        black_box(cache.current().unwrap());
    }
    cache
}

library_benchmark_group!(
    name = hit;
    benchmarks = hit_tokensmith, hit_tokensmith_current, hit_arc_clock_floor, hit_rwlock
);

// ---- The reqwest middleware, and the peer's ----

/// A runtime with a small JSON API on 127.0.0.1 and a client for it, warmed up.
struct Api<C> {
    rt: Runtime,
    url: String,
    client: C,
}

fn api_server(rt: &Runtime) -> String {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(|| async { "{\"ok\":true}" });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        format!("http://{addr}/api/things")
    })
}

/// `client` on a fresh runtime and server, after a few requests (connections open, caches
/// warm).
fn api<C, F, Fut>(make: impl FnOnce(&Runtime, &str) -> C, send: F) -> Api<C>
where
    F: Fn(C, String) -> Fut,
    Fut: Future<Output = ()>,
    C: Clone,
{
    let rt = current_thread();
    let url = api_server(&rt);
    let client = make(&rt, &url);
    for _ in 0..5 {
        rt.block_on(send(client.clone(), url.clone()));
    }
    Api { rt, url, client }
}

type Mw = reqwest_middleware::ClientWithMiddleware;
type Mw04 = reqwest_middleware_04::ClientWithMiddleware;

async fn get(client: Mw, url: String) {
    let answer = client.get(&url).send().await.unwrap();
    black_box(answer.bytes().await.unwrap());
}

async fn get_012(client: Mw04, url: String) {
    let answer = client.get(&url).send().await.unwrap();
    black_box(answer.bytes().await.unwrap());
}

fn ours() -> Api<Mw> {
    api(
        |_, url| {
            let origin = url::Url::parse(url).unwrap().origin().ascii_serialization();
            BearerAuth::builder(warm_cache())
                .for_origin(origin)
                .build()
                .unwrap()
                .into_client(Some(reqwest::Client::builder()))
                .unwrap()
        },
        get,
    )
}

/// The same reqwest stack with a static `Authorization` header and the redirect and referer
/// policy tokensmith sets on its own clients.
fn static_header() -> Api<Mw> {
    api(
        |_, _| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(
                reqwest::header::AUTHORIZATION,
                hour_token().authorization_header(),
            );
            let http = reqwest::Client::builder()
                .default_headers(headers)
                .redirect(tokensmith::reqwest::same_origin_redirects())
                .referer(false)
                .build()
                .unwrap();
            reqwest_middleware::ClientBuilder::new(http).build()
        },
        get,
    )
}

fn http_012(headers: reqwest_012::header::HeaderMap) -> reqwest_012::Client {
    reqwest_012::Client::builder()
        .default_headers(headers)
        .redirect(reqwest_012::redirect::Policy::none())
        .referer(false)
        .build()
        .unwrap()
}

/// The peer: aliri_reqwest's middleware over an aliri_tokens watcher (reqwest 0.12).
fn aliri() -> Api<Mw04> {
    api(
        |rt, _| {
            let watcher = peers::aliri_watcher(rt);
            let middleware = aliri_reqwest::AccessTokenMiddleware::new(watcher)
                .with_predicate(aliri_reqwest::ExactHostMatch::new("127.0.0.1"));
            reqwest_middleware_04::ClientBuilder::new(http_012(Default::default()))
                .with(middleware)
                .build()
        },
        get_012,
    )
}

/// The peer's baseline: its reqwest 0.12 stack with a static header.
fn aliri_static_header() -> Api<Mw04> {
    api(
        |_, _| {
            let mut headers = reqwest_012::header::HeaderMap::new();
            headers.insert(
                reqwest_012::header::AUTHORIZATION,
                reqwest_012::header::HeaderValue::from_static("Bearer bench-token"),
            );
            reqwest_middleware_04::ClientBuilder::new(http_012(headers)).build()
        },
        get_012,
    )
}

#[library_benchmark]
#[bench::ours(setup = ours)]
#[bench::static_header(setup = static_header)]
fn middleware(api: Api<Mw>) -> Api<Mw> {
    api.rt.block_on(async {
        for _ in 0..REQUESTS {
            get(api.client.clone(), api.url.clone()).await;
        }
    });
    api
}

#[library_benchmark]
#[bench::aliri(setup = aliri)]
#[bench::static_header(setup = aliri_static_header)]
fn middleware_012(api: Api<Mw04>) -> Api<Mw04> {
    api.rt.block_on(async {
        for _ in 0..REQUESTS {
            get_012(api.client.clone(), api.url.clone()).await;
        }
    });
    api
}

library_benchmark_group!(
    name = middleware_group;
    benchmarks = middleware, middleware_012
);

// ---- The tower layer over a hyper-util client ----

type Hyper = HyperClient<HttpConnector, Full<Bytes>>;

fn hyper_client() -> Hyper {
    HyperClient::builder(TokioExecutor::new()).build_http()
}

fn request(url: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(url)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

type Layered = tokensmith::tower::Auth<Hyper>;

fn tower_layer() -> Api<Layered> {
    api(
        |_, url| {
            let origin = url::Url::parse(url).unwrap().origin().ascii_serialization();
            AuthLayer::builder(warm_cache())
                .for_origin(origin)
                .build()
                .unwrap()
                .layer(hyper_client())
        },
        |client: Layered, url| async move {
            let answer = client.oneshot(request(&url)).await.unwrap();
            black_box(answer.into_body().collect().await.unwrap());
        },
    )
}

fn tower_bare() -> Api<Hyper> {
    api(
        |_, _| hyper_client(),
        |client: Hyper, url| async move {
            let mut request = request(&url);
            request.headers_mut().insert(
                http::header::AUTHORIZATION,
                hour_token().authorization_header(),
            );
            let answer = client.request(request).await.unwrap();
            black_box(answer.into_body().collect().await.unwrap());
        },
    )
}

#[library_benchmark]
#[bench::layer(setup = tower_layer)]
fn tower_layered(api: Api<Layered>) -> Api<Layered> {
    api.rt.block_on(async {
        for _ in 0..REQUESTS {
            let mut client = api.client.clone();
            let answer = client.call(request(&api.url)).await.unwrap();
            black_box(answer.into_body().collect().await.unwrap());
        }
    });
    api
}

#[library_benchmark]
#[bench::static_header(setup = tower_bare)]
fn tower_static(api: Api<Hyper>) -> Api<Hyper> {
    let header = hour_token().authorization_header();
    api.rt.block_on(async {
        for _ in 0..REQUESTS {
            let mut request = request(&api.url);
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, header.clone());
            let answer = api.client.request(request).await.unwrap();
            black_box(answer.into_body().collect().await.unwrap());
        }
    });
    api
}

library_benchmark_group!(
    name = tower_group;
    benchmarks = tower_layered, tower_static
);

// ---- A client-credentials fetch, and the oauth2 crate's ----

struct Fetch<C> {
    rt: Runtime,
    _server: TestServer,
    client: C,
}

fn server(rt: &Runtime) -> TestServer {
    rt.block_on(TestServer::start()).unwrap()
}

fn fetch_ours() -> Fetch<GrantSource> {
    let rt = current_thread();
    let server = server(&rt);
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let client = ClientCredentials::new(endpoint).build_source();
    for _ in 0..3 {
        rt.block_on(client.fetch()).unwrap();
    }
    Fetch {
        rt,
        _server: server,
        client,
    }
}

/// The oauth2 crate with tokensmith's defaults: no redirects, a 10 s connect timeout, a
/// 30 s bound on the call.
fn fetch_oauth2() -> Fetch<(OAuth2Client, oauth2::reqwest::Client)> {
    let rt = current_thread();
    let server = server(&rt);
    let client = peers::oauth2_client(server.token_url(), DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET);
    let fixture = Fetch {
        rt,
        _server: server,
        client,
    };
    for _ in 0..3 {
        fixture.rt.block_on(peer_fetch(&fixture.client));
    }
    fixture
}

async fn peer_fetch((client, http): &(OAuth2Client, oauth2::reqwest::Client)) -> usize {
    peers::oauth2_fetch(client, http).await
}

#[library_benchmark]
#[bench::ours(setup = fetch_ours)]
fn fetch_tokensmith(fetch: Fetch<GrantSource>) -> Fetch<GrantSource> {
    fetch.rt.block_on(async {
        for _ in 0..FETCHES {
            black_box(fetch.client.fetch().await.unwrap());
        }
    });
    fetch
}

#[library_benchmark]
#[bench::peer(setup = fetch_oauth2)]
fn fetch_oauth2_crate(
    fetch: Fetch<(OAuth2Client, oauth2::reqwest::Client)>,
) -> Fetch<(OAuth2Client, oauth2::reqwest::Client)> {
    fetch.rt.block_on(async {
        for _ in 0..FETCHES {
            black_box(peer_fetch(&fetch.client).await);
        }
    });
    fetch
}

library_benchmark_group!(
    name = fetch_group;
    benchmarks = fetch_tokensmith, fetch_oauth2_crate
);

main!(
    library_benchmark_groups = hit,
    middleware_group,
    tower_group,
    fetch_group
);
