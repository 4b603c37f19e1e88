use http::HeaderValue;
use tokensmith_core::StaticToken;

use url::Host;

use super::*;

struct Engine(Attach);

impl Driver for Engine {
    const NAME: &'static str = "Engine";
    const LAYER: &'static str = "test";
    fn from_attach(attach: Attach) -> Self {
        Self(attach)
    }
}

fn engine(retry: bool) -> Attach {
    let builder = AttachBuilder::<Engine>::new(StaticToken::bearer("canary-engine").unwrap())
        .for_origin("https://api.example.com")
        .header("x-api-key", "canary-key");
    let builder = if retry {
        builder
    } else {
        builder.no_retry_on_unauthorized()
    };
    builder.build().unwrap().0
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn origin(url: &Url) -> RequestOrigin<'_> {
    RequestOrigin::of(url).unwrap()
}

#[test]
fn an_origin_read_from_a_uri_is_the_one_read_from_its_url() {
    for text in [
        "https://api.example.com/x",
        "https://API.example.com:8443/x?q=1",
        "http://127.0.0.1:9/x",
        "http://[::1]:8080/",
        "https://[2001:db8::1]/",
    ] {
        let uri: http::Uri = text.parse().unwrap();
        let parsed = url(text);
        let (a, b) = (RequestOrigin::of_uri(&uri).unwrap(), origin(&parsed));
        assert_eq!((a.scheme, a.port), (b.scheme, b.port), "{text}");
        match (a.host, b.host) {
            (Host::Domain(x), Host::Domain(y)) => assert!(x.eq_ignore_ascii_case(y)),
            (x, y) => assert_eq!(x, y, "{text}"),
        }
    }
    assert!(RequestOrigin::of_uri(&"/relative".parse().unwrap()).is_none());
}

#[test]
fn plans_follow_the_origin_the_request_auth_and_the_callers_header() {
    let attach = engine(true);
    let empty = HeaderMap::new();
    let ours = url("https://api.example.com/v1");
    assert!(matches!(
        attach.plan(&origin(&url("https://other.example/")), &empty, None),
        Ok(Plan::Pass)
    ));
    assert!(matches!(
        attach.plan(&origin(&ours), &empty, Some(&RequestAuth::Skip)),
        Ok(Plan::Pass)
    ));
    assert!(matches!(
        attach.plan(&origin(&ours), &empty, None),
        Ok(Plan::Token(None))
    ));
    let mut own = HeaderMap::new();
    own.insert(AUTHORIZATION, HeaderValue::from_static("Bearer mine"));
    assert!(matches!(
        attach.plan(&origin(&ours), &own, None),
        Ok(Plan::HeadersOnly)
    ));
    // A DPoP token with its proof, copied to a redirect's hop, is signed again.
    own.insert(AUTHORIZATION, HeaderValue::from_static("DPoP copied"));
    own.insert("dpop", HeaderValue::from_static("proof"));
    assert!(matches!(
        attach.plan(&origin(&ours), &own, None),
        Ok(Plan::Token(None))
    ));
}

#[test]
fn signing_sets_the_token_and_the_extra_headers() {
    let attach = engine(true);
    let token = AccessToken::builder("canary-engine").build().unwrap();
    let mut headers = HeaderMap::new();
    attach
        .sign("GET", None, &mut headers, Some(&token))
        .unwrap();
    assert_eq!(headers[AUTHORIZATION], "Bearer canary-engine");
    assert_eq!(headers["x-api-key"], "canary-key");
    assert!(headers["x-api-key"].is_sensitive());
    let text = format!("{attach:?}");
    assert!(!text.contains("canary"), "{text}");
}

#[tokio::test]
async fn a_refusal_is_retried_once_only_with_a_different_token() {
    let token = AccessToken::builder("canary-engine").build().unwrap();
    let ours = url("https://api.example.com/");
    let empty = HeaderMap::new();
    let attach = engine(true);
    let judge = |attach: &Attach, status, refused| {
        attach.judge(&token, Some(&ours), status, &empty, refused, true)
    };
    assert_eq!(judge(&attach, StatusCode::OK, false), Verdict::Accept);
    assert_eq!(
        judge(&attach, StatusCode::UNAUTHORIZED, true),
        Verdict::Refused
    );
    assert_eq!(
        judge(&engine(false), StatusCode::UNAUTHORIZED, true),
        Verdict::Accept
    );
    // A static token cannot replace itself: the refusal is the answer.
    let provider = attach.usual_provider().clone();
    let token = provider.token().await.unwrap();
    assert!(attach.replacement(&*provider, &token, true).await.is_none());
    assert!(
        attach
            .replacement(&*provider, &token, false)
            .await
            .is_none()
    );
}
