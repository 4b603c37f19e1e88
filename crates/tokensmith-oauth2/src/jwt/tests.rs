use super::*;

struct Fixed;

#[async_trait]
impl Signer for Fixed {
    fn algorithm(&self) -> &str {
        "ES256"
    }
    fn key_id(&self) -> Option<&str> {
        Some("k1")
    }
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        Ok(message.len().to_be_bytes().to_vec())
    }
}

fn part(jws: &str, n: usize) -> Value {
    let bytes = URL_SAFE_NO_PAD
        .decode(jws.split('.').nth(n).unwrap())
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn a_jws_has_header_claims_and_the_signers_signature() {
    let claims = assertion_claims("client", "client", "https://a/token").unwrap();
    let jws = sign_jwt(&Fixed, None, &claims).await.unwrap();
    assert_eq!(part(&jws, 0), json!({"alg": "ES256", "kid": "k1"}));
    let body = part(&jws, 1);
    assert_eq!(body["iss"], "client");
    assert_eq!(body["aud"], "https://a/token");
    assert_eq!(
        body["exp"].as_u64().unwrap() - body["iat"].as_u64().unwrap(),
        60
    );
    let signing_input = jws.rsplit_once('.').unwrap().0;
    let signature = URL_SAFE_NO_PAD
        .decode(jws.rsplit('.').next().unwrap())
        .unwrap();
    assert_eq!(signature, signing_input.len().to_be_bytes());
    let again = assertion_claims("client", "client", "a").unwrap();
    assert_ne!(
        again["jti"], claims["jti"],
        "each assertion has its own jti"
    );
}

#[test]
fn hs256_matches_rfc_4231_case_2() {
    let mac = hs256(&ClientSecret::new("Jefe"), b"what do ya want for nothing?");
    assert_eq!(
        mac.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[cfg(feature = "jwt")]
mod keys {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self as sig, KeyPair};

    fn pem(label: &str, der: &[u8]) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    async fn verify(key: &JwtKey, alg: &'static dyn sig::VerificationAlgorithm, public: &[u8]) {
        let jws = sign_jwt(key, None, &json!({"a": 1})).await.unwrap();
        let (input, signature) = jws.rsplit_once('.').unwrap();
        sig::UnparsedPublicKey::new(alg, public)
            .verify(
                input.as_bytes(),
                &URL_SAFE_NO_PAD.decode(signature).unwrap(),
            )
            .unwrap();
    }

    #[tokio::test]
    async fn es256_from_pem_and_from_jwk_sign_verifiably() {
        let pair = sig::EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let pkcs8 = pair.to_pkcs8v1().unwrap();
        let public = pair.public_key().as_ref().to_vec();
        let key = JwtKey::from_pem(pem("PRIVATE KEY", pkcs8.as_ref()), "ES256")
            .unwrap()
            .key_id("canary-kid");
        verify(&key, &sig::ECDSA_P256_SHA256_FIXED, &public).await;
        // The private scalar sits right after the fixed PKCS#8 v1 prefix.
        let d = &pkcs8.as_ref()[36..68];
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k2",
            "d": URL_SAFE_NO_PAD.encode(d),
            "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&public[33..])});
        let key = JwtKey::from_jwk(&jwk.to_string()).unwrap();
        assert_eq!(Signer::key_id(&key), Some("k2"));
        verify(&key, &sig::ECDSA_P256_SHA256_FIXED, &public).await;
        let text = format!("{key:?}");
        assert!(!text.contains(&URL_SAFE_NO_PAD.encode(d)), "{text}");

        // No parse error repeats the key: a JWK encoded twice, one cut short, one with
        // a member of the wrong kind, an odd type or algorithm.
        let private = URL_SAFE_NO_PAD.encode(d);
        let whole = jwk.to_string();
        let broken = [
            serde_json::to_string(&whole).unwrap(),
            whole[..whole.len() - 3].to_owned(),
            whole.replace("\"kty\":\"EC\"", &format!("\"kty\":\"{private}\"")),
            whole.replace("\"kid\":\"k2\"", &format!("\"alg\":\"{private}\"")),
            format!("[{whole}]"),
            format!("{{\"d\": {private}}}"),
        ];
        for input in broken {
            let err = JwtKey::from_jwk(&input).unwrap_err();
            let text = format!("{err} {err:?}");
            assert!(!text.contains(&private[..16]), "{text}");
            assert!(matches!(
                err.kind(),
                tokensmith_core::ErrorKind::Config { .. }
            ));
        }
        let err = JwtKey::from_jwk(&serde_json::to_string(&whole).unwrap()).unwrap_err();
        assert!(err.hint().unwrap().contains("encoded twice"), "{err}");
    }

    #[test]
    fn keys_are_zeroed_on_drop() {
        fn zeroed_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroed_on_drop::<JwtKey>();
        zeroed_on_drop::<tokensmith_http::dpop::DpopKey>();
        // Client secrets, passwords and API keys are `SecretString`s.
        zeroed_on_drop::<tokensmith_core::SecretString>();
    }

    #[tokio::test]
    async fn rsa_and_ed25519_keys_sign_verifiably() {
        let rsa = sig::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let der = rsa.as_der().unwrap();
        let public = rsa.public_key().as_ref().to_vec();
        for (alg, verifier) in [
            ("RS256", &sig::RSA_PKCS1_2048_8192_SHA256),
            ("PS256", &sig::RSA_PSS_2048_8192_SHA256),
        ] {
            let key = JwtKey::from_pem(pem("PRIVATE KEY", der.as_ref()), alg).unwrap();
            verify(&key, verifier, &public).await;
        }
        let ed = sig::Ed25519KeyPair::generate().unwrap();
        let doc = ed.to_pkcs8().unwrap();
        let key = JwtKey::from_pem(pem("PRIVATE KEY", doc.as_ref()), "EdDSA").unwrap();
        verify(&key, &sig::ED25519, ed.public_key().as_ref()).await;
        let _ = SystemRandom::new();
    }

    #[test]
    fn wrong_keys_and_algorithms_are_config_errors() {
        let pair = sig::EcdsaKeyPair::generate(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let pem = pem("PRIVATE KEY", pair.to_pkcs8v1().unwrap().as_ref());
        let err = JwtKey::from_pem(&pem, "RS256").unwrap_err();
        assert!(err.hint().unwrap().contains("RSA"), "{err:?}");
        assert!(JwtKey::from_pem(&pem, "HS256").is_err());
        assert!(JwtKey::from_pem("not a pem", "ES256").is_err());
        assert!(JwtKey::from_jwk(r#"{"kty":"oct","k":"x"}"#).is_err());
        assert!(
            JwtKey::from_jwk(r#"{"kty":"EC","crv":"P-256","d":"AA","x":"AA","y":"AA"}"#).is_err()
        );
    }
}
