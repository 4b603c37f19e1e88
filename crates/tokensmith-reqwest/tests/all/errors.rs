//! A provider's failure reaches the caller with its hint.

use std::error::Error as _;
use std::sync::Arc;

use tokensmith_core::{Error, MockTokenProvider, TokenProvider};
use tokensmith_reqwest::{BearerAuth, auth_error};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

#[tokio::test]
async fn provider_errors_keep_the_tokensmith_error_as_source() {
    let api = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    let mut mock = MockTokenProvider::new();
    mock.expect_token()
        .times(1)
        .returning(|| Err(Error::config("no secret").with_hint("set the client secret")));
    let provider: Arc<dyn TokenProvider> = Arc::new(mock);
    let client = client_with(BearerAuth::builder(provider).for_origin(api.uri()));
    let err = client.get(api.uri()).send().await.unwrap_err();
    assert!(
        err.to_string().contains("could not get an access token"),
        "{err}"
    );
    let inner = auth_error(&err).unwrap();
    assert_eq!(inner.hint(), Some("set the client secret"));
    let source = err.source().unwrap();
    assert!(
        source.downcast_ref::<Error>().is_some(),
        "the tokensmith error is the source"
    );
    assert!(
        requests(&api).await.is_empty(),
        "nothing was sent without a token"
    );
}

/// A plain token endpoint (no vendor hook) answering `{"error":"Invalid_request",
/// "error_description":"Invalid client_id"}`: the middleware's error names the likely cause.
#[tokio::test]
async fn a_non_standard_token_error_reaches_the_caller_with_its_hint() {
    use tokensmith_oauth2::{ClientCredentials, TokenEndpoint};
    let auth = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "Invalid_request", "error_description": "Invalid client_id"
        })))
        .mount(&auth)
        .await;
    let api = MockServer::start().await;
    let endpoint = TokenEndpoint::builder(format!("{}/oauth/token", auth.uri()))
        .client_id("app")
        .client_secret("canary-client-secret-77")
        .build()
        .unwrap();
    let provider = ClientCredentials::new(endpoint).build();
    let client = client_with(BearerAuth::builder(provider).for_origin(api.uri()));
    let err = client.get(api.uri()).send().await.unwrap_err();
    let inner = auth_error(&err).unwrap();
    assert!(
        inner
            .hint()
            .unwrap()
            .contains("client id/secret pair is wrong"),
        "{inner:?}"
    );
    assert!(err.to_string().contains("(hint: "), "{err}");
    assert!(!format!("{err} {err:?}").contains("canary-client-secret"));
}
