//! The rules on their own: answers in, probes and verdicts out. The same causes are proven
//! over the wire by the corpus in `tests/corpus.rs`.

use super::*;

fn oauth(status: u16, code: &str, description: &str) -> Seen {
    Seen::OAuth {
        status,
        code: code.into(),
        description: description.into(),
    }
}

fn other(status: u16, excerpt: &str) -> Seen {
    Seen::Other {
        status,
        excerpt: excerpt.into(),
    }
}

fn token() -> Seen {
    Seen::Token {
        times: TokenTimes {
            expires_in: Some(3600.0),
            local: 1_700_000_000.0,
            ..TokenTimes::default()
        },
        shape: TokenShape::default(),
    }
}

fn context() -> Context {
    Context {
        grant: "client_credentials".into(),
        ..Context::default()
    }
}

/// Runs the planner against `server` (an answer for each probe) to the end, and diagnoses.
fn run(context: &Context, server: impl Fn(Probe) -> Seen) -> (Vec<Probe>, Diagnosis) {
    let mut attempts = Vec::new();
    while let Some(probe) = next_probe(&attempts, context) {
        attempts.push(Attempt {
            probe,
            seen: server(probe),
        });
        assert!(attempts.len() <= MAX_PROBES);
    }
    let probes = attempts.iter().map(|a| a.probe).collect();
    (probes, diagnose(&attempts, context))
}

fn verdict(context: &Context, server: impl Fn(Probe) -> Seen) -> Code {
    run(context, server).1.verdict.code
}

#[test]
fn the_standard_request_first_and_only_it_when_it_works() {
    let (probes, diagnosis) = run(&context(), |_| token());
    assert_eq!(
        probes,
        [Probe {
            style: Style::Basic,
            shape: Shape::Form
        }]
    );
    assert_eq!(diagnosis.verdict.code, Code::Ok);
}

#[test]
fn a_body_only_server_gets_the_style_verdict_with_its_setting() {
    let (probes, diagnosis) = run(&context(), |probe| match probe.style {
        Style::Body => token(),
        _ => oauth(401, "invalid_client", ""),
    });
    assert_eq!(probes.len(), 2);
    assert_eq!(diagnosis.verdict.code, Code::ClientAuthStyle);
    assert!(diagnosis.verdict.line().contains("RequestBody"));
}

#[test]
fn unencoded_basic_is_tried_only_for_ids_and_secrets_that_encoding_changes() {
    let server = |probe: Probe| match probe.style {
        Style::BasicUnencoded => token(),
        _ => oauth(401, "invalid_client", ""),
    };
    assert_eq!(verdict(&context(), server), Code::InvalidClient);
    let special = Context {
        special_characters: true,
        ..context()
    };
    assert_eq!(verdict(&special, server), Code::ClientAuthStyle);
}

#[test]
fn the_scope_is_named_when_the_client_was_accepted() {
    let asked = Context {
        scope: Some("admin".into()),
        ..context()
    };
    let (probes, diagnosis) = run(&asked, |_| oauth(400, "invalid_scope", ""));
    assert_eq!(
        probes.len(),
        1,
        "another style cannot change a scope refusal"
    );
    assert_eq!(diagnosis.verdict.code, Code::InvalidScope);
    assert!(diagnosis.verdict.cause.contains("`admin`"));
    assert_eq!(
        verdict(&context(), |_| oauth(
            400,
            "invalid_request",
            "scope is required"
        )),
        Code::InvalidScope
    );
}

