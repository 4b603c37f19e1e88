use crate::ErrorKind;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use http::StatusCode;
use tokio::time::{Instant, sleep};

use super::*;
use crate::{Backoff, OAuthError};

const HOUR: Duration = Duration::from_secs(3600);

type Script = Box<dyn FnMut(u32) -> Result<AccessToken, Error> + Send>;

/// A source that counts its fetches, takes `delay` each, and answers from a script.
pub(super) struct Scripted {
    calls: AtomicU32,
    delay: Duration,
    script: Mutex<Script>,
}

impl Scripted {
    pub(super) fn new(
        delay: Duration,
        script: impl FnMut(u32) -> Result<AccessToken, Error> + Send + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicU32::new(0),
            delay,
            script: Mutex::new(Box::new(script)),
        })
    }

    /// Issues `token-<n>` tokens that live `lifetime`.
    pub(super) fn issuing(delay: Duration, lifetime: Duration) -> Arc<Self> {
        Self::new(delay, move |n| {
            AccessToken::builder(format!("token-{n}"))
                .expires_in(lifetime)
                .build()
        })
    }

    pub(super) fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl TokenSource for Scripted {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        sleep(self.delay).await;
        let mut script = self.script.lock().unwrap();
        (script)(n)
    }

    fn name(&self) -> &str {
        "scripted"
    }
}

/// A source under another name.
struct Named<S>(S, &'static str);

#[async_trait]
impl<S: TokenSource> TokenSource for Named<S> {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        self.0.fetch().await
    }

    fn name(&self) -> &str {
        self.1
    }
}

/// A cache on Tokio's clock, which these tests pause and advance.
pub(super) fn tokio_cached<S: TokenSource>(source: S) -> Cached<S> {
    Cached::builder(source)
        .follow_tokio_clock()
        .build()
        .unwrap()
}

fn secret(token: &AccessToken) -> &str {
    token.secret().expose_secret()
}

fn server_down() -> Error {
    Error::from(OAuthError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
    ))
}

/// Moves the paused clock, then lets the tasks it woke run (a refresh started ahead of expiry
/// among them), as they would within microseconds in real time.
async fn advance(by: Duration) {
    tokio::time::advance(by).await;
    settle().await;
}

/// Lets spawned tasks run without moving the paused clock.
pub(super) async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_thousand_cold_callers_cause_one_fetch() {
    let source = Scripted::issuing(Duration::from_millis(200), HOUR);
    let cache = tokio_cached(Arc::clone(&source));
    let callers: Vec<_> = (0..1000)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await })
        })
        .collect();
    let mut tokens = Vec::new();
    for caller in callers {
        tokens.push(caller.await.unwrap().unwrap());
    }
    assert_eq!(source.calls(), 1);
    assert!(tokens.iter().all(|t| t.same_as(&tokens[0])));
    let stats = cache.stats();
    assert_eq!(stats.fetches, 1);
    assert_eq!(stats.hits + stats.misses, 1000);
}

