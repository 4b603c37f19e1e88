//! `private_key_jwt`: the client proves who it is with a JWT signed by its private key, so no
//! shared secret exists to leak (RFC 7523 §2.2, OpenID Connect Core §9).
//!
//! `cargo run --example private_key_jwt --features jwt,testkit` starts the embedded server,
//! registers a client by its public key, then:
//! 1. discovers the server's endpoints and client authentication methods (RFC 8414),
//! 2. builds a token endpoint with a signing key: `private_key_jwt` is chosen from the
//!    server's list, and every token request carries a fresh, one-minute client assertion,
//! 3. calls the protected API through the middleware,
//! 4. shows what a wrong key gets: `invalid_client`, with a hint that names the key id.
//!
//! Here the key pair is made on the spot; in a service the PEM comes from a secret store,
//! and `Signer` can be implemented over a KMS or an HSM instead.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tokensmith::oauth2::{ClientCredentials, Issuer, JwtKey};
use tokensmith::reqwest::BearerAuth;
use tokensmith_testkit::{ClientConfig, Endpoint, TestServer};

/// A P-256 key pair: the private key as PKCS#8 PEM, the public key as a JWK.
fn key_pair(kid: &str) -> Result<(String, serde_json::Value), Box<dyn std::error::Error>> {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)?;
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pair.to_pkcs8v1()?.as_ref())
    );
    let point = pair.public_key().as_ref();
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..]),
    });
    Ok((pem, jwk))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (pem, public_jwk) = key_pair("reports-2026")?;
    let server = TestServer::builder()
        .client(ClientConfig::private_key_jwt("reports", public_jwk))
        .start()
        .await?;
    println!("authorization server and API at {}", server.url());

    // 1. Discovery: the metadata names the endpoints and the accepted authentication methods.
    let issuer = Issuer::new(server.url())?;
    let metadata = issuer.metadata().await?;
    println!("token endpoint: {:?}", metadata.token_endpoint);
    println!(
        "client authentication: {}",
        metadata.auth_methods().join(", ")
    );

    // 2. The key signs; the endpoint picks private_key_jwt because the server lists it.
    let key = JwtKey::from_pem(&pem, "ES256")?.key_id("reports-2026");
    println!("signing key: {key:?}");
    let endpoint = issuer
        .token_endpoint()
        .await?
        .client_id("reports")
        .signer(key)
        .build()?;
    println!("chosen: {}", endpoint.auth().as_str());
    let tokens = ClientCredentials::new(endpoint)
        .scope(["reports.read"])
        .build();

    // 3. The API call; the token request carried a client assertion and no secret.
    let client = BearerAuth::builder(tokens)
        .for_origin(server.url())
        .build()?
        .into_client(None)?;
    let answer = client.get(server.url_of("/api/reports")).send().await?;
    println!(
        "GET /api/reports -> {} {}",
        answer.status(),
        answer.text().await?
    );
    let sent = &server.requests_to(Endpoint::Token)[0];
    println!("token request form fields: {}", sent.form_keys.join(", "));

    // 4. A key the server does not know.
    let (other_pem, _) = key_pair("unregistered")?;
    let wrong = issuer
        .token_endpoint()
        .await?
        .client_id("reports")
        .signer(JwtKey::from_pem(&other_pem, "ES256")?.key_id("laptop-key"))
        .build()?;
    match ClientCredentials::new(wrong).build().token().await {
        Ok(_) => println!("unexpected: the wrong key was accepted"),
        // The error's text ends with its hint.
        Err(err) => println!("with the wrong key: {err}"),
    }
    Ok(())
}
