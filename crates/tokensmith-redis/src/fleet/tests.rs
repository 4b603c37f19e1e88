use super::stored::encode;
use super::*;

fn clock(redis_ms: u64) -> FleetClock {
    FleetClock {
        redis_ms,
        at: Instant::now(),
    }
}

/// Expiry is read on the fleet's clock alone: a replica that reads 10 s of Redis time
/// after the write sees 10 s less left and the same lifetime, whatever its wall clock.
#[tokio::test]
async fn expiry_travels_on_the_fleets_clock() {
    let token = AccessToken::builder("canary-fleet-clock")
        .expires_in(Duration::from_secs(3600))
        .build()
        .unwrap();
    let written = encode(&token, clock(1_800_000_000_000));
    for (later_ms, left) in [(0, 3600), (10_000, 3590), (3_599_000, 1)] {
        let read = decode(&written, clock(1_800_000_000_000 + later_ms)).unwrap();
        let lifetime = read.lifetime().unwrap();
        assert!(lifetime.abs_diff(Duration::from_secs(3600)) < Duration::from_millis(50));
        let remaining = read.expires_in().unwrap();
        assert!(
            remaining.abs_diff(Duration::from_secs(left)) < Duration::from_millis(50),
            "{later_ms}: {remaining:?}"
        );
    }
    // Read after its expiry on the fleet's clock: expired, not alive on a slow wall clock.
    let late = decode(&written, clock(1_800_000_000_000 + 3_700_000)).unwrap();
    assert!(late.expires_in().is_none_or(|left| left.is_zero()));
    assert!(decode(b"garbage", clock(0)).is_none());
}
