use super::*;

#[test]
fn s256_matches_rfc_7636_appendix_b() {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    assert_eq!(
        PkceMethod::S256.challenge(verifier),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    assert_eq!(PkceMethod::PlainDowngrade.challenge(verifier), verifier);
}

#[test]
fn verifiers_are_random_and_long_enough() {
    let a = random_urlsafe(32).unwrap();
    let b = random_urlsafe(32).unwrap();
    assert_ne!(a, b);
    assert_eq!(a.len(), 43, "RFC 7636 wants 43 to 128 characters");
}

#[test]
fn extra_parameters_never_repeat_what_the_flow_sets() {
    let endpoint = crate::TokenEndpoint::builder("https://login.example/token")
        .client_id("app")
        .auth(crate::ClientAuth::None)
        .build()
        .unwrap();
    let flow = || {
        AuthorizationCode::new(
            endpoint.clone(),
            "https://login.example/authorize",
            "https://app.example/cb",
        )
        .unwrap()
    };
    for name in [
        "state",
        "redirect_uri",
        "code_challenge",
        "scope",
        "client_id",
    ] {
        let err = flow().param(name, "mine").start().unwrap_err();
        assert!(err.to_string().contains(&format!("`{name}`")), "{err}");
    }
    let pending = flow().param("prompt", "login").start().unwrap();
    let states: Vec<_> = pending
        .url()
        .query_pairs()
        .filter(|(name, _)| name == "state")
        .collect();
    assert_eq!(states.len(), 1);
    assert!(
        pending
            .url()
            .query_pairs()
            .any(|(n, v)| n == "prompt" && v == "login")
    );
}

#[test]
fn callbacks_parse_and_debug_hides_the_code() {
    let callback =
        Callback::from_url("http://127.0.0.1/cb?code=canary-code-9&state=s1&x=y").unwrap();
    assert_eq!(callback, Callback::new("canary-code-9", "s1"));
    assert!(!format!("{callback:?}").contains("canary-code-9"));
    let error = Callback::from_query("?error=access_denied&error_description=no&state=s");
    assert_eq!(error.error.as_deref(), Some("access_denied"));
    assert!(Callback::from_url("not a url").is_err());
}
