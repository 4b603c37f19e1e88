use super::*;
use proptest::prelude::*;
use tokensmith_core::ErrorCode;
use tokensmith_core::ErrorKind;

fn answer<'a>(status: u16, content_type: Option<&'a str>, body: &'a [u8]) -> RawResponse<'a> {
    RawResponse {
        status: StatusCode::from_u16(status).unwrap(),
        content_type,
        date: None,
        sent_at: Instant::now(),
        lifetime_cap: None,
        body,
        secrets: &[],
        vendor: None,
    }
}

fn ok(status: u16, content_type: Option<&str>, body: &str) -> TokenResponse {
    parse(&answer(status, content_type, body.as_bytes())).unwrap()
}

fn err(status: u16, content_type: Option<&str>, body: &str) -> Error {
    parse(&answer(status, content_type, body.as_bytes())).unwrap_err()
}

const JSON: Option<&str> = Some("application/json");

#[tokio::test(start_paused = true)]
async fn standard_answer() {
    let r = ok(
        200,
        JSON,
        r#"{"access_token":"abc","token_type":"bearer","expires_in":3600,"refresh_token":"r1","scope":"a b","id_token":"x.y.z"}"#,
    );
    let t = r.access_token();
    assert_eq!(t.secret().expose_secret(), "abc");
    assert_eq!(t.authorization_header().to_str().unwrap(), "Bearer abc");
    assert_eq!(t.lifetime(), Some(Duration::from_secs(3600)));
    assert_eq!(t.scopes(), ["a", "b"]);
    assert_eq!(r.refresh_token().unwrap().expose_secret(), "r1");
    assert_eq!(r.extra().get("id_token").unwrap(), "x.y.z");
}

