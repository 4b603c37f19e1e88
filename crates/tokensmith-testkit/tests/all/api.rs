//! The protected resource accepts only live tokens the server issued.

use tokensmith_testkit::{Endpoint, TestServer};

use crate::support::*;

#[tokio::test]
async fn live_tokens_only() {
    let server = TestServer::start().await.unwrap();
    let token = client_token(&server.token_url()).await;
    let (status, body) = json(get_with(&server.url_of("/api/things"), &token).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["client_id"], "test-client");
    assert_eq!(body["path"], "/api/things");

    for (bad, why) in [("nonsense", "unknown token")] {
        let response = get_with(&server.url_of("/api/things"), bad).await;
        assert_eq!(response.status().as_u16(), 401);
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{challenge}"
        );
        assert!(challenge.contains(why));
    }
    let anonymous = http()
        .get(server.url_of("/api/things"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    assert!(server.revoke(&token));
    assert_eq!(
        get_with(&server.url_of("/api/things"), &token)
            .await
            .status()
            .as_u16(),
        401
    );
    let other = client_token(&server.token_url()).await;
    server.expire_all_tokens();
    assert_eq!(
        get_with(&server.url_of("/api/things"), &other)
            .await
            .status()
            .as_u16(),
        401
    );
    let counters = server.counters();
    assert_eq!((counters.api_requests, counters.api_rejections), (5, 4));
    assert_eq!(
        server.requests_to(Endpoint::Api)[0].header("authorization"),
        Some("Bearer [masked]")
    );
}

#[tokio::test]
async fn servers_start_on_their_own_ports_and_stop() {
    let a = TestServer::start().await.unwrap();
    let b = TestServer::start().await.unwrap();
    assert_ne!(a.addr().port(), b.addr().port());
    assert!(a.url().starts_with("http://127.0.0.1:"));
    let url = a.token_url();
    a.shutdown().await;
    assert!(
        http().post(url).send().await.is_err(),
        "nothing listens after shutdown"
    );
}
