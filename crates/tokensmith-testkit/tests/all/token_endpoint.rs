//! The token endpoint: grants, client authentication and RFC error answers.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokensmith_testkit::{ClientConfig, Endpoint, TestServer};

use crate::support::*;

#[tokio::test]
async fn client_credentials_and_password_grants_issue_tokens() {
    let server = TestServer::start().await.unwrap();
    let (status, body) = json(
        post_form(
            &server.token_url(),
            "grant_type=client_credentials&scope=a+b",
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "a b");
    assert!(body.get("refresh_token").is_none());

    let (status, body) = json(
        post_form(
            &server.token_url(),
            "grant_type=password&username=alice&password=wonderland",
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("rt_"));

    let (status, body) = json(
        post_form(
            &server.token_url(),
            "grant_type=password&username=alice&password=nope",
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(server.counters().tokens_issued, 2);
}

#[tokio::test]
async fn grant_type_outside_the_body_is_missing() {
    let server = TestServer::start().await.unwrap();
    let in_query = http()
        .post(format!(
            "{}?grant_type=client_credentials",
            server.token_url()
        ))
        .basic_auth("test-client", Some("test-secret"))
        .send()
        .await
        .unwrap();
    let (status, body) = json(in_query).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("Missing parameter grant_type (it was in the query string")
    );

    let in_header = http()
        .post(server.token_url())
        .header("grant_type", "client_credentials")
        .basic_auth("test-client", Some("test-secret"))
        .send()
        .await
        .unwrap();
    let (_, body) = json(in_header).await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("in a header")
    );

    let logged = server.requests_to(Endpoint::Token);
    assert_eq!(logged[0].query_keys, ["grant_type"]);
    assert!(!logged[0].has_form_key("grant_type"));
    assert_eq!(logged[1].header("grant_type"), Some("client_credentials"));
    assert_eq!(
        logged[1].header("authorization"),
        Some("Basic [masked]"),
        "secrets masked in the log"
    );
}

#[tokio::test]
async fn basic_credentials_are_form_decoded_per_rfc_6749() {
    let id = "odd:id+1";
    let secret = "s p:a+c%e&=/é";
    let server = TestServer::builder()
        .client(ClientConfig::confidential(id, secret))
        .client(ClientConfig::confidential("rawclient", "raw+secret&x").basic_without_decoding())
        .start()
        .await
        .unwrap();
    let encode = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let send = |pair: String| {
        let url = server.token_url();
        async move {
            let (status, body) = json(
                http()
                    .post(url)
                    .header("authorization", format!("Basic {}", STANDARD.encode(pair)))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body("grant_type=client_credentials")
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            (status, body["error"].as_str().map(str::to_owned))
        }
    };
    assert_eq!(
        send(format!("{}:{}", encode(id), encode(secret))).await,
        (200, None)
    );
    assert_eq!(
        send(format!("{id}:{secret}")).await.0,
        401,
        "unencoded is refused"
    );
    // A server that does not decode wants the raw pair, and refuses the encoded one.
    assert_eq!(send("rawclient:raw+secret&x".to_owned()).await, (200, None));
    assert_eq!(
        send(format!("rawclient:{}", encode("raw+secret&x")))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn client_authentication_errors() {
    let server = TestServer::builder()
        .client(ClientConfig::confidential("body-client", "s").body_only())
        .start()
        .await
        .unwrap();
    let wrong = post_form_as(
        server.token_url(),
        Some(("test-client", "wrong")),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(
        wrong.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(json(wrong).await.1["error"], "invalid_client");

    let (status, body) = json(
        post_form_as(
            server.token_url(),
            Some(("body-client", "s")),
            "grant_type=client_credentials",
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "Basic not allowed"
    );

    let in_body = post_form_as(
        server.token_url(),
        None,
        "grant_type=client_credentials&client_id=body-client&client_secret=s",
    )
    .await;
    assert_eq!(in_body.status().as_u16(), 200);

    let both = post_form(
        &server.token_url(),
        "grant_type=client_credentials&client_id=test-client&client_secret=test-secret",
    )
    .await;
    assert_eq!(
        json(both).await.1["error"],
        "invalid_request",
        "two methods at once"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_or_not() {
    for rotate in [true, false] {
        let server = TestServer::builder()
            .rotate_refresh_tokens(rotate)
            .start()
            .await
            .unwrap();
        let (_, first) = json(
            post_form(
                &server.token_url(),
                "grant_type=password&username=alice&password=wonderland",
            )
            .await,
        )
        .await;
        let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
        let (status, second) = json(
            post_form(
                &server.token_url(),
                &format!("grant_type=refresh_token&refresh_token={rt1}"),
            )
            .await,
        )
        .await;
        assert_eq!(status, 200);
        let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(rt1 != rt2, rotate);
        let (status, again) = json(
            post_form(
                &server.token_url(),
                &format!("grant_type=refresh_token&refresh_token={rt1}"),
            )
            .await,
        )
        .await;
        if rotate {
            assert_eq!(
                (status, again["error"].as_str()),
                (400, Some("invalid_grant")),
                "the old one is retired"
            );
        } else {
            assert_eq!(status, 200);
        }
    }
}

#[tokio::test]
async fn grants_and_scopes_are_checked_per_client() {
    let server = TestServer::builder()
        .client(
            ClientConfig::confidential("narrow", "s")
                .grants(["client_credentials"])
                .scopes(["read"]),
        )
        .start()
        .await
        .unwrap();
    let send = |body: &'static str| {
        let url = server.token_url();
        async move {
            json(post_form_as(url, Some(("narrow", "s")), body).await)
                .await
                .1["error"]
                .as_str()
                .map(str::to_owned)
        }
    };
    assert_eq!(send("grant_type=client_credentials&scope=read").await, None);
    assert_eq!(
        send("grant_type=client_credentials&scope=read+write")
            .await
            .as_deref(),
        Some("invalid_scope")
    );
    assert_eq!(
        send("grant_type=password&username=alice&password=wonderland")
            .await
            .as_deref(),
        Some("unauthorized_client")
    );
    assert_eq!(
        send("grant_type=magic").await.as_deref(),
        Some("unauthorized_client")
    );
    let (_, body) = json(post_form(&server.token_url(), "grant_type=magic").await).await;
    assert_eq!(body["error"], "unsupported_grant_type");
}

#[tokio::test]
async fn a_reused_refresh_token_can_revoke_the_whole_grant() {
    let server = TestServer::builder()
        .revoke_grant_on_refresh_reuse()
        .start()
        .await
        .unwrap();
    let (_, first) = json(
        post_form(
            &server.token_url(),
            "grant_type=password&username=alice&password=wonderland",
        )
        .await,
    )
    .await;
    let old = first["refresh_token"].as_str().unwrap().to_owned();
    let refresh = |token: String| {
        let url = server.token_url();
        async move {
            json(
                post_form(
                    &url,
                    &format!("grant_type=refresh_token&refresh_token={token}"),
                )
                .await,
            )
            .await
        }
    };
    let (status, second) = refresh(old.clone()).await;
    assert_eq!(status, 200, "{second}");
    let newer = second["refresh_token"].as_str().unwrap().to_owned();
    let access = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get_with(&server.url_of("/api/x"), &access).await.status(),
        200
    );

    let (status, body) = refresh(old).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert_eq!(server.counters().refresh_reuses, 1);
    assert_eq!(
        refresh(newer).await.0,
        400,
        "the newer refresh token went with the grant"
    );
    assert_eq!(
        get_with(&server.url_of("/api/x"), &access).await.status(),
        401
    );
}
