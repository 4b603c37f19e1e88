//! What the interop test files share: playing the browser through a sign-in.

use tokensmith::oauth2::PendingAuthorization;

/// Plays the browser: follows redirects, keeping cookies, until the redirect URI.
pub(crate) async fn user_agent(pending: &PendingAuthorization, redirect_uri: &str) -> String {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut cookies: Vec<String> = Vec::new();
    let mut url = pending.url().clone();
    for _ in 0..10 {
        let answer = browser
            .get(url.clone())
            .header("cookie", cookies.join("; "))
            .send()
            .await
            .unwrap();
        for set in answer.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            let name = pair.split('=').next().unwrap().to_owned();
            cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            cookies.push(pair);
        }
        let status = answer.status();
        let Some(location) = answer.headers().get("location") else {
            panic!(
                "the server stopped at {status}: {}",
                answer.text().await.unwrap()
            );
        };
        let next = url.join(location.to_str().unwrap()).unwrap();
        if next.as_str().starts_with(redirect_uri) {
            return next.to_string();
        }
        url = next;
    }
    panic!("no redirect back to the client after 10 hops");
}
