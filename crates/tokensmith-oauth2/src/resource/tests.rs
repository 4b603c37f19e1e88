use tokensmith_http::Transport;
use tokensmith_http::challenge::parse;

use super::metadata::{canonical_resource, covers};
use super::*;

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

#[test]
fn a_resource_covers_its_own_path_and_below_in_whole_segments() {
    let called = url("https://api.example.com/mcp");
    assert!(covers("https://api.example.com/mcp", &called));
    assert!(covers("https://api.example.com", &called));
    assert!(covers("https://api.example.com/", &called));
    assert!(covers("https://api.example.com/mcp/", &called));
    assert!(covers(
        "https://api.example.com/v1",
        &url("https://api.example.com/v1/orders?x=1")
    ));
    assert!(!covers("https://api.example.com/mc", &called));
    assert!(!covers("https://api.example.com/mcp/tools", &called));
    assert!(!covers("https://evil.example.com/mcp", &called));
    assert!(!covers("http://api.example.com/mcp", &called));
    assert!(!covers("https://api.example.com:8443/mcp", &called));
    assert!(!covers("https://api.example.com/mcp#f", &called));
    assert!(!covers("not a url", &called));
}

#[test]
fn canonical_resources_drop_query_fragment_and_a_bare_slash() {
    assert_eq!(
        canonical_resource(&url("https://API.example.com/mcp?x=1#f")),
        "https://api.example.com/mcp"
    );
    assert_eq!(
        canonical_resource(&url("https://api.example.com/")),
        "https://api.example.com"
    );
    assert_eq!(
        canonical_resource(&url("https://api.example.com:443/v1/")),
        "https://api.example.com/v1/"
    );
}

#[test]
fn resource_metadata_is_read_strictly_and_checked_against_the_called_url() {
    let metadata = ResourceMetadata::from_json(
        br#"{"resource":"https://api.example.com/mcp","authorization_servers":["https://as.example.com"],
            "scopes_supported":["a","b"],"bearer_methods_supported":["header"],"x":1}"#,
    )
    .unwrap();
    assert_eq!(metadata.authorization_servers, ["https://as.example.com"]);
    assert_eq!(metadata.scopes_supported.as_deref().unwrap(), ["a", "b"]);
    assert!(metadata.extra.contains_key("x"));
    metadata
        .check_resource(&url("https://api.example.com/mcp"))
        .unwrap();
    let refused = metadata
        .check_resource(&url("https://other.example.com/mcp"))
        .unwrap_err();
    assert!(matches!(
        refused.kind(),
        tokensmith_core::ErrorKind::Refused { .. }
    ));
    assert!(refused.to_string().contains("no token was requested"));

    for bad in [
        &b"[]"[..],
        b"{}",
        br#"{"resource":1}"#,
        br#"{"resource":"https://a","authorization_servers":"https://as"}"#,
        br#"{"resource":"https://a","scopes_supported":[1]}"#,
        b"<html>",
    ] {
        assert!(ResourceMetadata::from_json(bad).is_err());
    }
}

fn auth(flow: ResourceAuthBuilder) -> ResourceAuth {
    flow.transport(NoNetwork).build().unwrap()
}

/// A transport for tests of what the provider learns: nothing leaves the process.
struct NoNetwork;

impl Transport for NoNetwork {
    fn send(
        &self,
        _request: http::Request<bytes::Bytes>,
    ) -> tokensmith_http::transport::Sending<'_> {
        Box::pin(async {
            Err(tokensmith_http::TransportError::connect(
                "no network in this test".into(),
            ))
        })
    }
}

fn learn(auth: &ResourceAuth, status: u16, header: &str, sent: Option<&AccessToken>) -> bool {
    let challenges = parse(header).unwrap();
    auth.cached
        .source()
        .learn(
            auth.url(),
            StatusCode::from_u16(status).unwrap(),
            &challenges,
            sent,
        )
        .unwrap()
}

fn token(scopes: &[&str]) -> AccessToken {
    AccessToken::builder("t")
        .scopes(scopes.iter().copied())
        .build()
        .unwrap()
}

