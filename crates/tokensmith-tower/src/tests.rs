use super::*;
use tokensmith_core::StaticToken;

fn layer(origin: &str) -> AuthLayer {
    AuthLayer::builder(StaticToken::bearer("canary-tower-token").unwrap())
        .for_origin(origin)
        .header("x-api-key", "canary-tower-key")
        .build()
        .unwrap()
}

#[test]
fn origins_and_relative_uris() {
    let config = &layer("https://api.example.com").config;
    let allowed = |uri: &str| super::allowed(config, &Method::GET, &uri.parse().unwrap()).unwrap();
    assert!(allowed("https://api.example.com/v1").is_some());
    assert!(allowed("https://API.example.com:443/v1").is_some());
    assert!(allowed("https://api.example.com:8443/v1").is_none());
    assert!(allowed("http://api.example.com/v1").is_none());
    assert!(allowed("https://other.example.com/v1").is_none());
    assert_eq!(
        allowed("/pkg.Service/Call").unwrap().as_str(),
        "https://api.example.com/pkg.Service/Call",
        "a channel's request goes to the one origin"
    );
    let two = AuthLayer::builder(StaticToken::bearer("t").unwrap())
        .for_origin("https://a.example")
        .for_origin("https://b.example")
        .build()
        .unwrap();
    assert!(allowed_in(&two, "/pkg.Service/Call").is_none());
    assert!(
        AuthLayer::builder(StaticToken::bearer("t").unwrap())
            .for_origin("http://api.example.com")
            .build()
            .is_err()
    );
    assert!(
        AuthLayer::builder(StaticToken::bearer("t").unwrap())
            .build()
            .is_err()
    );
    let any = AuthLayer::builder(StaticToken::bearer("t").unwrap())
        .danger_allow_any_origin()
        .build()
        .unwrap();
    assert!(
        super::allowed(
            &any.config,
            &Method::GET,
            &"http://api.example.com/".parse().unwrap()
        )
        .is_err()
    );
    assert!(
        super::allowed(
            &any.config,
            &Method::GET,
            &"http://127.0.0.1:9/".parse().unwrap()
        )
        .unwrap()
        .is_some()
    );
}

fn allowed_in(layer: &AuthLayer, uri: &str) -> Option<Url> {
    allowed(&layer.config, &Method::GET, &uri.parse().unwrap()).unwrap()
}

#[test]
fn connect_and_authority_form_requests_are_judged_by_their_own_authority() {
    let layer = layer("https://api.example.com");
    let judged =
        |method: Method, uri: &str| allowed(&layer.config, &method, &uri.parse().unwrap()).unwrap();
    // Neither goes to the layer's one origin, whatever its authority.
    assert!(judged(Method::CONNECT, "evil.example:443").is_none());
    assert!(judged(Method::CONNECT, "api.example.com:443").is_none());
    assert!(judged(Method::GET, "evil.example:443").is_none());
    assert!(judged(Method::OPTIONS, "*").is_none());
    // Absolute-form by its own authority, origin-form on the one origin.
    assert!(judged(Method::GET, "https://evil.example/x").is_none());
    assert!(judged(Method::GET, "https://api.example.com/x").is_some());
    assert!(judged(Method::POST, "/pkg.Service/Call").is_some());
}

#[test]
fn bodies_that_hold_their_bytes_are_cloned_and_streams_are_not() {
    let request = Request::builder()
        .uri("https://api.example.com/")
        .header("x-a", "1")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let copy = try_clone(&request).unwrap();
    assert_eq!(copy.headers()["x-a"], "1");
    assert_eq!(copy.uri(), request.uri());
    assert!(try_clone(&Request::new(String::from("x"))).is_some());
    assert!(try_clone(&Request::new(Empty::<Bytes>::new())).is_some());
    struct Stream;
    assert!(try_clone(&Request::new(Stream)).is_none());
}

#[test]
fn a_watched_body_shows_no_token() {
    let token = AccessToken::builder("canary-body-token").build().unwrap();
    let body = AuthBody {
        inner: Full::new(Bytes::from_static(b"x")),
        watch: Some(Watch {
            provider: tokensmith_core::arc_provider(
                StaticToken::bearer("canary-body-token").unwrap(),
            ),
            token,
        }),
    };
    let text = format!("{body:?} {body:#?}");
    assert!(!text.contains("canary-body"), "{text}");
    assert!(text.contains("watched: true"), "{text}");
}

#[test]
fn debug_shows_no_secret() {
    let layer = layer("https://api.example.com");
    let text = format!(
        "{layer:?} {:?}",
        AuthLayer::builder(StaticToken::bearer("canary-tower-token").unwrap())
            .header("x-api-key", "canary-tower-key")
    );
    assert!(!text.contains("canary-tower"), "{text}");
    assert!(text.contains("x-api-key"));
}
