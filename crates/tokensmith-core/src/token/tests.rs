use super::*;
use crate::ErrorKind;

const CANARY: &str = "canary-access-7f3a9c";

#[test]
fn debug_never_shows_the_secret() {
    let token = AccessToken::builder(CANARY)
        .scopes(["a"])
        .expires_in(Duration::from_secs(60))
        .build()
        .unwrap();
    for text in [format!("{token:?}"), format!("{token:#?}")] {
        assert!(!text.contains(CANARY), "{text}");
        assert!(text.contains("[redacted]"));
    }
    let header = token.authorization_header();
    assert!(header.is_sensitive());
    assert!(!format!("{header:?}").contains(CANARY));
    let builder = AccessToken::builder(CANARY);
    assert!(!format!("{builder:?}").contains(CANARY));
}

#[test]
fn header_is_normalised_bearer() {
    let token = AccessToken::builder("abc")
        .token_type(TokenType::parse("bEaReR"))
        .build()
        .unwrap();
    assert_eq!(token.authorization_header().to_str().unwrap(), "Bearer abc");
    let other = AccessToken::builder("abc")
        .token_type(TokenType::parse("MAC"))
        .build()
        .unwrap();
    assert_eq!(other.authorization_header().to_str().unwrap(), "MAC abc");
    assert_eq!(TokenType::parse("mac"), TokenType::parse("MAC"));
}

#[test]
fn rejects_tokens_a_header_cannot_carry() {
    for bad in ["", "a b", "a\nb", "tök"] {
        let err = AccessToken::bearer(bad).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::InvalidToken { .. }),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn clones_share_the_same_token() {
    let token = AccessToken::bearer("abc").unwrap();
    let clone = token.clone();
    assert!(clone.same_as(&token));
    assert!(!AccessToken::bearer("abc").unwrap().same_as(&token));
}

#[tokio::test(start_paused = true)]
async fn expiry_and_lifetime() {
    let token = AccessToken::builder("abc")
        .expires_in(Duration::from_secs(100))
        .build()
        .unwrap();
    assert_eq!(token.lifetime(), Some(Duration::from_secs(100)));
    tokio::time::advance(Duration::from_secs(40)).await;
    assert_eq!(token.expires_in(), Some(Duration::from_secs(60)));
    assert!(!token.is_expired());
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(token.is_expired());
    let forever = AccessToken::builder("abc")
        .expires_in(Duration::MAX)
        .build()
        .unwrap();
    assert!(!forever.is_expired());
}