#[test]
fn step_ups_ask_for_the_union_only_when_it_grows_and_are_bounded() {
    let auth = auth(ResourceAuth::builder("https://api.example.com/mcp").max_step_ups(2));
    assert!(!auth.cached.source().ready());
    // The first challenge names the metadata and the scope.
    assert!(learn(
        &auth,
        401,
        r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp", scope="read""#,
        None
    ));
    assert!(auth.cached.source().ready());
    let source = auth.cached.source();
    source.hints().requested = ["read".to_owned()].into();
    let sent = token(&["read"]);
    // Asking again for what was granted: no new authorization.
    assert!(!learn(
        &auth,
        403,
        r#"Bearer error="insufficient_scope", scope="read""#,
        Some(&sent)
    ));
    // More scope: one step-up, with the union.
    assert!(learn(
        &auth,
        403,
        r#"Bearer error="insufficient_scope", scope="write""#,
        Some(&sent)
    ));
    assert_eq!(
        source.hints().wanted.iter().collect::<Vec<_>>(),
        ["read", "write"]
    );
    source.hints().requested = ["read".to_owned(), "write".to_owned()].into();
    assert!(learn(
        &auth,
        403,
        r#"Bearer error="insufficient_scope", scope="admin""#,
        Some(&sent)
    ));
    source.hints().requested.insert("admin".into());
    // The bound: no third step-up, whatever is asked.
    assert!(!learn(
        &auth,
        403,
        r#"Bearer error="insufficient_scope", scope="root""#,
        Some(&sent)
    ));
    // A 403 that is not about scope is the answer.
    assert!(!learn(
        &auth,
        403,
        r#"Bearer error="invalid_request""#,
        Some(&sent)
    ));
    assert!(!learn(&auth, 403, "", Some(&sent)));
}

#[test]
fn a_stronger_sign_in_is_an_error_for_machine_clients() {
    let machine = auth(
        ResourceAuth::builder("https://api.example.com/v1")
            .client_credentials("id", "CANARY-cc-secret"),
    );
    let challenges =
        parse(r#"Bearer error="insufficient_user_authentication", acr_values="mfa""#).unwrap();
    let err = machine
        .cached
        .source()
        .learn(machine.url(), StatusCode::UNAUTHORIZED, &challenges, None)
        .unwrap_err();
    assert!(err.to_string().contains("acr_values=mfa"), "{err}");
    assert!(!format!("{machine:?}").contains("CANARY"));

    let user = auth(ResourceAuth::builder("https://api.example.com/v1"));
    assert!(learn(
        &user,
        401,
        r#"Bearer error="insufficient_user_authentication", acr_values="mfa", max_age="0""#,
        None
    ));
    assert_eq!(
        user.cached.source().hints().auth_params,
        [
            ("acr_values".to_owned(), "mfa".to_owned()),
            ("max_age".to_owned(), "0".to_owned())
        ]
    );
    // The same demand again: signing in the same way would not help.
    assert!(!learn(
        &user,
        401,
        r#"Bearer error="insufficient_user_authentication", acr_values="mfa", max_age="0""#,
        None
    ));
}

#[test]
fn settings_are_checked() {
    assert!(
        ResourceAuth::builder("http://api.example.com/mcp")
            .build()
            .is_err()
    );
    assert!(ResourceAuth::builder("not a url").build().is_err());
    assert!(
        ResourceAuth::builder("https://api.example.com")
            .client_metadata_document("http://app.example/client.json")
            .build()
            .is_err()
    );
    assert!(
        ResourceAuth::builder("https://api.example.com")
            .identity_assertion(IdentityAssertion::id_token(
                "https://idp.example/token",
                "x"
            ))
            .build()
            .is_err()
    );
    ResourceAuth::builder("http://127.0.0.1:9/mcp")
        .build()
        .unwrap();
}

#[test]
fn secrets_stay_out_of_debug() {
    let assertion = IdentityAssertion::id_token("https://idp.example/token", "CANARY-id-token")
        .client("idp-client", Some(ClientSecret::from("CANARY-idp-secret")));
    let printed = format!("{assertion:?}");
    assert!(!printed.contains("CANARY"), "{printed}");
    let builder = ResourceAuth::builder("https://api.example.com/v1")
        .client_id("app")
        .client_secret("CANARY-client-secret")
        .identity_assertion(assertion);
    let printed = format!("{builder:?}");
    assert!(!printed.contains("CANARY"), "{printed}");
    let auth = builder.transport(NoNetwork).build().unwrap();
    let printed = format!("{auth:?}");
    assert!(!printed.contains("CANARY"), "{printed}");
}
