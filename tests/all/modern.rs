//! Modern OAuth against the embedded server and scripted servers: discovery, JWT client
//! authentication, DPoP with nonces (and the one-retry bound), revocation, RFC 9207, the wire
//! format of token exchange, and canary values through every new type.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokensmith::dpop::DpopKey;
use tokensmith::oauth2::{
    AuthorizationCode, Callback, ClientAuth, ClientCredentials, Issuer, JwtBearer, JwtKey,
    RefreshTokenGrant, TokenEndpoint, TokenExchange, token_type,
};
use tokensmith::reqwest::BearerAuth;
use tokensmith::{ErrorCode, ErrorKind, TokenSource};
use tokensmith_testkit::{ClientConfig, Endpoint, TestServer, TraceCapture};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// An ES256 key pair: the private key for `JwtKey`, the public JWK for the server.
fn es256(kid: &str) -> (JwtKey, Value) {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let der = pair.to_pkcs8v1().unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(der.as_ref())
    );
    let point = pair.public_key().as_ref();
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    });
    (JwtKey::from_pem(pem, "ES256").unwrap().key_id(kid), jwk)
}

async fn discovered(server: &TestServer) -> tokensmith::oauth2::TokenEndpointBuilder {
    Issuer::new(server.url())
        .unwrap()
        .token_endpoint()
        .await
        .unwrap()
}