#[tokio::test(start_paused = true)]
async fn tolerant_variants() {
    let r = ok(
        201,
        Some("application/json; charset=utf-8"),
        r#"{"access_token":"a","expires_in":"120","token_type":"bearer","scope":["x","y"]}"#,
    );
    assert_eq!(r.access_token().lifetime(), Some(Duration::from_secs(120)));
    assert!(r.access_token().token_type().is_bearer());
    assert_eq!(r.access_token().scopes(), ["x", "y"]);
    for kind in ["BEARER", "Bearer", ""] {
        let body = format!(r#"{{"access_token":"a","token_type":"{kind}"}}"#);
        assert!(
            ok(200, JSON, &body).access_token().token_type().is_bearer(),
            "{kind}"
        );
    }
    assert!(
        ok(200, JSON, r#"{"access_token":"a"}"#)
            .access_token()
            .token_type()
            .is_bearer()
    );
    for expiry in ["null", "0", "\"0\"", "-5", "\"soon\""] {
        let body = format!(r#"{{"access_token":"a","expires_in":{expiry}}}"#);
        assert_eq!(
            ok(200, JSON, &body).access_token().lifetime(),
            None,
            "{expiry}"
        );
    }
    let huge = ok(200, JSON, r#"{"access_token":"a","expires_in":1e300}"#);
    assert_eq!(huge.access_token().lifetime(), Some(MAX_EXPIRES_IN));
    // JSON sent as text/plain is still JSON.
    ok(200, Some("text/plain"), r#"{"access_token":"a"}"#);
}

#[tokio::test(start_paused = true)]
async fn form_encoded_answers() {
    let r = ok(
        200,
        Some("application/x-www-form-urlencoded"),
        "access_token=a%2Bb&token_type=bearer&expires_in=60&scope=r+w",
    );
    assert_eq!(r.access_token().secret().expose_secret(), "a+b");
    assert_eq!(r.access_token().lifetime(), Some(Duration::from_secs(60)));
    assert_eq!(r.access_token().scopes(), ["r", "w"]);
    let r = ok(200, Some("text/plain"), "access_token=zz&scope=s");
    assert_eq!(r.access_token().secret().expose_secret(), "zz");
    let e = err(
        200,
        Some("text/plain"),
        "error=invalid_client&error_description=nope",
    );
    assert_eq!(e.oauth().unwrap().code, ErrorCode::InvalidClient);
}

#[tokio::test(start_paused = true)]
async fn jwt_exp_gives_the_expiry_against_the_server_date() {
    let server_now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let payload = general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"x","exp":1700000900}"#);
    let jwt = format!("eyJhbGciOiJub25lIn0.{payload}.sig");
    let body = format!(r#"{{"access_token":"{jwt}"}}"#);
    let mut raw = answer(200, JSON, body.as_bytes());
    raw.date = Some(server_now);
    let r = parse(&raw).unwrap();
    assert_eq!(r.access_token().lifetime(), Some(Duration::from_secs(900)));
    // With the server's date, the earlier of `exp` and `expires_in` counts.
    let body = format!(r#"{{"access_token":"{jwt}","expires_in":60}}"#);
    let mut raw = answer(200, JSON, body.as_bytes());
    raw.date = Some(server_now);
    let r = parse(&raw).unwrap();
    assert_eq!(r.access_token().lifetime(), Some(Duration::from_secs(60)));
    let body = format!(r#"{{"access_token":"{jwt}","expires_in":3600}}"#);
    let mut raw = answer(200, JSON, body.as_bytes());
    raw.date = Some(server_now);
    let r = parse(&raw).unwrap();
    assert_eq!(
        r.access_token().lifetime(),
        Some(Duration::from_secs(900)),
        "`exp` says 900 s on the server's clock"
    );
    // Without a date, `exp` (on a clock that may be off) never shortens `expires_in`:
    // here the local clock is years past `exp`.
    assert_eq!(
        ok(200, JSON, &body).access_token().lifetime(),
        Some(Duration::from_secs(3600))
    );
}

#[test]
fn oauth_errors_in_every_shape() {
    let e = err(
        400,
        JSON,
        r#"{"error":"invalid_request","error_description":"Missing parameter grant_type","error_uri":"https://d/e"}"#,
    );
    let o = e.oauth().unwrap();
    assert_eq!(
        (o.code.clone(), o.status),
        (ErrorCode::InvalidRequest, StatusCode::BAD_REQUEST)
    );
    assert_eq!(
        o.description.as_deref(),
        Some("Missing parameter grant_type")
    );
    assert_eq!(o.uri.as_deref(), Some("https://d/e"));

    let e = err(
        400,
        JSON,
        r#"{"error_description":"Invalid client_id","error":"Invalid_request"}"#,
    );
    let o = e.oauth().unwrap();
    assert_eq!(o.code, ErrorCode::InvalidRequest);
    assert_eq!(o.original_code, "Invalid_request");

    let e = err(200, JSON, r#"{"error":"invalid_grant"}"#);
    assert_eq!(e.oauth().unwrap().status, StatusCode::OK);
    assert_eq!(e.oauth().unwrap().code, ErrorCode::InvalidGrant);

    // The shapes outside RFC 6749 that many servers use are read without a vendor hook.
    for (body, code, description) in [
        (
            r#"{"errors":[{"message":"Invalid refresh token.","attribute-name":"refresh_token"}]}"#,
            ErrorCode::InvalidGrant,
            "Invalid refresh token. (refresh_token)",
        ),
        (
            r#"{"error":{"code":"Unauthorized","message":"bad key"}}"#,
            ErrorCode::Other("unauthorized".into()),
            "bad key",
        ),
    ] {
        let e = err(400, JSON, body);
        let o = e.oauth().unwrap_or_else(|| panic!("{body}: {e:?}"));
        assert_eq!(o.code, code, "{body}");
        assert_eq!(o.description.as_deref(), Some(description), "{body}");
    }
    let e = err(
        401,
        JSON,
        r#"{"error":"Unauthorized","error_description":"bad key"}"#,
    );
    assert_eq!(e.oauth().unwrap().original_code, "Unauthorized");

    let e = err(
        400,
        JSON,
        r#"{"error":"context.unknown","errorParameters":[]}"#,
    );
    assert_eq!(
        e.oauth().unwrap().code,
        ErrorCode::Other("context.unknown".into())
    );
}

struct Fault;

impl TokenVendor for Fault {
    fn error(&self, status: StatusCode, fields: &Map<String, Value>) -> Option<OAuthError> {
        let mut error = OAuthError::new(status, fields.get("fault")?.as_str()?);
        error.description = Some("fault canary-desc-1".into());
        Some(error)
    }

    fn token_type(&self, kind: &str) -> Option<TokenType> {
        (kind == "AccessPass").then_some(TokenType::Bearer)
    }
}

#[tokio::test(start_paused = true)]
async fn vendor_hooks_read_their_shapes_after_the_rfc_ones() {
    let with_hook = |status, body: &'static str| {
        let mut raw = answer(status, JSON, body.as_bytes());
        raw.vendor = Some(&Fault);
        raw.secrets = &["canary-desc-1"];
        parse(&raw)
    };
    let e = with_hook(400, r#"{"fault":"invalid_client"}"#).unwrap_err();
    let o = e.oauth().unwrap();
    assert_eq!(o.code, ErrorCode::InvalidClient);
    assert_eq!(
        o.description.as_deref(),
        Some("fault [redacted]"),
        "scrubbed like any other"
    );
    // The RFC shape wins over the hook.
    let e = with_hook(400, r#"{"error":"invalid_grant","fault":"invalid_client"}"#).unwrap_err();
    assert_eq!(e.oauth().unwrap().code, ErrorCode::InvalidGrant);
    let r = with_hook(200, r#"{"access_token":"a","token_type":"AccessPass"}"#).unwrap();
    assert!(r.access_token().token_type().is_bearer());
    let r = with_hook(200, r#"{"access_token":"a","token_type":"mac"}"#).unwrap();
    assert!(!r.access_token().token_type().is_bearer());
    // Without the hook, the same bodies are what the RFC makes of them.
    assert!(matches!(
        err(400, JSON, r#"{"fault":"invalid_client"}"#).kind(),
        ErrorKind::UnexpectedResponse(_)
    ));
    let r = ok(
        200,
        JSON,
        r#"{"access_token":"a","token_type":"AccessPass"}"#,
    );
    assert!(!r.access_token().token_type().is_bearer());
}

#[test]
fn unexpected_answers_keep_status_type_and_excerpt() {
    let cases = [
        (
            502,
            Some("text/html"),
            "<html><body>Bad Gateway</body></html>",
            "HTML page",
        ),
        (200, JSON, r#"{"access_tok"#, "truncated"),
        (200, JSON, "", "empty"),
        (
            200,
            JSON,
            r#"{"token_type":"bearer"}"#,
            "without `access_token`",
        ),
        (200, JSON, r#"["access_token"]"#, "not an object"),
        (
            404,
            JSON,
            r#"{"message":"not found"}"#,
            "HTTP 404 without an OAuth error",
        ),
        (
            200,
            JSON,
            r#"{"access_token":"has space"}"#,
            "unusable access token",
        ),
        (200, JSON, r#"{"access_token":42}"#, "not a string"),
    ];
    for (status, content_type, body, reason) in cases {
        match err(status, content_type, body).kind() {
            ErrorKind::UnexpectedResponse(u) => {
                assert_eq!(u.status.as_u16(), status);
                assert_eq!(u.content_type.as_deref(), content_type);
                assert!(u.reason.contains(reason), "{body}: {}", u.reason);
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn excerpts_mask_secrets() {
    let mut raw = answer(
        500,
        Some("text/html"),
        b"<p>client_secret=CANARY-9 rejected; echo CANARY-9</p>",
    );
    raw.secrets = &["CANARY-9"];
    let e = parse(&raw).unwrap_err();
    assert!(!format!("{e} {e:?}").contains("CANARY-9"));
}

#[test]
fn error_descriptions_are_scrubbed_and_bounded() {
    let long = "x ".repeat(1000);
    let body =
        format!(r#"{{"error":"invalid_client","error_description":"bad secret CANARY-3 {long}"}}"#);
    let mut raw = answer(401, JSON, body.as_bytes());
    raw.secrets = &["CANARY-3"];
    let e = parse(&raw).unwrap_err();
    let description = e.oauth().unwrap().description.clone().unwrap();
    assert!(
        description.starts_with("bad secret [redacted] x x"),
        "{description}"
    );
    assert!(description.chars().count() <= tokensmith_http::scrub::EXCERPT_CHARS + 1);
}

#[test]
fn debug_of_a_response_shows_no_secret() {
    let r = ok(
        200,
        JSON,
        r#"{"access_token":"canary-at-1","refresh_token":"canary-rt-1","id_token":"canary-id-1"}"#,
    );
    let text = format!("{r:?} {r:#?}");
    assert!(!text.contains("canary-"), "{text}");
    assert!(text.contains("id_token"));
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_-]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn never_panics(
        status in 100u16..600,
        content_type in proptest::option::of(prop_oneof![
            Just("application/json".to_owned()),
            Just("application/x-www-form-urlencoded".to_owned()),
            Just("text/html".to_owned()),
            ".{0,40}",
        ]),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let raw = RawResponse {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: content_type.as_deref(),
            date: None,
            sent_at: Instant::now(),
            lifetime_cap: None,
            body: &body,
            secrets: &[],
            vendor: None,
        };
        let _ = parse(&raw);
    }

    #[test]
    fn never_panics_on_arbitrary_error_objects(
        status in prop_oneof![Just(200u16), Just(400), Just(401), Just(500)],
        error in json_value(),
        errors in json_value(),
        description in json_value(),
    ) {
        let body = serde_json::json!({"error": error, "errors": errors, "error_description": description}).to_string();
        let raw = RawResponse {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: Some("application/json"),
            date: None,
            sent_at: Instant::now(),
            lifetime_cap: None,
            body: body.as_bytes(),
            secrets: &[],
            vendor: None,
        };
        if let Err(e) = parse(&raw) {
            let _ = (e.to_string(), e.hint().map(str::to_owned));
        }
    }

    #[test]
    fn never_panics_on_json_like_input(
        status in prop_oneof![Just(200u16), Just(201), Just(400), Just(401)],
        access in proptest::option::of(".{0,20}"),
        expires in proptest::option::of(prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| format!("{n:?}")),
            ".{0,10}".prop_map(|s| format!("{s:?}")),
        ]),
        kind in ".{0,12}",
        error in proptest::option::of(".{0,12}"),
    ) {
        let mut fields = Vec::new();
        if let Some(access) = access { fields.push(format!("\"access_token\":{access:?}")); }
        if let Some(expires) = expires { fields.push(format!("\"expires_in\":{expires}")); }
        fields.push(format!("\"token_type\":{kind:?}"));
        if let Some(error) = error { fields.push(format!("\"error\":{error:?}")); }
        let body = format!("{{{}}}", fields.join(","));
        let raw = RawResponse {
            status: StatusCode::from_u16(status).unwrap(),
            content_type: Some("application/json"),
            date: None,
            sent_at: Instant::now(),
            lifetime_cap: None,
            body: body.as_bytes(),
            secrets: &[],
            vendor: None,
        };
        let _ = parse(&raw);
    }
}
