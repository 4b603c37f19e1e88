//! The cache at its edges: runtimes that do not drive timers or are gone, sources that hang,
//! listeners that panic, servers that reject every token, settings at their limits.

use crate::ErrorKind;
use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Waker};
use std::time::Duration;

use async_trait::async_trait;

use super::tests::{Scripted, settle};
use super::*;
use crate::{Backoff, RefreshAhead};

/// Issues `token-<n>` tokens that live `lifetime`, without any timer of its own.
struct Counting {
    calls: AtomicU32,
    lifetime: Duration,
}

impl Counting {
    fn new(lifetime: Duration) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicU32::new(0),
            lifetime,
        })
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenSource for Counting {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        AccessToken::builder(format!("token-{n}"))
            .expires_in(self.lifetime)
            .build()
    }
}

fn current_thread(timers: bool) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    if timers {
        builder.enable_time();
    }
    builder.build().unwrap()
}

/// A token that lives 2 s counts as valid for 1.8 s (a tenth is skew); wait past that. Long
/// enough that a busy machine stalling a test thread cannot expire it before the first check.
const PAST_EXPIRY: Duration = Duration::from_millis(2_200);

#[test]
fn an_idle_current_thread_runtime_never_serves_an_expired_token() {
    let source = Counting::new(Duration::from_secs(2));
    let cache = Cached::new(Arc::clone(&source));
    let runtime = current_thread(true);
    let first = runtime.block_on(cache.token()).unwrap();
    // The runtime sits idle between `block_on` calls, as under a sync wrapper or a CLI.
    std::thread::sleep(PAST_EXPIRY);
    assert!(runtime.block_on(async { cache.current() }).is_none());
    let second = runtime.block_on(cache.token()).unwrap();
    assert!(!second.same_as(&first));
    assert_eq!(source.calls(), 2);
}

#[test]
fn a_provider_outlives_the_runtime_that_filled_it() {
    let source = Counting::new(Duration::from_secs(2));
    let cache = Cached::new(Arc::clone(&source));
    let first = current_thread(true).block_on(cache.token()).unwrap();
    // That runtime is gone; the token expires with no task of it left to notice.
    std::thread::sleep(PAST_EXPIRY);
    assert!(cache.current().is_none());
    let second = current_thread(true).block_on(cache.token()).unwrap();
    assert!(!second.same_as(&first));
    assert_eq!(source.calls(), 2);
}

#[test]
fn a_runtime_without_a_time_driver_fetches_and_expires() {
    let source = Counting::new(Duration::from_secs(2));
    let cache = Cached::new(Arc::clone(&source));
    let runtime = current_thread(false);
    let first = runtime.block_on(cache.token()).unwrap();
    assert!(runtime.block_on(cache.token()).unwrap().same_as(&first));
    std::thread::sleep(PAST_EXPIRY);
    let second = runtime.block_on(cache.token()).unwrap();
    assert!(!second.same_as(&first));
    assert_eq!(source.calls(), 2);
}

#[test]
fn a_fetch_on_a_runtime_that_has_shut_down_is_an_error_not_a_deadlock() {
    let (done, verdict) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = current_thread(true);
        let handle = runtime.handle().clone();
        drop(runtime);
        let cache = Cached::new(Counting::new(Duration::from_secs(60)));
        let _entered = handle.enter();
        let mut fut = std::pin::pin!(cache.token());
        let first = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
        // Later calls must not block on a lock or a fetch that never runs either.
        let stats = cache.stats();
        let _ = done.send((format!("{first:?}"), stats.fetches));
    });
    let (first, fetches) = verdict
        .recv_timeout(Duration::from_secs(20))
        .expect("the cache deadlocked on a runtime that had shut down");
    assert!(first.starts_with("Ready(Err("), "{first}");
    assert!(first.contains("runtime shut down"), "{first}");
    assert_eq!(fetches, 1);
}

/// A source that never answers.
struct Hanging;

