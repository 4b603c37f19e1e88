//! Discovery against servers on 127.0.0.1 that misbehave: an https issuer (a TLS server with a
//! certificate made for the test) whose metadata sends the client to plain http, and a
//! document that names another issuer in hostile text.

use std::sync::Arc;

use serde_json::{Value, json};
use tokensmith_core::ErrorKind;
use tokensmith_oauth2::Issuer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// An https server on 127.0.0.1 that answers every request with `document` (JSON), for at
/// most `answers` connections; its CA certificate in PEM.
async fn https_metadata(
    document: impl Fn(&str) -> Value + Send + 'static,
    answers: usize,
) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let ca_pem = cert.pem();
    // The provider named: a build with both of rustls' providers has no process default.
    let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().unwrap().port()
    );
    let issuer = base.clone();
    tokio::spawn(async move {
        for _ in 0..answers {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let Ok(mut tls) = acceptor.accept(socket).await else {
                continue;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 2048];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16 * 1024 {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let body = document(&issuer).to_string();
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(answer.as_bytes()).await;
            let _ = tls.shutdown().await;
        }
    });
    (base, ca_pem)
}

fn issuer_at(base: &str, ca_pem: &str) -> Issuer {
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap());
    let transport = tokensmith_http::transport::ReqwestTransport::from_builder(http).unwrap();
    Issuer::builder(base).transport(transport).build().unwrap()
}

#[tokio::test]
async fn an_https_issuer_whose_metadata_names_plain_http_endpoints_is_refused() {
    // The same document over https, with each endpoint in turn on plain http (loopback too).
    for (field, url) in [
        ("token_endpoint", "http://127.0.0.1:9/token"),
        ("revocation_endpoint", "http://login.example/revoke"),
        (
            "device_authorization_endpoint",
            "http://localhost:8080/device",
        ),
        ("jwks_uri", "http://127.0.0.1:9/jwks"),
    ] {
        let (base, ca) = https_metadata(
            move |issuer| {
                let mut document = json!({
                    "issuer": issuer,
                    "token_endpoint": format!("{issuer}/token"),
                    "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                });
                document[field] = Value::String(url.to_owned());
                document
            },
            2,
        )
        .await;
        let err = issuer_at(&base, &ca).metadata().await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Refused { .. }),
            "{field}: {err:?}"
        );
        assert!(err.to_string().contains(field), "{err}");
    }

    // All https: accepted.
    let (base, ca) = https_metadata(
        |issuer| {
            json!({
                "issuer": issuer,
                "token_endpoint": format!("{issuer}/token"),
                "revocation_endpoint": format!("{issuer}/revoke"),
            })
        },
        2,
    )
    .await;
    let metadata = issuer_at(&base, &ca).metadata().await.unwrap();
    assert_eq!(metadata.issuer, base);
}

/// A document naming another issuer, with control characters and a page of text in that
/// name: the refusal quotes it cut short and without the control characters.
#[tokio::test]
async fn the_issuer_mismatch_text_is_bounded_and_free_of_control_characters() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let hostile = format!("https://evil.example/\u{1b}[31m\r\n{}", "x".repeat(10_000));
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "issuer": hostile,
            "token_endpoint": "https://evil.example/token",
        })))
        .mount(&server)
        .await;
    let err = Issuer::new(server.uri())
        .unwrap()
        .metadata()
        .await
        .unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err.kind(), ErrorKind::Refused { .. }), "{err:?}");
    assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text}");
    assert!(text.len() < 2_000, "{} bytes", text.len());
}
