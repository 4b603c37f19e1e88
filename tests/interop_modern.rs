//! Interop for modern OAuth against oidc-provider: discovery (RFC 8414 / OIDC), JWT client
//! authentication (RFC 7523 §2.2), the JWT bearer grant (RFC 7523 §2.1, a custom grant of the
//! server), token exchange (RFC 8693, a custom grant), revocation (RFC 7009, proven with
//! introspection, RFC 7662), DPoP (RFC 9449, nonces required by the token endpoint and the
//! resource), mutual TLS (RFC 8705, both client authentication methods and certificate-bound
//! tokens through the server's mTLS aliases), and the authorization response `iss` (RFC 9207).
//!
//! Ignored by `cargo test`; `cargo xtask interop` starts the server and runs them.

#[path = "interop_support/mod.rs"]
mod support;

use serde_json::Value;
use support::user_agent;
use tokensmith::dpop::DpopKey;
use tokensmith::oauth2::{
    AuthorizationCode, Callback, ClientAuth, ClientCredentials, Issuer, JwtBearer, JwtKey,
    RefreshTokenGrant, TokenEndpoint, TokenExchange, TokenTypeHint, token_type,
};
use tokensmith::reqwest::BearerAuth;
use tokensmith::{ErrorCode, ErrorKind, TokenSource};

struct Facts(Value);

impl Facts {
    fn get(&self, name: &str) -> &str {
        self.0[name]
            .as_str()
            .unwrap_or_else(|| panic!("no `{name}` in the interop facts"))
    }
    fn issuer(&self) -> &str {
        self.get("issuer")
    }
    fn resource(&self) -> &str {
        self.get("resource")
    }
}

