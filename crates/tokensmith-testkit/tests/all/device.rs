//! The device authorization grant (RFC 8628).

use std::time::Duration;

use serde_json::Value;
use tokensmith_testkit::{DEFAULT_PUBLIC_CLIENT_ID, TestServer};

/// The device grant's `grant_type` on the wire (RFC 8628 §3.4).
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

use crate::support::*;

async fn start_device(server: &TestServer) -> Value {
    json(
        post_form_as(
            server.device_authorization_url(),
            None,
            format!("client_id={DEFAULT_PUBLIC_CLIENT_ID}&scope=profile"),
        )
        .await,
    )
    .await
    .1
}

async fn poll(server: &TestServer, device_code: &str) -> (u16, Value) {
    json(
        post_form_as(
            server.token_url(),
            None,
            format!(
                "grant_type={}&device_code={device_code}&client_id={DEFAULT_PUBLIC_CLIENT_ID}",
                url::form_urlencoded::byte_serialize(DEVICE_CODE_GRANT.as_bytes())
                    .collect::<String>()
            ),
        )
        .await,
    )
    .await
}

// Real time on a real socket, with the server's schedule shortened: a 1 s interval that
// each slow_down lengthens by 500 ms.
#[tokio::test]
async fn pending_slow_down_then_approved() {
    let server = TestServer::builder()
        .device_timing(Duration::from_secs(1), Duration::from_secs(600))
        .device_slow_down_step(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    let started = start_device(&server).await;
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    assert_eq!(started["interval"], 1);
    assert!(
        started["verification_uri_complete"]
            .as_str()
            .unwrap()
            .ends_with(user_code)
    );

    assert_eq!(
        poll(&server, device_code).await.1["error"],
        "authorization_pending"
    );
    assert_eq!(
        poll(&server, device_code).await.1["error"],
        "slow_down",
        "polled at once"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(
        poll(&server, device_code).await.1["error"],
        "slow_down",
        "the interval grew to 1.5 s"
    );
    // Each slow_down adds the step: the interval is now 2 s.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert_eq!(
        poll(&server, device_code).await.1["error"],
        "authorization_pending"
    );
    assert!(server.approve_device(user_code, "alice"));
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let (status, body) = poll(&server, device_code).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["refresh_token"].is_string());
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    assert_eq!(
        poll(&server, device_code).await.1["error"],
        "invalid_grant",
        "used up"
    );
}

#[tokio::test]
async fn denied_and_expired() {
    let server = TestServer::builder()
        .device_timing(Duration::from_secs(1), Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let denied = start_device(&server).await;
    assert!(server.deny_device(denied["user_code"].as_str().unwrap()));
    assert_eq!(
        poll(&server, denied["device_code"].as_str().unwrap())
            .await
            .1["error"],
        "access_denied"
    );

    let expiring = start_device(&server).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        poll(&server, expiring["device_code"].as_str().unwrap())
            .await
            .1["error"],
        "expired_token"
    );
    assert!(!server.approve_device("NOPE-NOPE", "alice"));
}
