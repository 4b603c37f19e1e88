//! Plain HTTP helpers.

use reqwest::{Client, Response};
use serde_json::Value;
use tokensmith_testkit::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};

pub(crate) fn http() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// POSTs a form body with Basic authentication of the default client.
pub(crate) async fn post_form(url: &str, body: &str) -> Response {
    post_form_as(url, Some((DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)), body).await
}

/// POSTs a form body, with Basic authentication when `basic` names a client.
pub(crate) async fn post_form_as(
    url: impl reqwest::IntoUrl,
    basic: Option<(&str, &str)>,
    body: impl Into<String>,
) -> Response {
    let mut request = http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.into());
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    request.send().await.unwrap()
}

pub(crate) async fn json(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(Value::String(body)),
    )
}

/// A client-credentials token from `token_url`.
pub(crate) async fn client_token(token_url: &str) -> String {
    let (status, body) = json(post_form(token_url, "grant_type=client_credentials").await).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

pub(crate) async fn get_with(url: &str, token: &str) -> Response {
    http().get(url).bearer_auth(token).send().await.unwrap()
}
