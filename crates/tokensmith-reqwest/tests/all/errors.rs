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
