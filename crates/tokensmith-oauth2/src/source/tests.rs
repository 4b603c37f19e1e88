use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::{ClientCredentials, RefreshTokenGrant};

/// A client-credentials configuration, by what a server could see of it.
#[derive(Debug, Clone)]
struct Config {
    query: Option<&'static str>,
    user: Option<&'static str>,
    client_id: &'static str,
    secret: &'static str,
    scopes: Vec<&'static str>,
    resources: Vec<&'static str>,
    audiences: Vec<&'static str>,
    endpoint_params: Vec<(&'static str, &'static str)>,
    api_key: Option<&'static str>,
}

impl Config {
    fn source(&self) -> GrantSource {
        let mut url = "https://login.example/token".to_owned();
        if let Some(user) = self.user {
            url = format!("https://{user}@login.example/token");
        }
        if let Some(query) = self.query {
            url = format!("{url}?{query}");
        }
        let mut endpoint = TokenEndpoint::builder(url)
            .client_id(self.client_id)
            .client_secret(self.secret);
        for (name, value) in &self.endpoint_params {
            endpoint = endpoint.param(*name, *value);
        }
        if let Some(key) = self.api_key {
            endpoint = endpoint.header("x-api-key", key);
        }
        let mut grant = ClientCredentials::new(endpoint.build().unwrap()).scope(&self.scopes);
        for resource in &self.resources {
            grant = grant.resource(*resource);
        }
        for audience in &self.audiences {
            grant = grant.audience(*audience);
        }
        grant.build_source()
    }

    /// What the server sees, as sets where order and repeats do not matter.
    #[allow(clippy::type_complexity)]
    fn seen(
        &self,
    ) -> (
        Option<&str>,
        Option<&str>,
        &str,
        &str,
        BTreeSet<&str>,
        BTreeSet<&str>,
        BTreeSet<&str>,
        BTreeSet<(&str, &str)>,
        Option<&str>,
    ) {
        (
            self.query,
            self.user,
            self.client_id,
            self.secret,
            self.scopes.iter().copied().collect(),
            self.resources.iter().copied().collect(),
            self.audiences.iter().copied().collect(),
            self.endpoint_params.iter().copied().collect(),
            self.api_key,
        )
    }
}

fn config() -> impl Strategy<Value = Config> {
    let pick = |options: &'static [&'static str]| proptest::sample::select(options);
    let set = move |options: &'static [&'static str]| {
        proptest::collection::vec(proptest::sample::select(options), 0..4)
    };
    (
        proptest::option::of(pick(&["tenant=a", "tenant=b"])),
        proptest::option::of(pick(&["svc", "other"])),
        pick(&["app", "app2"]),
        pick(&["s1", "s2"]),
        set(&["read", "write", "admin"]),
        set(&[
            "https://a.example",
            "https://c.example",
            "https://a.example b",
        ]),
        set(&["api-a", "api-c"]),
        proptest::collection::vec((pick(&["resource", "tenant"]), pick(&["x", "y"])), 0..3),
        proptest::option::of(pick(&["k1", "k2"])),
    )
        .prop_map(
            |(query, user, client_id, secret, scopes, resources, audiences, params, key)| Config {
                query,
                user,
                client_id,
                secret,
                scopes,
                resources,
                audiences,
                endpoint_params: params,
                api_key: key,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Two configurations a server could tell apart never share an identity, and two it
    /// cannot (scopes, resources or audiences in another order or repeated) always do.
    #[test]
    fn identities_differ_exactly_when_the_server_could_tell(a in config(), b in config()) {
        let (ia, ib) = (a.source().identity().unwrap(), b.source().identity().unwrap());
        prop_assert_eq!(ia == ib, a.seen() == b.seen(), "{:?} / {:?}", a, b);
    }
}

#[test]
fn a_session_is_delegated_and_a_client_certificate_counts() {
    let endpoint = || {
        TokenEndpoint::builder("https://login.example/token")
            .client_id("app")
            .client_secret("s")
    };
    let session = RefreshTokenGrant::new(endpoint().build().unwrap(), "canary-refresh")
        .build_source()
        .identity()
        .unwrap();
    assert!(session.is_delegated());
    assert!(!format!("{session:?}").contains("canary-refresh"));
    let service = ClientCredentials::new(endpoint().build().unwrap()).build_source();
    assert!(!service.identity().unwrap().is_delegated());

    // A transport of the caller's that presents a certificate no one named.
    let with_opaque = endpoint()
        .transport(tokensmith_http::transport::ReqwestTransport::new().unwrap())
        .auth(crate::ClientAuth::TlsClientAuth)
        .build()
        .unwrap();
    assert!(
        ClientCredentials::new(with_opaque)
            .build_source()
            .identity()
            .is_none()
    );
    let with_pem = endpoint()
        .client_certificate_pem(TEST_IDENTITY.as_bytes())
        .unwrap()
        .build()
        .unwrap();
    let identity = ClientCredentials::new(with_pem)
        .build_source()
        .identity()
        .unwrap();
    let thumbprint = identity
        .parts()
        .find(|(name, _)| *name == "client_certificate")
        .map(|(_, value)| value.to_owned())
        .unwrap();
    assert_eq!(thumbprint.len(), 43, "base64url SHA-256: {thumbprint}");
    assert!(endpoint().client_certificate_pem(b"not a pem").is_err());
}

/// A self-signed certificate and its key (EC P-256), made for these tests only.
const TEST_IDENTITY: &str = include_str!("../../tests/data/client-identity.pem");
