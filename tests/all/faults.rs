//! For each fault the testkit can inject: what the caller sees, and that nothing is lost or
//! left stuck.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokensmith::ErrorKind;
use tokensmith::RetryPolicy;

use tokensmith::oauth2::{ClientCredentials, GrantSource, TokenEndpoint};
use tokensmith::{Backoff, Cached, Error, TokenProvider};
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Fault, Target, TestServer};

fn endpoint(server: &TestServer, retry: RetryPolicy) -> TokenEndpoint {
    TokenEndpoint::builder(server.token_url())
        .client_id(DEFAULT_CLIENT_ID)
        .client_secret(DEFAULT_CLIENT_SECRET)
        .retry(retry)
        .timeout(Duration::from_secs(20))
        .attempt_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

fn fast(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .attempts(attempts)
        .backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(50),
        ))
}

fn provider(server: &TestServer, retry: RetryPolicy) -> Cached<GrantSource> {
    ClientCredentials::new(endpoint(server, retry)).build()
}

#[tokio::test]
async fn a_503_then_success_is_retried_into_one_token() {
    let server = TestServer::start().await.unwrap();
    server.fail_next(Target::Token, 1, Fault::service_unavailable());
    provider(&server, fast(3)).token().await.unwrap();
    let counters = server.counters();
    assert_eq!((counters.token_requests, counters.tokens_issued), (2, 1));
}

#[tokio::test]
async fn retry_after_is_honoured_within_the_cap() {
    let server = TestServer::start().await.unwrap();
    server.fail_next(Target::Token, 1, Fault::too_many_requests(1));
    let started = Instant::now();
    provider(&server, fast(2)).token().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as asked"
    );

    server.fail_next(Target::Token, 1, Fault::too_many_requests(3600));
    let started = Instant::now();
    let capped = fast(2).max_retry_after(Duration::from_millis(200));
    provider(&server, capped).token().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "an hour was cut to the cap"
    );
}

/// What a caller must see for one fault.
type Check = fn(&Error) -> bool;

#[tokio::test]
async fn broken_answers_become_typed_errors() {
    let server = TestServer::start().await.unwrap();
    let cases: [(Fault, Check); 4] = [
        (
            Fault::html_error(500),
            |e| matches!(e.kind(), ErrorKind::UnexpectedResponse(u) if u.excerpt.contains("500 Error")),
        ),
        (Fault::TruncatedJson, |e| {
            e.to_string().contains("truncated")
        }),
        (Fault::MalformedJson, |e| e.to_string().contains("not JSON")),
        (Fault::CloseConnection, |e| {
            matches!(e.kind(), ErrorKind::Transport { .. })
        }),
    ];
    for (fault, expected) in cases {
        server.fail_next(Target::Token, 1, fault.clone());
        let err = provider(&server, RetryPolicy::none())
            .token()
            .await
            .unwrap_err();
        assert!(expected(&err), "{fault:?}: {err:?}");
    }
    provider(&server, RetryPolicy::none())
        .token()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_slow_answer_times_out_within_the_bound() {
    let server = TestServer::start().await.unwrap();
    server.fail_next(Target::Token, 1, Fault::Delay(Duration::from_secs(10)));
    let started = Instant::now();
    let err = provider(&server, RetryPolicy::none())
        .token()
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Timeout { .. }), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by the 300 ms timeout, not the 10 s delay"
    );
}

// Real time on a real socket (a paused clock would fire request timeouts early), with the
// cache's schedule scaled down so that the whole outage fits in a few seconds.
#[tokio::test]
async fn an_outage_while_a_token_is_cached_costs_the_backoff_schedule_not_one_request_per_caller() {
    let server = TestServer::builder()
        .token_lifetime(Duration::from_secs(12))
        .start()
        .await
        .unwrap();
    let source = ClientCredentials::new(endpoint(&server, RetryPolicy::none())).build_source();
    let cache = Cached::builder(source)
        .backoff(Backoff::new(
            Duration::from_millis(200),
            Duration::from_secs(1),
        ))
        .build()
        .unwrap();
    let shared: Arc<dyn TokenProvider> = Arc::new(cache.clone());
    let first = shared.token().await.unwrap();
    // A 12 s token: valid until 10.8 s (skew 1.2 s), refreshed ahead from 5.4 s on (half its
    // usable life). The endpoint is down from 4 s to 7 s: refresh attempts at about 5.4, 5.6,
    // 6.0 and 6.8 s fail, the one at 7.8 s succeeds, and the old token serves throughout.
    tokio::time::sleep(Duration::from_secs(4)).await;
    server.fail_share(Target::Token, 1.0, Fault::service_unavailable());
    let before = server.counters().token_requests;
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let mut served = 0;
                for _ in 0..15 {
                    if shared.token().await.is_ok() {
                        served += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                served
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = server.counters().token_requests - before;
    server.clear_faults();
    let mut served = 0;
    for caller in callers {
        served += caller.await.unwrap();
    }
    assert_eq!(served, 50 * 15, "every caller was served throughout");
    assert!(
        (1..=8).contains(&during),
        "backoff 0.2, 0.4, 0.8, 1 s: {during} requests, not one per caller"
    );
    assert!(cache.stats().failures >= 1);
    // The next attempt comes at the end of the current backoff (at most 1 s after 7 s).
    let mut fresh = shared.token().await.unwrap();
    for _ in 0..30 {
        if !fresh.same_as(&first) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        fresh = shared.token().await.unwrap();
    }
    assert!(!fresh.same_as(&first), "a new token after recovery");
    assert_eq!(
        cache.stats().consecutive_failures,
        0,
        "recovered after the outage"
    );
}
