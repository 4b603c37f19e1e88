//! Workload identity against oidc-provider: the test plays the platform (it signs identity
//! tokens with its own key and serves that key's JWKS on 127.0.0.1), registers clients that
//! name the platform's JWKS (RFC 7591), and proves the three uses: the platform token as the
//! client assertion (rotated the way the kubelet rotates it), in token exchange (RFC 8693) and
//! in the JWT bearer grant (RFC 7523 §2.1).
//!
//! Ignored by `cargo test`; `cargo xtask interop` starts the server and runs them.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokensmith::oauth2::{ClientCredentials, TokenEndpoint, token_type};
use tokensmith::workload::{WorkloadGrant, WorkloadIdentity};
use tokensmith::{ErrorKind, TokenSource};

fn issuer() -> String {
    let path = std::env::var("TOKENSMITH_INTEROP_FACTS").expect(
        "TOKENSMITH_INTEROP_FACTS is not set: run these tests through `cargo xtask interop`",
    );
    let facts: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    facts["issuer"].as_str().unwrap().to_owned()
}

/// The platform: a P-256 key, its JWKS served on 127.0.0.1, and tokens it signs.
struct Platform {
    key: EcdsaKeyPair,
    jwks_uri: String,
}

impl Platform {
    async fn start() -> Self {
        let key = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = key.public_key().as_ref().to_vec();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            "kid": "platform-1",
            "alg": "ES256",
            "use": "sig",
        });
        let jwks = json!({"keys": [jwk]}).to_string();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let jwks_uri = format!("http://{}/jwks", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let jwks = jwks.clone();
                async move { ([("content-type", "application/json")], jwks) }
            }),
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { key, jwks_uri }
    }

    /// A token the platform issues: `iss`, `sub`, `aud`, a unique `jti`, `lifetime` seconds.
    fn token(&self, iss: &str, sub: &str, aud: &str, lifetime: i64) -> String {
        static SERIAL: AtomicU32 = AtomicU32::new(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": "platform-1"});
        let claims = json!({
            "iss": iss,
            "sub": sub,
            "aud": aud,
            "iat": now,
            "exp": now + lifetime,
            "jti": format!("platform-{}-{now}", SERIAL.fetch_add(1, Ordering::Relaxed)),
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// Registers a client that names this platform (RFC 7591); its id and secret.
    async fn register(&self, issuer: &str, auth_method: &str) -> (String, Option<String>) {
        let grants = if auth_method == "private_key_jwt" {
            json!(["client_credentials"])
        } else {
            json!([
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "urn:ietf:params:oauth:grant-type:jwt-bearer"
            ])
        };
        let mut body = json!({
                "token_endpoint_auth_method": auth_method,
                "jwks_uri": self.jwks_uri,
                "grant_types": grants,
                "response_types": [],
                "redirect_uris": [],
        });
        if auth_method == "private_key_jwt" {
            body["token_endpoint_auth_signing_alg"] = json!("ES256");
        }
        let answer = reqwest::Client::new()
            .post(format!("{issuer}/reg"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let answer: Value =
            serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"));
        let id = answer["client_id"]
            .as_str()
            .unwrap_or_else(|| panic!("registration refused: {answer}"))
            .to_owned();
        (id, answer["client_secret"].as_str().map(str::to_owned))
    }
}

/// Writes a token the way the kubelet updates a projected volume (a new directory, `..data`
/// swapped to it with one rename, `token` a symlink through it).
fn kubelet_write(dir: &Path, generation: u32, token: &str) {
    let versioned = dir.join(format!("..2026_12_06_{generation:04}"));
    std::fs::create_dir_all(&versioned).unwrap();
    std::fs::write(versioned.join("token"), token).unwrap();
    let staging = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&staging);
    std::os::unix::fs::symlink(versioned.file_name().unwrap(), &staging).unwrap();
    std::fs::rename(&staging, dir.join("..data")).unwrap();
    if std::fs::symlink_metadata(dir.join("token")).is_err() {
        std::os::unix::fs::symlink("..data/token", dir.join("token")).unwrap();
    }
}

#[tokio::test]
#[ignore = "needs the interop server: cargo xtask interop"]
async fn the_platform_token_as_client_assertion_rotated_like_the_kubelet_does() {
    let issuer = issuer();
    let token_url = format!("{issuer}/token");
    let platform = Platform::start().await;
    let (client_id, _) = platform.register(&issuer, "private_key_jwt").await;
    let dir = tempfile::tempdir().unwrap();
    // private_key_jwt: the assertion's iss and sub are the client, its aud the server.
    kubelet_write(
        dir.path(),
        1,
        &platform.token(&client_id, &client_id, &issuer, 600),
    );
    let endpoint = TokenEndpoint::builder(&token_url)
        .client_id(&client_id)
        .client_assertion(WorkloadIdentity::file(dir.path().join("token")))
        .build()
        .unwrap();
    let source = ClientCredentials::new(endpoint).build_source();
    source.fetch().await.unwrap();
    // The server refuses an assertion it has seen (its jti): the next fetch works only
    // because the rotated file is read anew.
    kubelet_write(
        dir.path(),
        2,
        &platform.token(&client_id, &client_id, &issuer, 600),
    );
    source.fetch().await.unwrap();
    // The same token again is refused as a replay, which shows the server checks.
    let replayed = source.fetch().await.unwrap_err();
    assert!(
        matches!(replayed.kind(), ErrorKind::OAuth(_)),
        "a replayed assertion is refused: {replayed}"
    );
    // An expired platform token is never sent.
    kubelet_write(
        dir.path(),
        3,
        &platform.token(&client_id, &client_id, &issuer, -60),
    );
    let expired = source.fetch().await.unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
}

#[tokio::test]
#[ignore = "needs the interop server: cargo xtask interop"]
async fn the_platform_token_in_token_exchange_and_the_jwt_bearer_grant() {
    let issuer = issuer();
    let token_url = format!("{issuer}/token");
    let platform = Platform::start().await;
    let (client_id, secret) = platform.register(&issuer, "client_secret_basic").await;
    let endpoint = || {
        TokenEndpoint::builder(&token_url)
            .client_id(&client_id)
            .client_secret(secret.clone().expect("a secret for client_secret_basic"))
            .build()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    // A workload's token, for this server as its audience.
    let path = dir.path().join("exchange-token");
    std::fs::write(
        &path,
        platform.token(
            "https://kubernetes.platform.test",
            "system:serviceaccount:prod:reports",
            &issuer,
            600,
        ),
    )
    .unwrap();
    let exchanged =
        WorkloadGrant::token_exchange(endpoint(), WorkloadIdentity::file(&path), token_type::JWT)
            .build();
    let token = exchanged.token().await.unwrap();
    assert!(token.expires_in().unwrap().as_secs() <= 600);

    // The JWT bearer grant: the token endpoint as the audience.
    let bearer_path = dir.path().join("bearer-token");
    std::fs::write(
        &bearer_path,
        platform.token(
            "https://kubernetes.platform.test",
            "system:serviceaccount:prod:reports",
            &token_url,
            600,
        ),
    )
    .unwrap();
    WorkloadGrant::jwt_bearer(endpoint(), WorkloadIdentity::file(&bearer_path))
        .build()
        .token()
        .await
        .unwrap();

    // A token of another platform (another key) is refused.
    let stranger = Platform::start().await;
    let forged = dir.path().join("forged");
    std::fs::write(
        &forged,
        stranger.token("https://elsewhere", "intruder", &issuer, 600),
    )
    .unwrap();
    let error =
        WorkloadGrant::token_exchange(endpoint(), WorkloadIdentity::file(&forged), token_type::JWT)
            .fetch()
            .await
            .unwrap_err();
    assert!(
        error
            .oauth()
            .is_some_and(|e| e.code.as_str() == "invalid_grant"),
        "{error}"
    );
}
