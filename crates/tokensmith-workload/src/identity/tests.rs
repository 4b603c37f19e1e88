use super::*;

fn jwt(claims: Value) -> String {
    format!(
        "e30.{}.sig",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    )
}

#[test]
fn claims_are_read_without_verifying() {
    let claims = claims_of(&jwt(serde_json::json!({
        "iss": "https://kubernetes.default.svc",
        "sub": "system:serviceaccount:ns:app",
        "aud": ["api://AzureADTokenExchange"],
        "exp": 2_000_000_000u64,
    })));
    assert_eq!(
        claims.issuer.as_deref(),
        Some("https://kubernetes.default.svc")
    );
    assert_eq!(claims.audiences, ["api://AzureADTokenExchange"]);
    assert_eq!(
        claims.expires_at,
        Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000))
    );
    assert!(claims_of("opaque").expires_at.is_none());
    assert!(claims_of("a.%%%.c").issuer.is_none());
}

#[tokio::test]
async fn a_token_is_never_in_debug_output() {
    let canary = jwt(serde_json::json!({"sub": "canary-sub", "exp": 4_000_000_000u64}));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{canary}\n")).unwrap();
    let identity = WorkloadIdentity::file(&path);
    let token = identity.token().await.unwrap();
    assert_eq!(token.secret().expose_secret(), canary, "trimmed");
    for text in [format!("{token:?}"), format!("{identity:?}")] {
        assert!(!text.contains(&canary), "{text}");
    }
    assert!(format!("{token:?}").contains("canary-sub"));
}
