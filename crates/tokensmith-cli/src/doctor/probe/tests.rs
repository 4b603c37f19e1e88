use super::*;
use serde_json::json;

fn error(value: Value) -> Option<(String, String)> {
    error_of(value.as_object().unwrap())
}

#[test]
fn error_shapes_vendors_use() {
    assert_eq!(
        error(json!({"error": "invalid_client", "error_description": "bad"})),
        Some(("invalid_client".into(), "bad".into()))
    );
    assert_eq!(
        error(json!({"error": {"code": "InvalidAuthenticationToken", "message": "expired"}})),
        Some(("InvalidAuthenticationToken".into(), "expired".into()))
    );
    assert_eq!(
        error(json!({"ok": false, "error": "invalid_client_id"})),
        Some(("invalid_client_id".into(), String::new()))
    );
    assert_eq!(
        error(json!({"status": 401, "error": "Unauthorized", "message": "Bad credentials"})),
        Some(("Unauthorized".into(), "Bad credentials".into()))
    );
    assert_eq!(
        error(json!({"errors": [{"code": "invalid_request", "message": "grant_type missing"}]})),
        Some(("invalid_request".into(), "grant_type missing".into()))
    );
    assert_eq!(error(json!({"message": "Forbidden"})), None);
}

#[test]
fn curl_urls_keep_the_query_but_not_its_secrets() {
    let url = Url::parse("https://u:p@auth.example/token?api-version=2&api_key=s3cr3t#f").unwrap();
    assert_eq!(
        curl_url(&url),
        "https://auth.example/token?api-version=2&api_key=%5Bredacted%5D"
    );
}

#[test]
fn jwt_times_are_read_without_verifying() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = URL_SAFE_NO_PAD.encode(br#"{"iat":10,"exp":20}"#);
    assert_eq!(
        jwt_times(&format!("e30.{payload}.sig")),
        (Some(10.0), Some(20.0))
    );
    assert_eq!(jwt_times("opaque"), (None, None));
    assert_eq!(jwt_times("a.!!.c"), (None, None));
}