#[tokio::test]
async fn private_key_jwt_through_discovery_and_a_wrong_key_named_in_the_hint() {
    let (key, public) = es256("key-1");
    let (other, _) = es256("key-2");
    let server = TestServer::builder()
        .client(ClientConfig::private_key_jwt("svc", public))
        .start()
        .await
        .unwrap();
    let endpoint = discovered(&server)
        .await
        .client_id("svc")
        .signer(key)
        .build()
        .unwrap();
    assert_eq!(endpoint.auth(), ClientAuth::PrivateKeyJwt);
    let tokens = ClientCredentials::new(endpoint).build();
    let client = BearerAuth::builder(tokens)
        .for_origin(server.url())
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    let answer = client.get(server.url_of("/api/me")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let sent = &server.requests_to(Endpoint::Token)[0];
    assert!(sent.has_form_key("client_assertion") && !sent.has_form_key("client_secret"));

    let wrong = discovered(&server)
        .await
        .client_id("svc")
        .signer(other)
        .build()
        .unwrap();
    let err = ClientCredentials::new(wrong)
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(
        err.oauth().map(|e| &e.code),
        Some(&ErrorCode::InvalidClient)
    );
    assert!(err.hint().unwrap().contains("`key-2`"), "{err:?}");
}

/// Discovery with DPoP: the token endpoint binds the token to the key, the nonce costs one
/// retry at each, and the resource takes the proof.
#[cfg(feature = "authorization-code")]
#[tokio::test]
async fn a_discovered_token_is_dpop_bound_and_proven_at_the_resource() {
    use tokensmith::oauth2::resource::ResourceAuth;

    let server = TestServer::builder()
        .client(ClientConfig::confidential("app", "s3cret"))
        .require_dpop_nonce()
        .start()
        .await
        .unwrap();
    let key = DpopKey::generate().unwrap();
    let auth = ResourceAuth::builder(server.url_of("/resource"))
        .client_credentials("app", "s3cret")
        .dpop(key.clone())
        .build()
        .unwrap();
    let client = BearerAuth::discover(auth)
        .dpop(key.clone())
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    let answer = client
        .get(server.url_of("/resource/files"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let last = server.requests_to(Endpoint::Resource).pop().unwrap();
    assert_eq!(last.header("authorization"), Some("DPoP [masked]"));
    assert!(last.header("dpop").is_some());
    let token = &server.requests_to(Endpoint::Token)[0];
    assert!(token.header("dpop").is_some());
}

#[tokio::test]
async fn dpop_nonces_cost_one_retry_each_and_are_remembered() {
    let server = TestServer::builder()
        .client(ClientConfig::confidential("app", "s3cret"))
        .require_dpop_nonce()
        .start()
        .await
        .unwrap();
    let key = DpopKey::generate().unwrap();
    let endpoint = discovered(&server)
        .await
        .client_id("app")
        .client_secret("s3cret")
        .dpop(key.clone())
        .build()
        .unwrap();
    let tokens = ClientCredentials::new(endpoint.clone()).build();
    let token = tokens.token().await.unwrap();
    assert_eq!(token.token_type().as_str(), "DPoP");
    assert_eq!(
        server.requests_to(Endpoint::Token).len(),
        2,
        "one refusal for the nonce, one retry"
    );

    let client = BearerAuth::builder(tokens.clone())
        .for_origin(server.url())
        .dpop(key.clone())
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    for _ in 0..3 {
        let answer = client
            .get(server.url_of("/api/things?page=2"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    // The API shares the token endpoint's origin, and so its nonce: no refusal at all.
    assert_eq!(server.requests_to(Endpoint::Api).len(), 3);

    // The API layer vendor clients use takes the key too.
    let api = tokensmith::reqwest::api::ApiClient::builder(server.url_of("/api/"), tokens.clone())
        .dpop(key.clone())
        .build()
        .unwrap();
    let seen: Value = api.get_json("v1/orders").await.unwrap();
    assert_eq!(seen["path"], "/api/v1/orders");

    // The token is useless without the key: as a bearer token, or with another key's proof.
    let bearer = reqwest::Client::new()
        .get(server.url_of("/api/things"))
        .bearer_auth(token.secret().expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), 401);
    let thief = BearerAuth::builder(tokens.clone())
        .for_origin(server.url())
        .dpop(DpopKey::generate().unwrap())
        .no_retry_on_unauthorized()
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    assert_eq!(
        thief
            .get(server.url_of("/api/things"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // Without a key, the middleware refuses to send a DPoP-bound token at all.
    let keyless = BearerAuth::builder(tokens)
        .for_origin(server.url())
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    let err = keyless
        .get(server.url_of("/api/x"))
        .send()
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("DPoP"), "{err:?}");

    // Tokens bound to different keys are different cache entries.
    let other = TokenEndpoint::builder(server.token_url())
        .client_id("app")
        .client_secret("s3cret")
        .dpop(DpopKey::generate().unwrap())
        .build()
        .unwrap();
    let a = ClientCredentials::new(endpoint)
        .build_source()
        .identity()
        .unwrap();
    let b = ClientCredentials::new(other)
        .build_source()
        .identity()
        .unwrap();
    assert_ne!(a, b);
    assert!(
        a.parts()
            .any(|(name, value)| name == "dpop_jkt" && value == key.thumbprint())
    );
}

/// Answers every request with a refusal that asks for a new nonce.
struct AlwaysNewNonce {
    status: u16,
    body: Value,
    challenge: Option<&'static str>,
}

impl Respond for AlwaysNewNonce {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let nonce = format!("nonce-{}", request.body.len() + rand_suffix());
        let mut answer = ResponseTemplate::new(self.status)
            .insert_header("dpop-nonce", nonce.as_str())
            .set_body_json(self.body.clone());
        if let Some(challenge) = self.challenge {
            answer = answer.insert_header("www-authenticate", challenge);
        }
        answer
    }
}

fn rand_suffix() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test]
async fn a_server_that_always_wants_a_new_nonce_gets_one_retry_not_a_loop() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(AlwaysNewNonce {
            status: 400,
            body: json!({"error": "use_dpop_nonce"}),
            challenge: None,
        })
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .respond_with(AlwaysNewNonce {
            status: 401,
            body: json!({"error": "use_dpop_nonce"}),
            challenge: Some(r#"DPoP error="use_dpop_nonce""#),
        })
        .mount(&mock)
        .await;
    let key = DpopKey::generate().unwrap();
    let endpoint = TokenEndpoint::builder(format!("{}/token", mock.uri()))
        .client_id("app")
        .client_secret("a-secret")
        .dpop(key.clone())
        .build()
        .unwrap();
    let err = ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    assert_eq!(err.oauth().unwrap().original_code, "use_dpop_nonce");
    assert_eq!(mock.received_requests().await.unwrap().len(), 2);

    let token = tokensmith::AccessToken::builder("dpop-token")
        .token_type(tokensmith::TokenType::parse("DPoP"))
        .build()
        .unwrap();
    let client = BearerAuth::builder(tokensmith::StaticToken::new(token))
        .for_origin(mock.uri())
        .dpop(key)
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    let answer = client
        .get(format!("{}/api", mock.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
    let gets = mock
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "GET")
        .collect::<Vec<_>>();
    assert_eq!(
        gets.len(),
        2,
        "one retry with the nonce, then the 401 is the answer"
    );
    assert!(gets.iter().all(|r| {
        r.headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("DPoP ")
    }));
}

#[tokio::test]
async fn sign_out_revokes_at_the_server_and_rfc_9207_guards_the_callback() {
    let server = TestServer::builder()
        .client(ClientConfig::public("native"))
        .start()
        .await
        .unwrap();
    let endpoint = discovered(&server)
        .await
        .client_id("native")
        .build()
        .unwrap();
    assert_eq!(endpoint.auth(), ClientAuth::None);
    let flow =
        AuthorizationCode::discovered(endpoint.clone(), tokensmith_testkit::DEFAULT_REDIRECT_URI)
            .unwrap();

    // A callback naming another issuer is refused before the code is used.
    let pending = flow.start().unwrap();
    let callback = follow(pending.url().as_str()).await;
    let forged = callback.replace(
        &format!(
            "iss={}",
            url::form_urlencoded::byte_serialize(server.url().as_bytes()).collect::<String>()
        ),
        "iss=https%3A%2F%2Fevil.example",
    );
    assert_ne!(forged, callback);
    let err = pending.finish_url(&forged).await.unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Refused { .. }), "{err:?}");
    assert_eq!(server.requests_to(Endpoint::Token).len(), 0);
    let err = flow
        .start()
        .unwrap()
        .finish(Callback::new("code", "wrong-state"))
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Refused { .. }));

    let pending = flow.start().unwrap();
    let callback = follow(pending.url().as_str()).await;
    let tokens = pending.finish_url(&callback).await.unwrap();
    let access = tokens.access_token().clone();
    let source = RefreshTokenGrant::from_response(endpoint, tokens)
        .unwrap()
        .build_source();
    source.sign_out().await.unwrap();
    assert_eq!(server.requests_to(Endpoint::Revocation).len(), 1);
    let answer = reqwest::Client::new()
        .get(server.url_of("/api/me"))
        .bearer_auth(access.secret().expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        401,
        "revoking the refresh token ended its access token"
    );
    assert!(
        source.fetch().await.is_err(),
        "nothing left to refresh with"
    );
}

/// The authorization endpoint's redirect, as a browser would follow it.
async fn follow(url: &str) -> String {
    let answer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    answer.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn discovery_refuses_a_document_for_another_issuer_and_falls_back_to_oidc() {
    let mock = MockServer::start().await;
    Mock::given(path("/.well-known/oauth-authorization-server/tenant"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&mock)
        .await;
    Mock::given(path("/tenant/.well-known/openid-configuration"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": format!("{}/tenant", mock.uri()),
            "token_endpoint": format!("{}/tenant/token", mock.uri()),
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
        })))
        .mount(&mock)
        .await;
    Mock::given(path("/.well-known/oauth-authorization-server/other"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": "https://attacker.example",
            "token_endpoint": "https://attacker.example/token",
        })))
        .mount(&mock)
        .await;
    Mock::given(path("/.well-known/oauth-authorization-server/huge"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(300 * 1024)))
        .mount(&mock)
        .await;

    let endpoint = Issuer::new(format!("{}/tenant", mock.uri()))
        .unwrap()
        .token_endpoint()
        .await
        .unwrap()
        .client_id("c")
        .client_secret("s")
        .build()
        .unwrap();
    assert_eq!(
        endpoint.auth(),
        ClientAuth::RequestBody,
        "the one method the server lists"
    );
    assert!(endpoint.url().as_str().ends_with("/tenant/token"));

    let err = Issuer::new(format!("{}/other", mock.uri()))
        .unwrap()
        .metadata()
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Refused { .. }), "{err:?}");
    assert!(
        err.to_string().contains("https://attacker.example"),
        "{err}"
    );
    let err = Issuer::new(format!("{}/huge", mock.uri()))
        .unwrap()
        .metadata()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    let err = Issuer::new(format!("{}/nothing", mock.uri()))
        .unwrap()
        .metadata()
        .await
        .unwrap_err();
    assert!(err.hint().unwrap().contains("issuer URL"), "{err:?}");
    let err = Issuer::new("http://login.example.com").unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
}