#[test]
fn a_gateway_that_refuses_every_style_is_the_gateway_not_the_secret() {
    assert_eq!(
        verdict(&context(), |_| other(403, r#"{"message":"Forbidden"}"#)),
        Code::ApiKey
    );
    assert_eq!(
        verdict(&context(), |_| other(
            401,
            r#"{"statusCode":401,"message":"Access denied due to missing subscription key."}"#
        )),
        Code::ApiKey
    );
    assert_eq!(
        verdict(&context(), |_| other(
            401,
            r#"{"message":"No API key found in request"}"#
        )),
        Code::ApiKey
    );
    assert_eq!(
        verdict(&context(), |_| other(
            403,
            r#"{"message":"Missing Authentication Token"}"#
        )),
        Code::WrongPath,
        "AWS API Gateway's answer for a route it does not have"
    );
}

#[test]
fn get_only_endpoints_whether_post_gets_405_or_a_missing_parameter() {
    let get_only = |post: Seen| {
        move |probe: Probe| match probe.shape {
            Shape::Query => token(),
            _ => post.clone(),
        }
    };
    assert_eq!(
        verdict(&context(), get_only(other(405, ""))),
        Code::WantsGet
    );
    assert_eq!(
        verdict(
            &context(),
            get_only(oauth(
                400,
                "invalid_request",
                "Missing parameter: grant_type"
            ))
        ),
        Code::WantsGet
    );
    // GET reads the parameters and refuses the secret: still GET, with the refusal noted.
    let diagnosis = run(&context(), |probe| match probe.shape {
        Shape::Query => oauth(401, "invalid_client", "bad secret"),
        _ => other(405, ""),
    })
    .1;
    assert_eq!(diagnosis.verdict.code, Code::WantsGet);
    assert!(
        diagnosis
            .notes
            .iter()
            .any(|n| n.text.contains("bad secret"))
    );
}

#[test]
fn json_only_endpoints_and_bodies_never_read() {
    assert_eq!(
        verdict(&context(), |probe| match probe.shape {
            Shape::Json => token(),
            _ => oauth(400, "invalid_request", "grant_type is required"),
        }),
        Code::WantsJson
    );
    assert_eq!(
        verdict(&context(), |_| oauth(
            400,
            "invalid_request",
            "Missing grant type"
        )),
        Code::BodyNotRead
    );
}

#[test]
fn an_invalid_grant_type_in_any_casing_is_the_grant_not_the_credentials() {
    let diagnosis = run(&context(), |_| {
        oauth(400, "Invalid_request", "Invalid grant_type")
    })
    .1;
    assert_eq!(diagnosis.verdict.code, Code::UnsupportedGrantType);
    assert_eq!(diagnosis.notes[0].code, "nonstandard_error_code");
    assert_eq!(
        verdict(&context(), |_| oauth(400, "unsupported_grant_type", "")),
        Code::UnsupportedGrantType
    );
    assert_eq!(
        verdict(&context(), |_| oauth(400, "unauthorized_client", "")),
        Code::UnauthorizedClient
    );
    assert_eq!(
        verdict(&context(), |_| oauth(
            400,
            "Invalid_request",
            "Invalid client_id"
        )),
        Code::InvalidClient
    );
    assert_eq!(
        verdict(&context(), |_| oauth(
            401,
            "Unauthorized",
            "Bad credentials"
        )),
        Code::InvalidClient
    );
}

#[test]
fn pages_paths_failures_and_transport() {
    assert_eq!(verdict(&context(), |_| other(404, "")), Code::WrongPath);
    assert_eq!(
        verdict(&context(), |_| Seen::Html { status: 200 }),
        Code::HtmlPage
    );
    assert_eq!(
        verdict(&context(), |_| Seen::Html { status: 502 }),
        Code::ServerError
    );
    assert_eq!(
        verdict(&context(), |_| oauth(503, "temporarily_unavailable", "")),
        Code::ServerError
    );
    assert_eq!(
        verdict(&context(), |_| other(429, "slow down")),
        Code::RateLimited
    );
    assert_eq!(
        verdict(&context(), |_| Seen::Tls("bad cert".into())),
        Code::Tls
    );
    assert_eq!(
        verdict(&context(), |_| Seen::Unreachable("refused".into())),
        Code::Unreachable
    );
    assert_eq!(verdict(&context(), |_| Seen::Timeout), Code::Timeout);
    let (probes, diagnosis) = run(&context(), |_| Seen::Redirect {
        status: 301,
        location: Some("https://auth.example/token".into()),
    });
    assert_eq!(
        probes.len(),
        1,
        "a redirect is never followed with the secret"
    );
    assert_eq!(diagnosis.verdict.code, Code::Redirect);
}

#[test]
fn invalid_grant_by_what_its_description_names() {
    let code_grant = |description: &str| {
        from_oauth_error(400, "invalid_grant", description, "authorization_code").map(|v| v.code)
    };
    assert_eq!(
        code_grant("redirect_uri does not match the original request"),
        Some(Code::RedirectUriMismatch)
    );
    assert_eq!(
        code_grant("Redirect URI mismatch."),
        Some(Code::RedirectUriMismatch)
    );
    assert_eq!(
        code_grant("Unknown, expired, or already used code"),
        Some(Code::SpentAuthorization)
    );
    assert_eq!(
        code_grant("Invalid authorization code: VWX0e2"),
        Some(Code::SpentAuthorization)
    );
    let password = Context {
        grant: "password".into(),
        ..context()
    };
    assert_eq!(
        verdict(&password, |_| oauth(
            400,
            "invalid_grant",
            "Invalid user credentials"
        )),
        Code::InvalidGrant
    );
}

#[test]
fn tokens_that_arrive_expired_or_from_a_skewed_clock() {
    let with = |times: TokenTimes| {
        verdict(&context(), move |_| Seen::Token {
            times: times.clone(),
            shape: TokenShape::default(),
        })
    };
    let now = 1_700_000_000.0;
    assert_eq!(
        with(TokenTimes {
            expires_in: Some(0.0),
            local: now,
            ..TokenTimes::default()
        }),
        Code::TokenExpired
    );
    assert_eq!(
        with(TokenTimes {
            exp: Some(now - 10.0),
            server_date: Some(now),
            local: now,
            ..TokenTimes::default()
        }),
        Code::TokenExpired
    );
    // Valid on the server's clock; this machine runs ten minutes ahead.
    assert_eq!(
        with(TokenTimes {
            exp: Some(now + 300.0),
            server_date: Some(now),
            local: now + 600.0,
            ..TokenTimes::default()
        }),
        Code::ClockSkew
    );
    // Issued ten minutes in this machine's future.
    assert_eq!(
        with(TokenTimes {
            iat: Some(now + 600.0),
            exp: Some(now + 4200.0),
            server_date: Some(now + 600.0),
            local: now,
            ..TokenTimes::default()
        }),
        Code::ClockSkew
    );
    assert_eq!(
        with(TokenTimes {
            iat: Some(now),
            exp: Some(now + 3600.0),
            server_date: Some(now + 2.0),
            local: now + 1.0,
            ..TokenTimes::default()
        }),
        Code::Ok
    );
}

#[test]
fn probing_is_bounded_whatever_the_server_says() {
    let special = Context {
        special_characters: true,
        ..context()
    };
    let (probes, _) = run(&special, |probe| match probe.shape {
        Shape::Form => other(405, ""),
        _ => oauth(401, "invalid_client", "no"),
    });
    assert!(probes.len() <= MAX_PROBES);
    let mut unique = probes.clone();
    unique.dedup();
    assert_eq!(unique, probes, "no probe twice");
}

#[test]
fn codes_are_unique_and_stable() {
    let mut codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), Code::ALL.len());
    assert!(Code::ALL.iter().filter(|c| c.works()).count() == 2);
}

