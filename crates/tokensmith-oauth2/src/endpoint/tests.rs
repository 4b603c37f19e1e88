//! Unit tests of the token endpoint and its builder.

use super::*;

fn builder(url: &str) -> TokenEndpointBuilder {
    TokenEndpoint::builder(url)
        .client_id("id")
        .client_secret("canary-secret-44")
}

#[test]
fn each_endpoint_gets_an_assertion_for_itself() {
    let url = |text: &str| Url::parse(text).unwrap();
    let plain = builder("https://login.example/oauth/token")
        .build()
        .unwrap();
    let at = |endpoint: &TokenEndpoint, text: &str| endpoint.assertion_audience_for(&url(text));
    assert_eq!(
        at(&plain, "https://login.example/oauth/token"),
        "https://login.example/oauth/token"
    );
    assert_eq!(
        at(&plain, "https://login.example/oauth/revoke"),
        "https://login.example/oauth/revoke"
    );
    assert_eq!(
        at(&plain, "https://other.example/revoke"),
        "https://other.example/revoke"
    );
    let issuer = builder("https://login.example/oauth/token")
        .assertion_audience("https://login.example/tenant")
        .build()
        .unwrap();
    assert_eq!(
        at(&issuer, "https://login.example/oauth/token"),
        "https://login.example/tenant"
    );
    assert_eq!(
        at(&issuer, "https://login.example/oauth/device"),
        "https://login.example/tenant"
    );
    assert_eq!(
        at(&issuer, "https://revoke.example/revoke"),
        "https://revoke.example/revoke"
    );
}

#[test]
fn client_secret_jwt_refuses_a_secret_shorter_than_256_bits() {
    let short = || {
        TokenEndpoint::builder("https://a.example/t")
            .client_id("id")
            .client_secret("canary-short-hs256")
            .auth(ClientAuth::ClientSecretJwt)
    };
    let err = short().build().unwrap_err();
    assert!(
        matches!(err.kind(), tokensmith_core::ErrorKind::Config { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("RFC 7518 §3.2"), "{err}");
    assert!(
        err.hint()
            .unwrap()
            .contains("danger_allow_short_hmac_secret")
    );
    assert!(!format!("{err} {err:?}").contains("canary-short"));
    short().danger_allow_short_hmac_secret().build().unwrap();
    TokenEndpoint::builder("https://a.example/t")
        .client_id("id")
        .client_secret("x".repeat(32))
        .auth(ClientAuth::ClientSecretJwt)
        .build()
        .unwrap();
    // Other styles take any secret.
    builder("https://a.example/t").build().unwrap();
}

#[test]
fn http_is_refused_unless_loopback_or_opted_in() {
    for url in [
        "http://127.0.0.1:8080/token",
        "http://localhost/token",
        "http://[::1]:9/t",
        "https://a.example/t",
    ] {
        builder(url)
            .build()
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    let err = builder("http://auth.example/token").build().unwrap_err();
    assert!(err.to_string().contains("unencrypted"), "{err}");
    assert!(err.hint().unwrap().contains("danger_allow_insecure_http"));
    builder("http://auth.example/token")
        .danger_allow_insecure_http()
        .build()
        .unwrap();
    assert!(builder("ftp://x/token").build().is_err());
    assert!(builder("not a url").build().is_err());
}

struct NoKey;

#[async_trait::async_trait]
impl Signer for NoKey {
    fn algorithm(&self) -> &str {
        "ES256"
    }
    async fn sign(&self, _: &[u8]) -> Result<Vec<u8>, Error> {
        Err(Error::other("unused"))
    }
}

#[test]
fn the_authentication_follows_the_credentials_given() {
    let base = || TokenEndpoint::builder("https://a/t").client_id("id");
    let signed = base().signer(NoKey).build().unwrap();
    assert_eq!(signed.auth(), ClientAuth::PrivateKeyJwt);
    assert!(format!("{signed:?}").contains("PrivateKeyJwt"));
    let err = base().auth(ClientAuth::PrivateKeyJwt).build().unwrap_err();
    assert!(err.hint().unwrap().contains("signer"), "{err:?}");
    let err = base().auth(ClientAuth::TlsClientAuth).build().unwrap_err();
    assert!(
        err.hint().unwrap().contains("client_certificate_pem"),
        "{err:?}"
    );
    let err = base()
        .auth(ClientAuth::ClientSecretJwt)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("client secret"), "{err}");
    for name in ["client_assertion", "client_assertion_type"] {
        assert!(base().signer(NoKey).param(name, "x").build().is_err());
    }
    let named = base()
        .signer(NoKey)
        .issuer("https://a")
        .revocation_url("https://a/revoke")
        .build()
        .unwrap();
    assert_eq!(named.issuer(), Some("https://a"));
    assert_eq!(named.revocation_url().unwrap().as_str(), "https://a/revoke");
    assert!(
        base()
            .signer(NoKey)
            .revocation_url("http://a.example/revoke")
            .build()
            .is_err()
    );
}

#[test]
fn missing_or_conflicting_settings_are_typed_errors() {
    let no_secret = TokenEndpoint::builder("https://a/t")
        .client_id("id")
        .build()
        .unwrap_err();
    assert!(no_secret.hint().unwrap().contains("ClientAuth::None"));
    TokenEndpoint::builder("https://a/t")
        .client_id("id")
        .auth(ClientAuth::None)
        .build()
        .unwrap();
    assert!(
        TokenEndpoint::builder("https://a/t")
            .client_secret("s")
            .build()
            .is_err()
    );
    assert!(
        builder("https://a/t")
            .param("grant_type", "x")
            .build()
            .is_err()
    );
    assert!(
        builder("https://a/t")
            .header("bad header", "v")
            .build()
            .is_err()
    );
    assert!(
        builder("https://a/t")
            .header("x-api-key", "line\nbreak")
            .build()
            .is_err()
    );
}

#[test]
fn debug_and_display_hide_secrets_and_queries() {
    let endpoint = builder("https://user:pw@a.example/t?key=canary-q#f")
        .header("x-api-key", "canary-key-1")
        .build()
        .unwrap();
    let text = format!(
        "{endpoint:?} {:?}",
        builder("https://u:canary-pw@a/t?api_key=canary-q")
            .header("x-api-key", "canary-key-1")
            .param("resource", "canary-param")
    );
    for canary in [
        "canary-secret-44",
        "canary-key-1",
        "canary-q",
        "pw",
        "canary-param",
    ] {
        assert!(!text.contains(canary), "{canary} in {text}");
    }
    assert!(text.contains("https://a.example/t"));
}