#[tokio::test]
async fn token_exchange_sends_the_rfc_8693_parameters() {
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "exchanged", "token_type": "Bearer", "expires_in": 60,
            "issued_token_type": token_type::ACCESS_TOKEN,
        })))
        .mount(&mock)
        .await;
    let endpoint = TokenEndpoint::builder(format!("{}/token", mock.uri()))
        .client_id("gateway")
        .client_secret("s")
        .build()
        .unwrap();
    let exchange = TokenExchange::new(endpoint.clone(), "canary-subject-token", token_type::JWT)
        .actor("canary-actor-token", token_type::ACCESS_TOKEN)
        .requested_token_type(token_type::ACCESS_TOKEN)
        .audience("orders")
        .audience("billing")
        .resource("https://orders.example/api")
        .scope(["orders:read"]);
    let text = format!("{exchange:?}");
    assert!(!text.contains("canary-"), "{text}");
    let answer = exchange.exchange().await.unwrap();
    assert_eq!(answer.issued_token_type(), Some(token_type::ACCESS_TOKEN));
    let body = String::from_utf8(mock.received_requests().await.unwrap()[0].body.clone()).unwrap();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let values = |name: &str| {
        form.iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        values("grant_type"),
        ["urn:ietf:params:oauth:grant-type:token-exchange"]
    );
    assert_eq!(values("subject_token"), ["canary-subject-token"]);
    assert_eq!(values("subject_token_type"), [token_type::JWT]);
    assert_eq!(values("actor_token_type"), [token_type::ACCESS_TOKEN]);
    assert_eq!(values("audience"), ["orders", "billing"]);
    assert_eq!(values("resource"), ["https://orders.example/api"]);
    assert_eq!(values("scope"), ["orders:read"]);

    let bearer = JwtBearer::with_assertion(endpoint, "canary-assertion").scope(["a"]);
    assert!(!format!("{bearer:?}").contains("canary-assertion"));
}

