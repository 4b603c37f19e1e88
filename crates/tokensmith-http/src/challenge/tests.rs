use super::*;

fn one(value: &str) -> Challenge {
    let mut all = parse(value).unwrap();
    assert_eq!(all.len(), 1, "{value}: {all:?}");
    all.remove(0)
}

#[test]
fn rfc_6750_and_9728_examples() {
    let c = one(
        r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
    );
    assert!(c.is("bearer"));
    assert_eq!(c.param("realm"), Some("example"));
    assert_eq!(c.error(), Some("invalid_token"));
    assert_eq!(c.error_description(), Some("The access token expired"));

    let c = one(
        r#"Bearer resource_metadata="https://resource.example.com/.well-known/oauth-protected-resource""#,
    );
    assert_eq!(
        c.resource_metadata(),
        Some("https://resource.example.com/.well-known/oauth-protected-resource")
    );

    let c = one(r#"Bearer error="insufficient_scope", scope="a b  c""#);
    assert_eq!(c.scopes().collect::<Vec<_>>(), ["a", "b", "c"]);
}

#[test]
fn several_challenges_tokens_and_token68() {
    let all = parse(
        r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple", DPoP algs="ES256 PS256", error=use_dpop_nonce"#,
    )
    .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].scheme(), "Newauth");
    assert_eq!(all[0].param("type"), Some("1"));
    assert_eq!(all[0].param("TITLE"), Some(r#"Login to "apps""#));
    assert_eq!(all[1].param("realm"), Some("simple"));
    assert_eq!(all[2].param("algs"), Some("ES256 PS256"));
    assert_eq!(all[2].error(), Some("use_dpop_nonce"));

    // `realm=` alone is a token68, as the grammar reads it.
    assert_eq!(one("Bearer realm=").token68(), Some("realm="));
    let all = parse("Basic dXNlcjpwYXNz==, Bearer").unwrap();
    assert_eq!(all[0].token68(), Some("dXNlcjpwYXNz=="));
    assert!(all[1].is("Bearer"));
    assert_eq!(all[1].params().count(), 0);

    // Bad whitespace around `=`, empty list elements, a bare scheme.
    let all = parse(r#" , Bearer  realm = "r" ,, scope="s",  Negotiate"#).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].param("realm"), Some("r"));
    assert_eq!(all[0].param("scope"), Some("s"));
    assert!(all[1].is("negotiate"));
}

#[test]
fn malformed_fields_are_errors() {
    for bad in [
        r#"Bearer realm="open"#,
        r#"Bearer realm="a" scope="b""#,
        "Bearer =x",
        r#"Bearer realm="a", realm="b""#,
        "Bearer realm=\"a\\",
        "\"Bearer\"",
        "Bearer realm=a b",
    ] {
        let err = parse(bad).unwrap_err();
        assert!(!err.reason().is_empty(), "{bad}");
        let error: tokensmith_core::Error = err.into();
        assert!(error.to_string().contains("WWW-Authenticate"), "{bad}");
    }
    let long = format!("Bearer realm=\"{}\"", "a".repeat(MAX_CHALLENGE_BYTES));
    assert_eq!(parse(&long).unwrap_err().reason(), "longer than the limit");
    let many = vec!["A"; MAX_CHALLENGES + 1].join(", ");
    assert!(parse(&many).is_err());
    let params = (0..=MAX_PARAMS)
        .map(|i| format!("p{i}=1"))
        .collect::<Vec<_>>()
        .join(", ");
    assert!(parse(&format!("Bearer {params}")).is_err());
}

#[test]
fn several_fields_are_read_in_order_and_bounded() {
    let mut headers = HeaderMap::new();
    headers.append(WWW_AUTHENTICATE, "DPoP algs=\"ES256\"".parse().unwrap());
    headers.append(WWW_AUTHENTICATE, "Bearer scope=\"a\"".parse().unwrap());
    let all = from_headers(&headers).unwrap();
    assert!(all[0].is("dpop") && all[1].is("bearer"));
    for _ in 0..MAX_CHALLENGES {
        headers.append(WWW_AUTHENTICATE, "Basic".parse().unwrap());
    }
    assert!(from_headers(&headers).is_err());
}

/// A small deterministic generator, so that the property test needs no dependency and fails
/// the same way every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick(&mut self, from: &[u8]) -> u8 {
        from[self.below(from.len())]
    }
}

const TCHAR: &[u8] = b"abcXYZ019!#$%&'*+-.^_`|~";
const QDTEXT: &[u8] = b"aZ9 \t,;=\"\\/:()<>@[]{}?'~";

fn token(rng: &mut Rng) -> String {
    (0..1 + rng.below(8))
        .map(|_| rng.pick(TCHAR) as char)
        .collect()
}

/// Property: any list of challenges, written with random spacing, quoting and escapes, reads
/// back as the same challenges.
#[test]
fn written_challenges_read_back_the_same() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let mut expected = Vec::new();
        let mut written = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let scheme = token(&mut rng);
            let mut params: Vec<(String, String)> = Vec::new();
            let mut parts = Vec::new();
            for _ in 0..rng.below(5) {
                let name = token(&mut rng).to_ascii_lowercase();
                if params.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                let (value, text) = if rng.below(2) == 0 {
                    let value = token(&mut rng);
                    (value.clone(), value)
                } else {
                    let value: String = (0..rng.below(12))
                        .map(|_| rng.pick(QDTEXT) as char)
                        .collect();
                    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
                    (value, format!("\"{escaped}\""))
                };
                let space = |rng: &mut Rng| " ".repeat(rng.below(2));
                parts.push(format!(
                    "{name}{}={}{text}",
                    space(&mut rng),
                    space(&mut rng)
                ));
                params.push((name, value));
            }
            let joined = parts.join(&format!(",{}", " ".repeat(rng.below(3))));
            written.push(if joined.is_empty() {
                scheme.clone()
            } else {
                format!("{scheme} {joined}")
            });
            expected.push(Challenge {
                scheme,
                token68: None,
                params,
            });
        }
        let text = written.join(", ");
        let read = parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(read, expected, "{text}");
    }
}

/// Property: arbitrary input never panics, and what reads never holds more than the limits.
#[test]
fn arbitrary_input_never_panics() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let alphabet = b"Bearer DPoP realm=\"\\,;= \t\x01\x7fabc";
    for _ in 0..20_000 {
        let text: String = (0..rng.below(64))
            .map(|_| rng.pick(alphabet) as char)
            .collect();
        if let Ok(all) = parse(&text) {
            assert!(all.len() <= MAX_CHALLENGES);
            assert!(all.iter().all(|c| c.params().count() <= MAX_PARAMS));
        }
    }
}
