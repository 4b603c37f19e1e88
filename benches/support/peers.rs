//! The peers the benchmarks measure tokensmith against, set up alike in every bench binary:
//! an `aliri_tokens` watcher over a one-hour token, and the oauth2 crate's client-credentials
//! client with tokensmith's defaults.

use std::time::Duration;

use tokio::runtime::Runtime;

/// A token source for aliri_tokens: a one-hour token at once.
pub(crate) struct ConstAliri;

#[async_trait::async_trait]
impl aliri_tokens::sources::AsyncTokenSource for ConstAliri {
    type Error = std::convert::Infallible;

    async fn request_token(&mut self) -> Result<aliri_tokens::TokenWithLifetime, Self::Error> {
        let config = aliri_tokens::TokenLifetimeConfig::new(0.8, aliri_clock::DurationSecs(60));
        Ok(config.create_token::<_, aliri_tokens::IdToken>(
            aliri_tokens::AccessToken::from("bench-token".to_owned()),
            None,
            aliri_clock::DurationSecs(3600),
        ))
    }
}

/// An `aliri_tokens` watcher over [`ConstAliri`], spawned on `rt`.
pub(crate) fn aliri_watcher(rt: &Runtime) -> aliri_tokens::TokenWatcher {
    rt.block_on(aliri_tokens::TokenWatcher::spawn_from_token_source(
        ConstAliri,
        aliri_tokens::jitter::NullJitter,
        aliri_tokens::backoff::ErrorBackoffConfig::default(),
    ))
    .unwrap()
}

/// The oauth2 crate's client with a token endpoint set.
pub(crate) type OAuth2Client = oauth2::basic::BasicClient<
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// The oauth2 crate's client for `token_url`, and its HTTP client with tokensmith's defaults:
/// no redirects, a 10 s connect timeout, a 30 s bound on the call.
pub(crate) fn oauth2_client(
    token_url: String,
    id: &str,
    secret: &str,
) -> (OAuth2Client, oauth2::reqwest::Client) {
    let client = oauth2::basic::BasicClient::new(oauth2::ClientId::new(id.into()))
        .set_client_secret(oauth2::ClientSecret::new(secret.into()))
        .set_token_uri(oauth2::TokenUrl::new(token_url).unwrap());
    let http = oauth2::reqwest::ClientBuilder::new()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    (client, http)
}

/// One client-credentials fetch with the oauth2 crate; the token's length.
pub(crate) async fn oauth2_fetch(client: &OAuth2Client, http: &oauth2::reqwest::Client) -> usize {
    use oauth2::TokenResponse as _;
    let answer = client
        .exchange_client_credentials()
        .request_async(http)
        .await
        .unwrap();
    answer.access_token().secret().len()
}