fn facts() -> Facts {
    let path = std::env::var("TOKENSMITH_INTEROP_FACTS").expect(
        "TOKENSMITH_INTEROP_FACTS is not set: run these tests through `cargo xtask interop`",
    );
    Facts(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
}

async fn discovered(facts: &Facts) -> tokensmith::oauth2::TokenEndpointBuilder {
    Issuer::new(facts.issuer())
        .unwrap()
        .token_endpoint()
        .await
        .unwrap()
}

fn es256_key(facts: &Facts) -> JwtKey {
    JwtKey::from_pem(facts.get("es256_pem"), "ES256")
        .unwrap()
        .key_id("interop-es256")
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn json(answer: reqwest::Response) -> Value {
    serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap()
}

/// Fetches from `source`, expecting the server to refuse with `code`.
async fn refusal(source: tokensmith::oauth2::GrantSource, code: ErrorCode) -> tokensmith::Error {
    let err = source.fetch().await.unwrap_err();
    assert_eq!(err.oauth().map(|e| &e.code), Some(&code), "{err:?}");
    err
}

/// jwt-client's token endpoint, authenticating with its registered ES256 key.
async fn jwt_client(facts: &Facts) -> TokenEndpoint {
    discovered(facts)
        .await
        .client_id("jwt-client")
        .signer(es256_key(facts))
        .build()
        .unwrap()
}

/// What the server's introspection endpoint (RFC 7662) says of a token.
async fn introspect(facts: &Facts, token: &str) -> Value {
    let answer = reqwest::Client::new()
        .post(format!("{}/token/introspection", facts.issuer()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("token", token),
            ("client_id", "post-client"),
            ("client_secret", facts.get("secret")),
        ]))
        .send()
        .await
        .unwrap();
    json(answer).await
}

/// Calls the resource with the middleware and returns its JSON answer.
async fn call_resource(
    middleware: BearerAuth,
    http: Option<reqwest::ClientBuilder>,
    url: &str,
) -> (u16, Value) {
    let client = middleware.into_client(http).unwrap();
    let answer = client.get(url).send().await.unwrap();
    let status = answer.status().as_u16();
    (status, json(answer).await)
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn discovery_reads_the_metadata_and_refuses_another_issuer() {
    let f = facts();
    let issuer = Issuer::new(f.issuer()).unwrap();
    let metadata = issuer.metadata().await.unwrap();
    assert_eq!(metadata.issuer, f.issuer());
    assert_eq!(
        metadata.token_endpoint.as_deref(),
        Some(&*format!("{}/token", f.issuer()))
    );
    assert!(metadata.revocation_endpoint.is_some());
    assert!(metadata.authorization_response_iss_parameter_supported);
    assert!(
        metadata
            .dpop_signing_alg_values_supported
            .iter()
            .any(|a| a == "ES256")
    );
    for method in [
        "private_key_jwt",
        "client_secret_jwt",
        "client_secret_basic",
    ] {
        assert!(metadata.auth_methods().contains(&method), "{method}");
    }
    assert!(
        std::sync::Arc::ptr_eq(&metadata, &issuer.metadata().await.unwrap()),
        "kept, not fetched again"
    );

    // A trailing slash is another identifier: the document names the server without it.
    let err = Issuer::new(format!("{}/", f.issuer()))
        .unwrap()
        .metadata()
        .await
        .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Refused { .. }), "{err:?}");
    assert!(err.to_string().contains(f.issuer()), "{err}");
    assert!(err.hint().unwrap().contains("identical"), "{err:?}");

    // With only a secret, the client authentication is chosen from the server's list.
    let endpoint = discovered(&f)
        .await
        .client_id("post-client")
        .client_secret(f.get("secret"))
        .build()
        .unwrap();
    assert_eq!(endpoint.auth(), ClientAuth::Basic);
    assert!(endpoint.revocation_url().is_some());
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn private_key_jwt_with_es256_from_pem_and_ps256_from_jwk() {
    let f = facts();
    let endpoint = discovered(&f)
        .await
        .client_id("jwt-client")
        .signer(es256_key(&f))
        .build()
        .unwrap();
    assert_eq!(
        endpoint.auth(),
        ClientAuth::PrivateKeyJwt,
        "a signer makes private_key_jwt the choice"
    );
    let tokens = ClientCredentials::new(endpoint)
        .resource(f.resource())
        .scope(["api:read"])
        .build();
    let (status, body) = call_resource(
        BearerAuth::builder(tokens)
            .for_origin(f.resource())
            .build()
            .unwrap(),
        None,
        f.resource(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_id"], "jwt-client");

    let rsa = discovered(&f)
        .await
        .client_id("jwt-rsa-client")
        .signer(JwtKey::from_jwk(f.get("ps256_jwk")).unwrap())
        .build()
        .unwrap();
    let token = ClientCredentials::new(rsa)
        .build_source()
        .fetch()
        .await
        .unwrap();
    assert!(!token.secret().expose_secret().is_empty());
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn a_wrong_signing_key_is_invalid_client_with_a_hint_naming_the_key() {
    let f = facts();
    // The PS256 key belongs to another client: jwt-client has only its ES256 key registered.
    let endpoint = discovered(&f)
        .await
        .client_id("jwt-client")
        .signer(JwtKey::from_jwk(f.get("ps256_jwk")).unwrap())
        .build()
        .unwrap();
    let err = refusal(
        ClientCredentials::new(endpoint).build_source(),
        ErrorCode::InvalidClient,
    )
    .await;
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("interop-ps256") && hint.contains("JWKS"),
        "{hint}"
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("eyJ"), "no assertion in the error: {shown}");
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn client_secret_jwt_signs_with_the_secret() {
    let f = facts();
    let endpoint = TokenEndpoint::builder(format!("{}/token", f.issuer()))
        .client_id("secret-jwt-client")
        .client_secret(f.get("jwt_secret"))
        .auth(ClientAuth::ClientSecretJwt)
        .build()
        .unwrap();
    ClientCredentials::new(endpoint)
        .build_source()
        .fetch()
        .await
        .unwrap();
    let wrong = TokenEndpoint::builder(format!("{}/token", f.issuer()))
        .client_id("secret-jwt-client")
        .client_secret("canary-wrong-secret-for-hs256-0123456789")
        .auth(ClientAuth::ClientSecretJwt)
        .build()
        .unwrap();
    let err = refusal(
        ClientCredentials::new(wrong).build_source(),
        ErrorCode::InvalidClient,
    )
    .await;
    assert!(!format!("{err:?}").contains("canary-wrong-secret"));
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn the_jwt_bearer_grant_with_a_self_signed_assertion() {
    let f = facts();
    let source = JwtBearer::self_signed(jwt_client(&f).await, es256_key(&f), "jwt-client", "alice")
        .scope(["api:read"])
        .build_source();
    let token = source.fetch().await.unwrap();
    let seen = introspect(&f, token.secret().expose_secret()).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["sub"], "alice", "{seen}");
    // A second fetch signs a new assertion (a new jti), which the server accepts.
    source.fetch().await.unwrap();

    let err = refusal(
        JwtBearer::with_assertion(jwt_client(&f).await, "canary.not.ajwt").build_source(),
        ErrorCode::InvalidGrant,
    )
    .await;
    assert!(!format!("{err} {err:?}").contains("canary.not.ajwt"));
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn token_exchange_trades_a_subject_token_for_a_delegated_one() {
    let f = facts();
    let subject = ClientCredentials::new(
        discovered(&f)
            .await
            .client_id("post-client")
            .client_secret(f.get("secret"))
            .build()
            .unwrap(),
    )
    .scope(["api:read"])
    .build_source()
    .fetch()
    .await
    .unwrap();
    let answer = TokenExchange::new(
        jwt_client(&f).await,
        subject.secret().expose_secret(),
        token_type::ACCESS_TOKEN,
    )
    .audience("downstream")
    .scope(["api:read"])
    .exchange()
    .await
    .unwrap();
    assert_eq!(answer.issued_token_type(), Some(token_type::ACCESS_TOKEN));
    let seen = introspect(&f, answer.access_token().secret().expose_secret()).await;
    assert_eq!(seen["active"], true, "{seen}");
    assert_eq!(seen["client_id"], "jwt-client", "{seen}");
    assert_eq!(seen["sub"], "post-client", "acts for the subject: {seen}");

    let err = refusal(
        TokenExchange::new(
            jwt_client(&f).await,
            "canary-unknown-subject",
            token_type::ACCESS_TOKEN,
        )
        .build_source(),
        ErrorCode::InvalidGrant,
    )
    .await;
    assert!(!format!("{err} {err:?}").contains("canary-unknown-subject"));
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn sign_out_revokes_the_refresh_token_and_the_server_agrees() {
    let f = facts();
    let endpoint = discovered(&f)
        .await
        .client_id("code-client")
        .client_secret(f.get("secret"))
        .build()
        .unwrap();
    let pending = AuthorizationCode::discovered(endpoint.clone(), f.get("redirect_uri"))
        .unwrap()
        .scope(["openid", "offline_access"])
        .param("prompt", "consent")
        .start()
        .unwrap();
    let callback = user_agent(&pending, f.get("redirect_uri")).await;
    let tokens = pending.finish_url(&callback).await.unwrap();
    let access = tokens.access_token().secret().expose_secret().to_owned();
    let refresh = tokens.refresh_token().unwrap().expose_secret().to_owned();
    assert_eq!(introspect(&f, &refresh).await["active"], true);

    endpoint
        .revoke(&access, Some(TokenTypeHint::AccessToken))
        .await
        .unwrap();
    assert_eq!(introspect(&f, &access).await["active"], false);

    let source = RefreshTokenGrant::from_response(endpoint, tokens)
        .unwrap()
        .build_source();
    source.sign_out().await.unwrap();
    assert!(source.refresh_token().is_none());
    assert_eq!(
        introspect(&f, &refresh).await["active"],
        false,
        "revoked at the server"
    );
    // Revoking a token the server no longer knows is still success (RFC 7009 §2.2).
    source.endpoint().revoke(&refresh, None).await.unwrap();
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn rfc_9207_checks_the_iss_of_the_authorization_response() {
    let f = facts();
    let endpoint = discovered(&f)
        .await
        .client_id("public-client")
        .build()
        .unwrap();
    assert_eq!(endpoint.auth(), ClientAuth::None);
    let flow = AuthorizationCode::discovered(endpoint, f.get("redirect_uri"))
        .unwrap()
        .scope(["openid"]);

    let pending = flow.start().unwrap();
    let callback = user_agent(&pending, f.get("redirect_uri")).await;
    assert!(
        callback.contains("iss="),
        "oidc-provider sends iss: {callback}"
    );
    pending.finish_url(&callback).await.unwrap();

    for tamper in ["iss=https%3A%2F%2Fevil.example", ""] {
        let pending = flow.start().unwrap();
        let callback = user_agent(&pending, f.get("redirect_uri")).await;
        let url = url::Url::parse(&callback).unwrap();
        let query: Vec<String> = url
            .query_pairs()
            .filter(|(k, _)| k != "iss")
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
            .chain((!tamper.is_empty()).then(|| tamper.to_owned()))
            .collect();
        let err = pending
            .finish(Callback::from_query(&query.join("&")))
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Refused { .. }),
            "{tamper}: {err:?}"
        );
        assert!(err.to_string().contains("was not used"), "{err}");
    }
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn dpop_bound_tokens_with_nonces_at_the_token_endpoint_and_the_resource() {
    let f = facts();
    let key = DpopKey::generate().unwrap();
    let endpoint = discovered(&f)
        .await
        .client_id("dpop-client")
        .client_secret(f.get("secret"))
        .dpop(key.clone())
        .build()
        .unwrap();
    // The server requires a nonce: the first request is refused with one, the retry passes.
    let tokens = ClientCredentials::new(endpoint)
        .resource(f.resource())
        .scope(["api:read"])
        .build();
    let token = tokensmith::TokenProvider::token(&tokens).await.unwrap();
    assert_eq!(token.token_type().as_str(), "DPoP");

    // The resource wants its own nonce too: the middleware retries once with it.
    let middleware = BearerAuth::builder(tokens)
        .for_origin(f.resource())
        .dpop(key.clone())
        .build()
        .unwrap();
    let client = middleware.into_client(None).unwrap();
    for _ in 0..2 {
        let answer = client.get(f.resource()).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        let body = json(answer).await;
        assert_eq!(body["cnf"]["jkt"], key.thumbprint(), "{body}");
    }

    // A proof sent twice is refused the second time, by the resource and by the server.
    let url = url::Url::parse(f.resource()).unwrap();
    let proof = key
        .proof("GET", &url, Some(token.secret().expose_secret()))
        .unwrap();
    let raw = reqwest::Client::new();
    let send = || {
        raw.get(f.resource())
            .header(
                "authorization",
                format!("DPoP {}", token.secret().expose_secret()),
            )
            .header("dpop", proof.clone())
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    let replay = send().await.unwrap();
    assert_eq!(replay.status(), 401);
    assert!(replay.text().await.unwrap().contains("replayed"));

    let token_url = url::Url::parse(&format!("{}/token", f.issuer())).unwrap();
    let secret: String = url::form_urlencoded::byte_serialize(f.get("secret").as_bytes()).collect();
    let ask = |proof: reqwest::header::HeaderValue| {
        raw.post(token_url.clone())
            .basic_auth("dpop-client", Some(&secret))
            .header("dpop", proof)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[("grant_type", "client_credentials")]))
            .send()
    };
    let proof = key.proof("POST", &token_url, None).unwrap();
    assert_eq!(ask(proof.clone()).await.unwrap().status(), 200);
    let replay = ask(proof).await.unwrap();
    assert_eq!(replay.status(), 400);
    assert_eq!(
        json(replay).await["error"],
        "invalid_grant",
        "oidc-provider's answer to a replayed proof"
    );
    let fresh = key.proof("POST", &token_url, None).unwrap();
    assert_eq!(
        ask(fresh).await.unwrap().status(),
        200,
        "a fresh proof passes again"
    );
}

/// The CA, and a client identity (`client` or `self-signed`) with its PEM text, from the
/// certificates that `cargo xtask interop` made.
fn tls(name: &str) -> (reqwest::Certificate, reqwest::Identity, Vec<u8>) {
    let dir = std::path::PathBuf::from(std::env::var("TOKENSMITH_INTEROP_TLS").unwrap());
    let read = |file: &str| std::fs::read(dir.join(file)).unwrap();
    let ca = reqwest::Certificate::from_pem(&read("ca.pem")).unwrap();
    let pem = [
        read(&format!("{name}.pem")),
        read(&format!("{name}-key.pem")),
    ]
    .concat();
    let identity = reqwest::Identity::from_pem(&pem).unwrap();
    (ca, identity, pem)
}

/// A transport that trusts the interop CA and presents `identity`, if any.
fn transport(
    ca: &reqwest::Certificate,
    identity: Option<reqwest::Identity>,
) -> tokensmith::http::transport::ReqwestTransport {
    let mut builder = reqwest::Client::builder().add_root_certificate(ca.clone());
    if let Some(identity) = identity {
        builder = builder.identity(identity);
    }
    tokensmith::http::transport::ReqwestTransport::from_builder(builder).unwrap()
}

#[tokio::test]
#[ignore = "needs the interop server: run `cargo xtask interop`"]
async fn mutual_tls_client_auth_and_certificate_bound_tokens() {
    let f = facts();
    let mtls_resource = f.get("mtls_resource").to_owned();
    for (client, cert, auth) in [
        ("mtls-client", "client", ClientAuth::TlsClientAuth),
        (
            "self-signed-client",
            "self-signed",
            ClientAuth::SelfSignedTlsClientAuth,
        ),
    ] {
        let (ca, identity, pem) = tls(cert);
        let http = || reqwest::Client::builder().add_root_certificate(ca.clone());
        let endpoint = discovered(&f)
            .await
            .client_id(client)
            .transport(transport(&ca, Some(identity.clone())))
            .client_certificate_pem(&pem)
            .unwrap()
            .auth(auth)
            .build()
            .unwrap();
        assert!(
            endpoint.url().as_str().starts_with(f.get("mtls_issuer")),
            "the mTLS alias is used: {}",
            endpoint.url()
        );
        let tokens = ClientCredentials::new(endpoint)
            .resource(f.resource())
            .scope(["api:read"])
            .build();
        let (status, body) = call_resource(
            BearerAuth::builder(tokens.clone())
                .for_origin(&mtls_resource)
                .build()
                .unwrap(),
            Some(http().identity(identity)),
            &mtls_resource,
        )
        .await;
        assert_eq!(status, 200, "{client}: {body}");
        assert!(body["cnf"]["x5t#S256"].is_string(), "{body}");

        // The same token over another certificate is refused.
        let other = if cert == "client" {
            "self-signed"
        } else {
            "client"
        };
        let (_, wrong, _) = tls(other);
        let (status, body) = call_resource(
            BearerAuth::builder(tokens)
                .for_origin(&mtls_resource)
                .no_retry_on_unauthorized()
                .build()
                .unwrap(),
            Some(http().identity(wrong)),
            &mtls_resource,
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("another client certificate")
        );
    }

    // Without a certificate, tls_client_auth cannot succeed; the hint says what to check.
    let (ca, _, _) = tls("client");
    let endpoint = discovered(&f)
        .await
        .client_id("mtls-client")
        .transport(transport(&ca, None))
        .auth(ClientAuth::TlsClientAuth)
        .build()
        .unwrap();
    let err = refusal(
        ClientCredentials::new(endpoint).build_source(),
        ErrorCode::InvalidClient,
    )
    .await;
    assert!(err.hint().unwrap().contains("certificate"), "{err:?}");
}