#[test]
fn no_secret_ever_goes_in_a_url() {
    let password = Context {
        grant: "password".into(),
        special_characters: true,
        ..context()
    };
    for context in [context(), password] {
        let (probes, _) = run(&context, |probe| match probe.shape {
            Shape::Query => oauth(401, "invalid_client", ""),
            _ => other(405, ""),
        });
        for probe in probes {
            assert!(
                probe.shape != Shape::Query
                    || (probe.style != Style::Body && context.grant != "password"),
                "{probe:?} for {}",
                context.grant
            );
        }
    }
}

#[test]
fn answers_that_depart_from_the_rfc_get_notes_not_failures() {
    let (_, diagnosis) = run(&context(), |_| Seen::Token {
        times: TokenTimes::default(),
        shape: TokenShape {
            status: Some(201),
            form: true,
            token_type: Some("bearer".into()),
            token_type_missing: false,
            expires_in_string: false,
            expires_in_missing: true,
        },
    });
    assert_eq!(diagnosis.verdict.code, Code::Ok);
    let codes: Vec<&str> = diagnosis.notes.iter().map(|n| n.code).collect();
    assert_eq!(
        codes,
        [
            "token_status",
            "form_encoded_answer",
            "token_type",
            "no_expires_in"
        ]
    );
}

/// oidc-provider's words for a client without the grant: `invalid_request`, "requested grant
/// type is not allowed for this client", and a 404 to GET.
#[test]
fn a_grant_not_allowed_for_the_client_is_not_a_get_endpoint() {
    let (probes, diagnosis) = run(&context(), |probe| match probe.shape {
        Shape::Query => oauth(
            404,
            "invalid_request",
            "unrecognized route or not allowed method (GET on /token)",
        ),
        _ => oauth(
            400,
            "invalid_request",
            "requested grant type is not allowed for this client",
        ),
    });
    assert_eq!(
        diagnosis.verdict.code,
        Code::UnauthorizedClient,
        "{probes:?}"
    );
    assert_eq!(probes.len(), 1, "nothing to probe: the client was read");
}

/// What widely used servers answer, in their words.
#[test]
fn vendor_words_for_a_wrong_secret_an_unknown_client_and_a_missing_audience() {
    // Keycloak: a wrong secret is unauthorized_client; Auth0: access_denied "Unauthorized".
    assert_eq!(
        verdict(&context(), |_| oauth(
            401,
            "unauthorized_client",
            "Invalid client or Invalid client credentials"
        )),
        Code::InvalidClient
    );
    assert_eq!(
        verdict(&context(), |_| oauth(401, "access_denied", "Unauthorized")),
        Code::InvalidClient
    );
    // Entra ID: an unknown application id.
    assert_eq!(
        verdict(&context(), |_| oauth(
            400,
            "unauthorized_client",
            "AADSTS700016: Application with identifier 'abc' was not found in the directory 'contoso'."
        )),
        Code::InvalidClient
    );
    // Auth0: the client is fine, the API is not named.
    assert_eq!(
        verdict(&context(), |_| oauth(
            403,
            "access_denied",
            "No audience parameter was provided, and no default audience has been configured"
        )),
        Code::Audience
    );
    assert_eq!(
        verdict(&context(), |_| oauth(
            403,
            "access_denied",
            "Service not found: https://api.example.com"
        )),
        Code::Audience
    );
    // Keycloak's words for a client without service accounts stay a grant refusal.
    assert_eq!(
        verdict(&context(), |_| oauth(
            400,
            "unauthorized_client",
            "Client not enabled to retrieve service account"
        )),
        Code::UnauthorizedClient
    );
}