#[tokio::test(start_paused = true)]
async fn a_failed_fetch_is_shared_by_every_waiter() {
    let source = Scripted::new(Duration::from_millis(100), |_| Err(server_down()));
    let cache = tokio_cached(Arc::clone(&source));
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await })
        })
        .collect();
    for caller in callers {
        let err = caller.await.unwrap().unwrap_err();
        assert_eq!(
            err.oauth().unwrap().code,
            crate::ErrorCode::TemporarilyUnavailable
        );
    }
    assert_eq!(source.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_initiator_still_fills_the_cache() {
    let source = Scripted::issuing(Duration::from_secs(1), HOUR);
    let cache = tokio_cached(Arc::clone(&source));
    let initiator = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.token().await })
    };
    settle().await;
    assert_eq!(source.calls(), 1, "the fetch has started");
    initiator.abort();
    assert!(initiator.await.unwrap_err().is_cancelled());
    advance(Duration::from_secs(2)).await;
    settle().await;
    assert!(cache.stats().has_token, "the fetch completed for the cache");
    let start = Instant::now();
    let token = cache.token().await.unwrap();
    assert_eq!(
        start,
        Instant::now(),
        "served from the cache without waiting"
    );
    assert_eq!(secret(&token), "token-1");
    assert_eq!(source.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn refresh_ahead_serves_the_old_token_without_waiting() {
    let source = Scripted::issuing(Duration::from_secs(10), HOUR);
    let cache = tokio_cached(Arc::clone(&source));
    let first = cache.token().await.unwrap();
    // One hour: window 20% = 12 min, clamped to 5 min, jitter takes up to 1 min off; skew 30 s.
    // So the refresh is due between 3270 s and 3330 s; valid until 3570 s.
    advance(Duration::from_secs(3269)).await;
    assert!(cache.token().await.unwrap().same_as(&first));
    settle().await;
    assert_eq!(source.calls(), 1, "no refresh before the window");
    advance(Duration::from_secs(61)).await;
    let before = Instant::now();
    for _ in 0..100 {
        let token = cache.token().await.unwrap();
        assert!(token.same_as(&first));
    }
    assert_eq!(before, Instant::now(), "no caller waited for the refresh");
    settle().await;
    assert_eq!(source.calls(), 2, "exactly one refresh started");
    advance(Duration::from_secs(10)).await;
    settle().await;
    let fresh = cache.token().await.unwrap();
    assert_eq!(secret(&fresh), "token-2");
    let stats = cache.stats();
    assert_eq!(
        (stats.fetches, stats.refreshes_ahead, stats.misses),
        (2, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_serving_the_valid_token_and_retries_after_backoff() {
    let source = Scripted::new(Duration::ZERO, |n| match n {
        1 | 4 => AccessToken::builder(format!("token-{n}"))
            .expires_in(HOUR)
            .build(),
        _ => Err(server_down()),
    });
    let cache = Cached::builder(Arc::clone(&source))
        .follow_tokio_clock()
        .refresh_ahead(RefreshAhead {
            jitter: 0.0,
            ..RefreshAhead::default()
        })
        .build()
        .unwrap();
    let first = cache.token().await.unwrap();
    // Refresh due at 3570 - 300 = 3270 s.
    advance(Duration::from_secs(3270)).await;
    assert!(cache.token().await.unwrap().same_as(&first));
    settle().await;
    assert_eq!(source.calls(), 2);
    assert!(
        cache.token().await.unwrap().same_as(&first),
        "still served after the failure"
    );
    settle().await;
    assert_eq!(source.calls(), 2, "the next attempt waits for the backoff");
    advance(Duration::from_secs(1)).await;
    assert!(cache.token().await.unwrap().same_as(&first));
    settle().await;
    assert_eq!(source.calls(), 3, "retried after 1 s");
    advance(Duration::from_secs(1)).await;
    cache.token().await.unwrap();
    settle().await;
    assert_eq!(source.calls(), 3, "second retry waits 2 s");
    advance(Duration::from_secs(1)).await;
    cache.token().await.unwrap();
    settle().await;
    assert_eq!(source.calls(), 4);
    assert_eq!(secret(&cache.token().await.unwrap()), "token-4");
    assert_eq!(cache.stats().consecutive_failures, 0);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_exponentially_and_recover() {
    let source = Scripted::new(Duration::ZERO, |n| {
        if n < 5 {
            Err(server_down())
        } else {
            AccessToken::builder("ok").expires_in(HOUR).build()
        }
    });
    let cache = tokio_cached(Arc::clone(&source));
    let mut attempt_times = Vec::new();
    let start = Instant::now();
    // Callers every 100 ms for 20 s: the endpoint sees attempts at 0, 1, 3, 7 and 15 s only.
    for _ in 0..200 {
        let before = source.calls();
        let result = cache.token().await;
        if source.calls() > before {
            attempt_times.push((Instant::now() - start).as_millis() / 100);
        }
        match result {
            Ok(_) => break,
            Err(backing_off) if backing_off.retry_in().is_some() => {
                assert!(backing_off.retry_in() <= Some(Duration::from_secs(8)));
                assert!(backing_off.oauth().is_some());
            }
            Err(other) => assert!(other.oauth().is_some(), "{other}"),
        }
        advance(Duration::from_millis(100)).await;
    }
    assert_eq!(attempt_times, [0, 10, 30, 70, 150]);
    assert_eq!(cache.stats().failures, 4);
    assert_eq!(cache.stats().consecutive_failures, 0);
    assert!(cache.stats().has_token);
}

#[tokio::test(start_paused = true)]
async fn backoff_is_capped() {
    let source = Scripted::new(Duration::ZERO, |_| Err(server_down()));
    let cache = Cached::builder(Arc::clone(&source))
        .follow_tokio_clock()
        .backoff(Backoff::new(Duration::from_secs(1), Duration::from_secs(4)))
        .build()
        .unwrap();
    for expected in [1, 2, 4, 4, 4] {
        cache.token().await.unwrap_err();
        let err = cache.token().await.unwrap_err();
        assert_eq!(err.retry_in(), Some(Duration::from_secs(expected)), "{err}");
        advance(Duration::from_secs(expected)).await;
    }
    assert_eq!(source.calls(), 5);
}

#[tokio::test(start_paused = true)]
async fn invalidate_of_a_stale_token_is_a_no_op() {
    let source = Scripted::issuing(Duration::ZERO, HOUR);
    let cache = tokio_cached(Arc::clone(&source));
    let first = cache.token().await.unwrap();
    cache.invalidate(&first);
    let second = cache.token().await.unwrap();
    assert_eq!(secret(&second), "token-2");
    cache.invalidate(&first);
    let still = cache.token().await.unwrap();
    assert!(still.same_as(&second));
    // An equal string that is not the cached token is not the cached token either.
    cache.invalidate(&AccessToken::bearer("token-2").unwrap());
    assert!(cache.token().await.unwrap().same_as(&second));
    assert_eq!(source.calls(), 2);
    assert_eq!(cache.stats().invalidations, 1);
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_rejections_causes_one_refetch() {
    let source = Scripted::issuing(Duration::from_millis(50), HOUR);
    let cache = tokio_cached(Arc::clone(&source));
    let stale = cache.token().await.unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            let stale = stale.clone();
            tokio::spawn(async move {
                cache.invalidate(&stale);
                cache.token().await.unwrap()
            })
        })
        .collect();
    for task in tasks {
        let token = task.await.unwrap();
        assert_eq!(secret(&token), "token-2");
    }
    assert_eq!(source.calls(), 2);
    assert_eq!(cache.stats().invalidations, 1);
}

#[tokio::test(start_paused = true)]
async fn replaced_tokens_are_fetched_again_at_once_and_rejected_ones_back_off() {
    let source = Scripted::issuing(Duration::ZERO, HOUR);
    let cache = tokio_cached(Arc::clone(&source));
    // Replacing (a step-up to more scope) never waits, however often.
    for n in 1..=4 {
        let token = cache.token().await.unwrap();
        assert_eq!(secret(&token), format!("token-{n}"));
        cache.replace(&token);
    }
    assert_eq!(source.calls(), 4);
    // Rejecting fresh tokens twice in a row makes the next fetch wait.
    let token = cache.token().await.unwrap();
    cache.invalidate(&token);
    let token = cache.token().await.unwrap();
    cache.invalidate(&token);
    assert!(cache.token().await.is_err());
    assert_eq!(source.calls(), 6);
}

#[tokio::test(start_paused = true)]
async fn skew_is_at_most_a_tenth_of_the_lifetime() {
    let source = Scripted::issuing(Duration::ZERO, Duration::from_secs(10));
    // Without refresh ahead, so that no new token arrives before the old one expires.
    let cache = Cached::builder(Arc::clone(&source))
        .follow_tokio_clock()
        .no_refresh_ahead()
        .build()
        .unwrap();
    cache.token().await.unwrap();
    advance(Duration::from_millis(8_900)).await;
    assert!(
        cache.current().is_some(),
        "valid until 9 s: skew is 1 s, not 30 s"
    );
    advance(Duration::from_millis(100)).await;
    assert!(cache.current().is_none());
    assert_eq!(secret(&cache.token().await.unwrap()), "token-2");
}

#[tokio::test(start_paused = true)]
async fn short_lived_tokens_are_not_refreshed_on_every_call() {
    let source = Scripted::issuing(Duration::ZERO, Duration::from_secs(10));
    let cache = tokio_cached(Arc::clone(&source));
    cache.token().await.unwrap();
    // The 30 s minimum window is cut to half the usable 9 s: no refresh before 4.5 s.
    for _ in 0..40 {
        cache.token().await.unwrap();
        settle().await;
        advance(Duration::from_millis(100)).await;
    }
    assert_eq!(source.calls(), 1);
    advance(Duration::from_millis(500)).await;
    cache.token().await.unwrap();
    settle().await;
    assert_eq!(source.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_default_skew_applies_to_long_tokens() {
    let source = Scripted::issuing(Duration::ZERO, HOUR);
    let cache = Cached::builder(Arc::clone(&source))
        .follow_tokio_clock()
        .no_refresh_ahead()
        .build()
        .unwrap();
    cache.token().await.unwrap();
    advance(Duration::from_secs(3569)).await;
    assert!(cache.current().is_some());
    settle().await;
    assert_eq!(source.calls(), 1, "refresh ahead is off");
    advance(Duration::from_secs(1)).await;
    assert!(
        cache.current().is_none(),
        "expired 30 s before the stated expiry"
    );
    assert_eq!(cache.stats().remaining, None);
}

#[tokio::test(start_paused = true)]
async fn tokens_without_expiry_last_until_invalidated_or_for_the_default_lifetime() {
    let source = Scripted::new(Duration::ZERO, |n| {
        AccessToken::bearer(format!("token-{n}"))
    });
    let cache = tokio_cached(Arc::clone(&source));
    let first = cache.token().await.unwrap();
    advance(Duration::from_secs(10 * 24 * 3600)).await;
    assert!(cache.token().await.unwrap().same_as(&first));
    assert_eq!(source.calls(), 1);

    let source = Scripted::new(Duration::ZERO, |n| {
        AccessToken::bearer(format!("token-{n}"))
    });
    let cache = Cached::builder(Arc::clone(&source))
        .follow_tokio_clock()
        .default_lifetime(Duration::from_secs(600))
        .no_refresh_ahead()
        .build()
        .unwrap();
    cache.token().await.unwrap();
    assert_eq!(cache.stats().remaining, Some(Duration::from_secs(570)));
    advance(Duration::from_secs(571)).await;
    assert_eq!(secret(&cache.token().await.unwrap()), "token-2");
}

#[derive(Clone)]
struct Panicking;

#[async_trait]
impl TokenSource for Panicking {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        panic!("source failure");
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_source_yields_an_error_not_a_hang() {
    let cache = tokio_cached(Panicking);
    let err = cache.token().await.unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    assert!(cache.token().await.unwrap_err().retry_in().is_some());
    advance(Duration::from_secs(1)).await;
    let err = cache.token().await.unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    assert_eq!(cache.stats().fetches, 2);
}

#[test]
fn without_a_runtime_the_cache_says_so() {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    // Another executor (no Tokio context on this thread) polls the cold cache.
    let cache = tokio_cached(Scripted::issuing(Duration::ZERO, HOUR));
    let mut fut = std::pin::pin!(cache.token());
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(Err(err)) => assert!(matches!(err.kind(), ErrorKind::Config { .. }), "{err}"),
        other => panic!("expected an immediate configuration error, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn the_listener_sees_fetches_failures_and_invalidations() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let source = Scripted::new(Duration::ZERO, |n| match n {
        1 => Err(server_down()),
        _ => AccessToken::builder("t").expires_in(HOUR).build(),
    });
    let cache = Cached::builder(source)
        .follow_tokio_clock()
        .on_event(move |event| {
            let line = match event {
                CacheEvent::Fetched { expires_in, .. } => format!("fetched {expires_in:?}"),
                CacheEvent::Failed {
                    consecutive_failures,
                    retry_in,
                    serving_previous,
                    ..
                } => {
                    format!("failed {consecutive_failures} {retry_in:?} {serving_previous}")
                }
                CacheEvent::Invalidated => "invalidated".to_owned(),
            };
            seen.lock().unwrap().push(line);
        })
        .build()
        .unwrap();
    cache.token().await.unwrap_err();
    advance(Duration::from_secs(1)).await;
    let token = cache.token().await.unwrap();
    cache.invalidate(&token);
    assert_eq!(
        *events.lock().unwrap(),
        ["failed 1 1s false", "fetched Some(3600s)", "invalidated"]
    );
}

#[test]
fn the_builder_refuses_settings_that_cannot_work() {
    let source = || Scripted::issuing(Duration::ZERO, HOUR);
    let bad = [
        Cached::builder(source())
            .follow_tokio_clock()
            .refresh_ahead(RefreshAhead {
                fraction: 0.0,
                ..RefreshAhead::default()
            })
            .build(),
        Cached::builder(source())
            .follow_tokio_clock()
            .refresh_ahead(RefreshAhead {
                jitter: 1.5,
                ..RefreshAhead::default()
            })
            .build(),
        Cached::builder(source())
            .follow_tokio_clock()
            .refresh_ahead(RefreshAhead {
                min: Duration::from_secs(10),
                max: Duration::from_secs(5),
                ..RefreshAhead::default()
            })
            .build(),
        Cached::builder(source())
            .follow_tokio_clock()
            .backoff(Backoff::new(Duration::ZERO, Duration::from_secs(1)))
            .build(),
        Cached::builder(source())
            .follow_tokio_clock()
            .default_lifetime(Duration::ZERO)
            .build(),
    ];
    for result in bad {
        assert!(matches!(
            result.unwrap_err().kind(),
            ErrorKind::Config { .. }
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn canary_secrets_never_reach_logs_debug_or_errors() {
    const CANARY: &str = "canary-token-5b1e77";
    let capture = tokensmith_testkit::TraceCapture::global();

    let source = Scripted::new(Duration::ZERO, |n| match n {
        2 => Err(server_down()),
        n => AccessToken::builder(format!("{CANARY}-{n}"))
            .expires_in(Duration::from_secs(100))
            .build(),
    });
    // A name no other test uses, so that the log lines asserted below are this test's own.
    let cache = Cached::builder(Named(source, "canary-logs-source-e41"))
        .follow_tokio_clock()
        .on_event(|e| {
            let text = format!("{e:?}");
            assert!(!text.contains(CANARY), "{text}");
        })
        .build()
        .unwrap();
    let token = cache.token().await.unwrap();
    advance(Duration::from_secs(75)).await;
    cache.token().await.unwrap();
    settle().await;
    cache.invalidate(&token);
    advance(Duration::from_secs(1)).await;
    let again = cache.token().await.unwrap();
    cache.invalidate(&again);
    advance(Duration::from_secs(2)).await;
    let fresh = cache.token().await.unwrap();
    assert!(fresh.secret().expose_secret().starts_with(CANARY));

    let logs = capture.text();
    let ours = |message: &str| {
        logs.lines()
            .any(|line| line.contains(message) && line.contains("canary-logs-source-e41"))
    };
    assert!(ours("token cache hit"), "TRACE output was captured: {logs}");
    assert!(ours("token fetch failed"));
    assert!(ours("invalidated the cached token"));
    for text in [
        logs,
        format!("{cache:?}"),
        format!("{:#?}", cache.stats()),
        format!("{fresh:?} {fresh:#?}"),
    ] {
        assert!(!text.contains(CANARY), "canary leaked: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_flight_holds_across_threads() {
    for _ in 0..20 {
        let source = Scripted::issuing(Duration::from_millis(5), HOUR);
        let cache = tokio_cached(Arc::clone(&source));
        let callers: Vec<_> = (0..200)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.token().await.map(|t| secret(&t).to_owned()) })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap().unwrap(), "token-1");
        }
        assert_eq!(source.calls(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_primed_token_is_served_without_a_fetch() {
    let source = Scripted::issuing(Duration::ZERO, HOUR);
    let cache = tokio_cached(Arc::clone(&source));
    let primed = AccessToken::builder("from-the-flow")
        .expires_in(HOUR)
        .build()
        .unwrap();
    cache.prime(primed.clone());
    assert!(cache.token().await.unwrap().same_as(&primed));
    assert_eq!(source.calls(), 0);
    // A valid cached token is not replaced by priming.
    cache.prime(AccessToken::bearer("other").unwrap());
    assert!(cache.token().await.unwrap().same_as(&primed));
}

/// `current()` called where no runtime runs cannot start the refresh it finds due: it leaves
/// the claim for a caller that can, instead of claiming a refresh that never starts.
#[tokio::test(start_paused = true)]
async fn a_refresh_due_outside_a_runtime_is_started_by_the_next_caller_inside_one() {
    let source = Scripted::issuing(Duration::ZERO, HOUR);
    let cache = Arc::new(
        Cached::builder(Arc::clone(&source))
            .follow_tokio_clock()
            .refresh_ahead(RefreshAhead {
                jitter: 0.0,
                ..RefreshAhead::default()
            })
            .build()
            .unwrap(),
    );
    let first = cache.token().await.unwrap();
    advance(Duration::from_secs(3300)).await;
    let outside = Arc::clone(&cache);
    let seen = std::thread::spawn(move || outside.current())
        .join()
        .unwrap()
        .expect("still valid");
    assert!(seen.same_as(&first));
    assert_eq!(
        cache.stats().refreshes_ahead,
        0,
        "nothing could start there"
    );
    assert!(cache.current().unwrap().same_as(&first));
    settle().await;
    assert_eq!(
        source.calls(),
        2,
        "the caller inside the runtime started it"
    );
    assert_eq!(cache.stats().refreshes_ahead, 1);
}
