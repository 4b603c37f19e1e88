//! Vendor flavours: AirVantage regions, Avionté, and a Basic-client vendor.

use tokensmith_testkit::{AVIONTE_SCOPE, DEFAULT_API_KEY, Flavour, TestServer};

use crate::support::*;

async fn airvantage_token(server: &TestServer) -> String {
    let (status, body) = json(
        post_form(
            &server.token_url(),
            "grant_type=password&username=alice&password=wonderland",
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "bearer");
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn airvantage_regions_reject_each_others_tokens() {
    let (na, eu) = TestServer::airvantage_regions().await.unwrap();
    assert!(na.token_url().ends_with("/api/oauth/token"));
    let eu_token = airvantage_token(&eu).await;
    let (status, body) = json(get_with(&eu.url_of("/api/v1/users/current"), &eu_token).await).await;
    assert_eq!((status, body["email"].as_str()), (200, Some("alice")));

    let (status, body) = json(get_with(&na.url_of("/api/v1/systems"), &eu_token).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "context.unknown");
    assert!(body["errorParameters"].is_array());

    let (status, _) = json(get_with(&na.url_of("/api/v1/systems"), "made-up").await).await;
    assert_eq!(status, 401, "a token nobody issued is just invalid");
}

#[tokio::test]
async fn airvantage_api_paging_company_rights_and_logout() {
    let server = TestServer::builder()
        .flavour(Flavour::AirVantage {
            region: "eu".into(),
        })
        .start()
        .await
        .unwrap();
    let token = airvantage_token(&server).await;
    let (status, body) = json(
        get_with(
            &server.url_of("/api/v1/systems?offset=1&size=2&fields=uid,name"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 5);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["items"][0],
        serde_json::json!({"uid": "sys-002", "name": "Pump station 2"})
    );
    let (status, body) =
        json(get_with(&server.url_of("/api/v1/systems/sys-003"), &token).await).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Cold store")));
    let (status, body) =
        json(get_with(&server.url_of("/api/v1/systems?company=other"), &token).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("context.unknown"))
    );
    assert_eq!(body["errorParameters"][0], "other");

    let (status, body) = json(
        http()
            .get(server.url_of(&format!("/api/oauth/expire?access_token={token}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body),
        (200, serde_json::json!("logout.successful"))
    );
    assert_eq!(
        get_with(&server.url_of("/api/v1/systems"), &token)
            .await
            .status()
            .as_u16(),
        401
    );

    let denied = TestServer::builder()
        .flavour(Flavour::AirVantage {
            region: "na".into(),
        })
        .deny_right("entities.systems.view")
        .start()
        .await
        .unwrap();
    let token = airvantage_token(&denied).await;
    let (status, body) = json(get_with(&denied.url_of("/api/v1/systems"), &token).await).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("missing.rights"))
    );
    assert_eq!(body["errorParameters"][0], "entities.systems.view");
}

#[tokio::test]
async fn airvantage_also_answers_the_token_endpoint_over_get() {
    let server = TestServer::builder()
        .flavour(Flavour::AirVantage {
            region: "na".into(),
        })
        .start()
        .await
        .unwrap();
    let url = format!(
        "{}?grant_type=password&username=alice&password=wonderland&client_id=test-client&client_secret=test-secret",
        server.token_url()
    );
    let (status, body) = json(http().get(url).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
}

fn avionte() -> Flavour {
    Flavour::Avionte {
        api_key: DEFAULT_API_KEY.into(),
    }
}

async fn avionte_token(
    server: &TestServer,
    api_key: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut request = http()
        .post(server.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json")
        .body(body.to_owned());
    if let Some(key) = api_key {
        request = request.header("x-api-key", key);
    }
    json(request.send().await.unwrap()).await
}

#[tokio::test]
async fn avionte_wants_the_api_key_scope_and_tenant() {
    let server = TestServer::builder()
        .flavour(avionte())
        .start()
        .await
        .unwrap();
    assert!(server.token_url().ends_with("/authorize/token"));
    let form = format!(
        "grant_type=client_credentials&client_id=test-client&client_secret=test-secret&scope={AVIONTE_SCOPE}"
    );
    assert_eq!(avionte_token(&server, None, &form).await.0, 403);
    assert_eq!(avionte_token(&server, Some("wrong"), &form).await.0, 403);
    let no_scope = "grant_type=client_credentials&client_id=test-client&client_secret=test-secret";
    assert_eq!(
        avionte_token(&server, Some(DEFAULT_API_KEY), no_scope)
            .await
            .1["error"],
        "invalid_scope"
    );
    let (status, body) = avionte_token(&server, Some(DEFAULT_API_KEY), &form).await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();

    let api = |path: &str, key: Option<&str>, tenant: Option<(&str, &str)>, scheme: &str| {
        let mut request = http()
            .get(server.url_of(path))
            .header("authorization", format!("{scheme} {token}"));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        if let Some((name, value)) = tenant {
            request = request.header(name, value);
        }
        async move { json(request.send().await.unwrap()).await }
    };
    let (status, body) = api(
        "/front-office/v1/talent/7",
        Some(DEFAULT_API_KEY),
        Some(("FrontOfficeTenantId", "42")),
        "Bearer",
    )
    .await;
    assert_eq!((status, body["id"].as_u64()), (200, Some(7)));
    assert_eq!(body["frontOfficeTenantId"], "42");
    assert_eq!(
        api(
            "/front-office/v1/talent/7",
            Some(DEFAULT_API_KEY),
            Some(("Tenant", "acme")),
            "Bearer"
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api(
            "/front-office/v1/talent/7",
            None,
            Some(("Tenant", "acme")),
            "Bearer"
        )
        .await
        .0,
        403
    );
    assert_eq!(
        api(
            "/front-office/v1/talent/7",
            Some(DEFAULT_API_KEY),
            None,
            "Bearer"
        )
        .await
        .0,
        400
    );
    assert_eq!(
        api(
            "/front-office/v1/talent/7",
            Some(DEFAULT_API_KEY),
            Some(("Tenant", "a")),
            "bearer"
        )
        .await
        .0,
        401
    );
    let (status, ids) = api(
        "/front-office/v1/talent/ids/3/100",
        Some(DEFAULT_API_KEY),
        Some(("Tenant", "a")),
        "Bearer",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        ids.as_array().unwrap().len(),
        50,
        "250 talents: the third page of 100 has 50"
    );
    assert_eq!(
        api(
            "/front-office/v1/talent/ids/1/101",
            Some(DEFAULT_API_KEY),
            Some(("Tenant", "a")),
            "Bearer"
        )
        .await
        .0,
        400
    );
}

#[tokio::test]
async fn the_basic_vendor_answers_in_its_own_shapes() {
    let server = TestServer::builder()
        .flavour(Flavour::BasicVendor)
        .start()
        .await
        .unwrap();
    assert!(server.token_url().ends_with("/oauth/token"));
    let wrong = post_form_as(
        server.token_url(),
        Some(("test-client", "wrong")),
        "grant_type=client_credentials",
    )
    .await;
    let (status, body) = json(wrong).await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        serde_json::json!({"error_description": "Invalid client_id", "error": "Invalid_request"})
    );

    let (_, first) = json(
        post_form(
            &server.token_url(),
            "grant_type=password&username=alice&password=wonderland",
        )
        .await,
    )
    .await;
    let refresh = first["refresh_token"].as_str().unwrap();
    let (_, second) = json(
        post_form(
            &server.token_url(),
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .await,
    )
    .await;
    assert_eq!(
        second["refresh_token"].as_str(),
        Some(refresh),
        "refresh keeps the same refresh token"
    );
    let (status, body) = json(
        post_form(
            &server.token_url(),
            "grant_type=refresh_token&refresh_token=gone",
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["attribute-name"], "refresh_token");
}