#[async_trait]
impl TokenSource for Hanging {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        std::future::pending().await
    }

    fn name(&self) -> &str {
        "hanging"
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_fetch_fails_at_the_load_timeout_and_is_tried_again_later() {
    let cache = Cached::builder(Hanging)
        .load_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await })
        })
        .collect();
    for waiter in waiters {
        let err = waiter.await.unwrap().unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err}");
        assert!(err.hint().unwrap().contains("load_timeout"), "{err}");
    }
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert!(cache.token().await.is_err_and(|e| e.retry_in().is_some()));
    tokio::time::advance(Duration::from_secs(1)).await;
    let again = tokio::spawn({
        let cache = cache.clone();
        async move { cache.token().await }
    });
    assert!(
        again
            .await
            .unwrap()
            .is_err_and(|e| matches!(e.kind(), ErrorKind::Timeout { .. }))
    );
    assert_eq!(cache.stats().fetches, 2);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_listener_cannot_fail_a_fetch() {
    let source = Scripted::issuing(Duration::ZERO, Duration::from_secs(3600));
    let cache = Cached::builder(Arc::clone(&source))
        .on_event(|_| panic!("listener bug"))
        .build()
        .unwrap();
    let token = cache.token().await.unwrap();
    cache.invalidate(&token);
    let again = cache.token().await.unwrap();
    assert!(!again.same_as(&token));
    let stats = cache.stats();
    assert_eq!((stats.fetches, stats.failures), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_server_that_rejects_every_token_costs_a_bounded_number_of_fetches() {
    let source = Scripted::issuing(Duration::ZERO, Duration::from_secs(3600));
    let cache = Cached::new(Arc::clone(&source));
    let mut refused = 0;
    // What the middleware does for ten requests that all get a 401: invalidate, ask again.
    for _ in 0..10 {
        match cache.token().await {
            Ok(token) => cache.invalidate(&token),
            Err(err) => {
                assert!(err.retry_in().is_some(), "{err}");
                assert!(err.to_string().contains("rejected 2 fresh tokens"), "{err}");
                assert!(
                    err.to_string().contains("when the rejection backoff ends"),
                    "{err}"
                );
                refused += 1;
            }
        }
    }
    assert!(source.calls() <= 3, "{} fetches", source.calls());
    assert_eq!(refused, 10 - source.calls());
    // After the backoff the cache tries again.
    tokio::time::advance(Duration::from_secs(1)).await;
    cache.token().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_token_rejected_after_long_service_is_replaced_at_once() {
    let source = Scripted::issuing(Duration::ZERO, Duration::from_secs(3600));
    let cache = Cached::builder(Arc::clone(&source))
        .no_refresh_ahead()
        .build()
        .unwrap();
    for _ in 0..3 {
        let token = cache.token().await.unwrap();
        // Each served a minute before it was revoked: ordinary revocations, no backoff.
        tokio::time::advance(Duration::from_secs(60)).await;
        cache.invalidate(&token);
    }
    cache.token().await.unwrap();
    assert_eq!(source.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_token_expired_on_arrival_goes_through_the_backoff() {
    let source = Scripted::issuing(Duration::ZERO, Duration::ZERO);
    let cache = Cached::new(Arc::clone(&source));
    let err = cache.token().await.unwrap_err();
    assert!(err.to_string().contains("already expired"), "{err}");
    assert!(err.hint().unwrap().contains("Date"), "{err}");
    for _ in 0..10 {
        assert!(cache.token().await.is_err_and(|e| e.retry_in().is_some()));
    }
    assert_eq!(source.calls(), 1);
    assert!(!cache.stats().has_token);
}

#[tokio::test(start_paused = true)]
async fn settings_at_their_limits_neither_panic_nor_overflow() {
    let source = Scripted::new(Duration::ZERO, |n| {
        if n == 1 {
            AccessToken::builder("long")
                .expires_in(Duration::MAX)
                .build()
        } else {
            Err(Error::other("down"))
        }
    });
    let cache = Cached::builder(Arc::clone(&source))
        .backoff(Backoff::new(Duration::MAX, Duration::MAX).with_jitter(0.5))
        .refresh_ahead(RefreshAhead {
            fraction: 1.0,
            min: Duration::MAX,
            max: Duration::MAX,
            jitter: 0.9,
        })
        .load_timeout(Duration::MAX)
        .skew(Duration::MAX)
        .build()
        .unwrap();
    let token = cache.token().await.unwrap();
    cache.invalidate(&token);
    assert!(cache.token().await.is_err());
    assert!(cache.token().await.is_err_and(|e| e.retry_in().is_some()));
    settle().await;
    let _ = cache.stats();
    for (fraction, jitter) in [(f64::NAN, 0.1), (0.5, f64::INFINITY), (f64::INFINITY, 0.1)] {
        let refused = Cached::builder(Hanging)
            .refresh_ahead(RefreshAhead {
                fraction,
                jitter,
                ..RefreshAhead::default()
            })
            .build();
        assert!(refused.is_err_and(|e| matches!(e.kind(), ErrorKind::Config { .. })));
    }
    assert!(
        Cached::builder(Hanging)
            .load_timeout(Duration::ZERO)
            .build()
            .is_err_and(|e| matches!(e.kind(), ErrorKind::Config { .. }))
    );
}

#[test]
fn a_suspended_host_does_not_keep_a_token_alive() {
    let cache = Cached::new(Counting::new(Duration::from_secs(3600)));
    cache.prime(
        AccessToken::builder("primed")
            .expires_in(Duration::from_secs(3600))
            .build()
            .unwrap(),
    );
    assert!(cache.current().is_some());
    // The monotonic clock stood still for two hours of suspend; the wall clock did not.
    clock::WALL_OFFSET.with(|offset| offset.set(Duration::from_secs(7200)));
    let served = cache.current();
    clock::WALL_OFFSET.with(|offset| offset.set(Duration::ZERO));
    assert!(served.is_none());
}
