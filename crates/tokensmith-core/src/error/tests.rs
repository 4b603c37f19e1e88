use super::*;

#[test]
fn codes_are_normalised_and_original_kept() {
    let e = OAuthError::new(StatusCode::BAD_REQUEST, "Invalid_request");
    assert_eq!(e.code, ErrorCode::InvalidRequest);
    assert_eq!(e.original_code, "Invalid_request");
    assert_eq!(ErrorCode::parse("invalid-grant"), ErrorCode::InvalidGrant);
    assert_eq!(
        ErrorCode::parse("Context.Unknown"),
        ErrorCode::Other("context.unknown".into())
    );
}

#[test]
fn a_huge_code_is_cut_and_freed_of_control_characters() {
    let huge = format!("bad\u{7}code{}", "x".repeat(100_000));
    let e = OAuthError::new(StatusCode::BAD_REQUEST, huge.as_str());
    assert_eq!(e.original_code.chars().count(), MAX_CODE_CHARS + 1);
    assert!(e.original_code.starts_with("badcode"));
    assert!(e.code.as_str().len() <= MAX_CODE_CHARS);
    let err = Error::from(e);
    assert!(err.to_string().len() < 1024);
    assert!(format!("{err:?}").len() < 1024);
}

#[test]
fn display_includes_status_code_description_and_hint() {
    let err: Error = OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request")
        .with_description("Missing parameter grant_type")
        .into();
    let err = err.with_hint("put grant_type in the form body");
    let text = err.to_string();
    assert!(text.contains("HTTP 400"), "{text}");
    assert!(text.contains("`invalid_request`: Missing parameter grant_type"));
    assert!(text.ends_with("(hint: put grant_type in the form body)"));
    assert_eq!(err.hint(), Some("put grant_type in the form body"));
    assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
}

#[test]
fn retryability() {
    let oauth = |status, code| Error::from(OAuthError::new(status, code));
    assert!(!oauth(StatusCode::BAD_REQUEST, "invalid_grant").is_retryable());
    assert!(!oauth(StatusCode::UNAUTHORIZED, "invalid_client").is_retryable());
    assert!(oauth(StatusCode::BAD_REQUEST, "temporarily_unavailable").is_retryable());
    assert!(oauth(StatusCode::SERVICE_UNAVAILABLE, "x").is_retryable());
    let unexpected = |status| Error::from(UnexpectedResponse::new(status, None, "html", "<html>"));
    assert!(unexpected(StatusCode::BAD_GATEWAY).is_retryable());
    assert!(unexpected(StatusCode::TOO_MANY_REQUESTS).is_retryable());
    assert!(!unexpected(StatusCode::NOT_FOUND).is_retryable());
    assert!(Error::timeout("https://h/token", Duration::from_secs(1)).is_retryable());
    assert!(!Error::config("bad").is_retryable());
}

#[test]
fn backoff_delegates_to_the_last_error() {
    let last = Error::from(OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client"))
        .with_hint("check the secret");
    assert!(!last.is_retryable());
    let err = Error::backing_off(last, Duration::from_secs(2), 2);
    assert_eq!(err.hint(), Some("check the secret"));
    assert_eq!(err.oauth().unwrap().code, ErrorCode::InvalidClient);
    assert_eq!(
        (err.retry_in(), err.failures()),
        (Some(Duration::from_secs(2)), Some(2))
    );
    assert!(err.is_retryable(), "the cache will try again");
    assert!(err.to_string().starts_with("2 token failure(s) in a row; next fetch in 2s; last error: token endpoint answered HTTP 401"), "{err}");
    let err = err.with_hint("other");
    assert_eq!(err.hint(), Some("other"));
    assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
}

#[test]
fn unexpected_response_display() {
    let err = Error::from(UnexpectedResponse::new(
        StatusCode::BAD_GATEWAY,
        Some("text/html".into()),
        "the body is not JSON",
        "<html>Bad Gateway",
    ));
    assert_eq!(
        err.to_string(),
        "unexpected answer (HTTP 502, text/html): the body is not JSON; body starts \"<html>Bad Gateway\""
    );
}
