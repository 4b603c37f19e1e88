//! What the interop test files share: playing the browser through a sign-in.

use tokensmith::oauth2::PendingAuthorization;
use url::Url;

/// Plays the browser: requests `url` and follows redirects, keeping cookies, through the
/// server's sign-in and consent pages (the interop server approves at once). Stops at the
/// first URL `stop` accepts (returned without being requested), or at a response that
/// redirects no further (`None`); at most 10 hops.
pub(crate) async fn browse(mut url: Url, stop: impl Fn(&Url) -> bool) -> Option<Url> {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut cookies: Vec<String> = Vec::new();
    for _ in 0..10 {
        let answer = browser
            .get(url.clone())
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .ok()?;
        for set in answer.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            let name = pair.split('=').next().unwrap().to_owned();
            cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            cookies.push(pair);
        }
        let location = answer.headers().get("location")?;
        let next = url.join(location.to_str().unwrap()).unwrap();
        if stop(&next) {
            return Some(next);
        }
        url = next;
    }
    panic!("no end to the redirects after 10 hops");
}

/// The callback URL a sign-in at `pending` leads to, for a client whose redirect URI no one
/// listens on.
#[allow(dead_code, reason = "not every interop test file signs in this way")]
pub(crate) async fn user_agent(pending: &PendingAuthorization, redirect_uri: &str) -> String {
    browse(pending.url().clone(), |url| {
        url.as_str().starts_with(redirect_uri)
    })
    .await
    .expect("the server stopped before redirecting back to the client")
    .to_string()
}