#[tokio::test]
async fn canaries_in_keys_assertions_and_proofs_stay_out_of_output_and_logs() {
    let capture = TraceCapture::global();
    let mock = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::body_string_contains(
            "client_assertion=ey",
        ))
        .and(wiremock::matchers::body_string_contains(
            "client_id=refused",
        ))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client", "error_description": "assertion rejected"
        })))
        .mount(&mock)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "canary-dpop-access-31", "token_type": "DPoP", "expires_in": 600,
        })))
        .mount(&mock)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&mock)
        .await;
    let (key, _) = es256("kid-1");
    let dpop = DpopKey::generate().unwrap();
    let build = |id: &str| {
        TokenEndpoint::builder(format!("{}/token", mock.uri()))
            .client_id(id)
            .signer(key.clone())
            .dpop(dpop.clone())
            .build()
            .unwrap()
    };
    let endpoint = build("svc");
    let tokens = ClientCredentials::new(endpoint.clone()).build();
    let client = BearerAuth::builder(tokens.clone())
        .for_origin(mock.uri())
        .dpop(dpop.clone())
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    assert_eq!(
        client
            .get(format!("{}/api", mock.uri()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let err = ClientCredentials::new(build("refused"))
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    let secret_jwt = TokenEndpoint::builder(format!("{}/token", mock.uri()))
        .client_id("app")
        .client_secret("canary-secret-jwt-77-long-enough-for-hs256")
        .auth(ClientAuth::ClientSecretJwt)
        .build()
        .unwrap();
    ClientCredentials::new(secret_jwt.clone())
        .build_source()
        .fetch()
        .await
        .unwrap();

    let mut sent = Vec::new();
    for request in mock.received_requests().await.unwrap() {
        let body = String::from_utf8_lossy(&request.body).into_owned();
        sent.extend(
            url::form_urlencoded::parse(body.as_bytes())
                .filter(|(k, _)| k == "client_assertion")
                .map(|(_, v)| v.into_owned()),
        );
        sent.extend(
            request
                .headers
                .get("dpop")
                .map(|v| v.to_str().unwrap().to_owned()),
        );
    }
    assert!(
        sent.len() >= 5,
        "assertions and proofs were sent: {}",
        sent.len()
    );
    let shown = format!(
        "{key:?} {dpop:?} {endpoint:?} {secret_jwt:?} {tokens:?} {err} {err:?} {}",
        capture.text()
    );
    for canary in sent.iter().map(String::as_str).chain([
        "canary-secret-jwt-77-long-enough-for-hs256",
        "canary-dpop-access-31",
    ]) {
        assert!(!shown.contains(canary), "leaked: {canary}");
    }
    assert!(err.hint().unwrap().contains("`kid-1`"), "{err:?}");
}

/// The claims of a DPoP proof.
fn proof_claims(proof: &str) -> Value {
    let payload = proof.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A DPoP client followed through a same-origin redirect: each hop carries a proof of its own,
/// whose `htu` names that hop's URL, and no proof names user info.
#[tokio::test]
async fn each_redirect_hop_gets_its_own_dpop_proof() {
    let auth = TestServer::builder()
        .client(ClientConfig::confidential("app", "s3cret"))
        .start()
        .await
        .unwrap();
    let key = DpopKey::generate().unwrap();
    let endpoint = TokenEndpoint::builder(auth.token_url())
        .client_id("app")
        .client_secret("s3cret")
        .dpop(key.clone())
        .build()
        .unwrap();
    let tokens = ClientCredentials::new(endpoint).build();
    let api = MockServer::start().await;
    Mock::given(path("/old"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/new?page=2"))
        .mount(&api)
        .await;
    Mock::given(path("/see-other"))
        .respond_with(ResponseTemplate::new(303).insert_header("location", "/new"))
        .mount(&api)
        .await;
    Mock::given(path("/new"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    let client = BearerAuth::builder(tokens)
        .for_origin(api.uri())
        .dpop(key)
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    let answer = client
        .put(format!("{}/old", api.uri()))
        .body("{\"n\":1}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer = client
        .post(format!("{}/see-other", api.uri()))
        .body("{\"n\":2}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    let seen = api.received_requests().await.unwrap();
    let hops: Vec<(String, String, Value)> = seen
        .iter()
        .map(|r| {
            let proof = r.headers.get("dpop").expect("each hop has a proof");
            (
                r.method.to_string(),
                r.url.path().to_owned(),
                proof_claims(proof.to_str().unwrap()),
            )
        })
        .collect();
    let shown: Vec<(&str, &str, &str, &str)> = hops
        .iter()
        .map(|(m, p, c)| {
            (
                m.as_str(),
                p.as_str(),
                c["htm"].as_str().unwrap(),
                c["htu"].as_str().unwrap(),
            )
        })
        .collect();
    let base = api.uri();
    assert_eq!(
        shown,
        [
            ("PUT", "/old", "PUT", format!("{base}/old").as_str()),
            ("PUT", "/new", "PUT", format!("{base}/new").as_str()),
            (
                "POST",
                "/see-other",
                "POST",
                format!("{base}/see-other").as_str()
            ),
            ("GET", "/new", "GET", format!("{base}/new").as_str()),
        ]
    );
    let jtis: std::collections::HashSet<&str> = hops
        .iter()
        .map(|(_, _, c)| c["jti"].as_str().unwrap())
        .collect();
    assert_eq!(jtis.len(), 4, "a new proof for every request");
    assert_eq!(seen[1].body, b"{\"n\":1}", "a 307 keeps the body");
    assert!(seen[3].body.is_empty(), "a 303 turns the POST into a GET");
    for request in &seen {
        assert!(
            request
                .headers
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("DPoP ")
        );
    }
}

/// A DPoP nonce challenge to a request whose body streams: the token stays, the nonce is
/// kept, the challenge is the answer, and the next request carries the new nonce.
#[tokio::test]
async fn a_nonce_challenge_to_a_streaming_body_keeps_the_token() {
    let server = TestServer::builder()
        .client(ClientConfig::confidential("app", "s3cret"))
        .require_dpop_nonce()
        .start()
        .await
        .unwrap();
    let key = DpopKey::generate().unwrap();
    let endpoint = TokenEndpoint::builder(server.token_url())
        .client_id("app")
        .client_secret("s3cret")
        .dpop(key.clone())
        .build()
        .unwrap();
    let tokens = ClientCredentials::new(endpoint).build();
    let client = BearerAuth::builder(tokens.clone())
        .for_origin(server.url())
        .dpop(key)
        .build()
        .unwrap()
        .into_client(None)
        .unwrap();
    let streamed = |text: &str| reqwest::Body::wrap(String::from(text));
    let answer = client
        .post(server.url_of("/api/upload"))
        .body(streamed("one"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let first = tokens.token().await.unwrap();
    let token_requests = server.requests_to(Endpoint::Token).len();

    server.rotate_dpop_nonce();
    let answer = client
        .post(server.url_of("/api/upload"))
        .body(streamed("two"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401, "a stream is not sent twice");
    assert!(tokens.current().expect("still cached").same_as(&first));
    let answer = client
        .post(server.url_of("/api/upload"))
        .body(streamed("three"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "the next request has the new nonce");
    assert_eq!(server.requests_to(Endpoint::Token).len(), token_requests);
}

/// The client assertion from a request to `server`, as it received it.
async fn recorded_assertion(server: &MockServer) -> String {
    let requests = server.received_requests().await.unwrap();
    let request = requests.last().expect("a request arrived");
    url::form_urlencoded::parse(&request.body)
        .find(|(name, _)| name == "client_assertion")
        .map(|(_, value)| value.into_owned())
        .expect("a client assertion")
}

fn assertion_audience(assertion: &str) -> Value {
    proof_claims(assertion)["aud"].clone()
}

/// A revocation endpoint on another host records the client assertion it is sent and
/// replays it at the token endpoint: the assertion names the revocation endpoint, so the
/// token endpoint refuses it (RFC 7523 §3, RFC 7009 §2.1).
#[tokio::test]
async fn an_assertion_sent_to_another_endpoint_cannot_be_replayed_at_the_token_endpoint() {
    let (key, public) = es256("key-1");
    let server = TestServer::builder()
        .client(ClientConfig::private_key_jwt("svc", public))
        .start()
        .await
        .unwrap();
    let revocation = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&revocation)
        .await;
    let revocation_url = format!("{}/revoke", revocation.uri());
    for issuer_audience in [false, true] {
        let mut builder = TokenEndpoint::builder(server.token_url())
            .client_id("svc")
            .signer(key.clone())
            .revocation_url(&revocation_url);
        if issuer_audience {
            builder = builder.assertion_audience(server.url());
        }
        let endpoint = builder.build().unwrap();
        ClientCredentials::new(endpoint.clone())
            .build_source()
            .fetch()
            .await
            .expect("the token endpoint takes its own assertions");
        endpoint.revoke("some-token", None).await.unwrap();
        let recorded = recorded_assertion(&revocation).await;
        assert_eq!(
            assertion_audience(&recorded),
            Value::String(revocation_url.clone()),
            "issuer audience: {issuer_audience}"
        );

        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", "svc")
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", &recorded)
            .finish();
        let replay = reqwest::Client::new()
            .post(server.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(replay.status(), 401, "the replayed assertion is refused");
        let body: Value = serde_json::from_slice(&replay.bytes().await.unwrap()).unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
}
