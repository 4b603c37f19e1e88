//! Error answers in the shapes real servers send, read by a plain token endpoint (no vendor
//! hook): each gets its code, its text and the hint of its cause.

use serde_json::{Value, json};
use tokensmith_core::{Error, ErrorCode, ErrorKind, TokenSource};
use tokensmith_oauth2::{ClientAuth, ClientCredentials, TokenEndpoint};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::*;

/// One server's error answer and what tokensmith must make of it.
struct Shape {
    /// Whose answer this is, and where its shape is documented.
    source: &'static str,
    status: u16,
    body: Body,
    /// The normalised code.
    code: &'static str,
    /// A piece of the description.
    text: &'static str,
    /// A piece of the hint.
    hint: &'static str,
}

enum Body {
    Json(Value),
    Form(&'static str),
}

/// Hint pieces, one per cause.
const WRONG_CLIENT: &str = "client id/secret pair is wrong";
const BODY_PARAMS: &str = "go in the POST body";
const GRANT_TYPE: &str = "does not accept grant_type=client_credentials";
const NO_SCOPE: &str = "wants a scope and none was sent";
const GATEWAY: &str = "API key or another header";
const NOT_ALLOWED: &str = "not allowed to use grant_type";

fn shapes() -> Vec<Shape> {
    vec![
        Shape {
            source: "RFC 6749 §5.2 (Keycloak, Auth0, Okta, Entra, Cognito)",
            status: 401,
            body: Body::Json(
                json!({"error": "invalid_client", "error_description": "Invalid client credentials"}),
            ),
            code: "invalid_client",
            text: "Invalid client credentials",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "Deyel: a wrong client as mixed-case invalid_request",
            status: 400,
            body: Body::Json(
                json!({"error_description": "Invalid client_id", "error": "Invalid_request"}),
            ),
            code: "invalid_request",
            text: "Invalid client_id",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "Deyel: errors array naming the attribute",
            status: 400,
            body: Body::Json(
                json!({"errors": [{"message": "Invalid scope.", "attribute-name": "scope"}]}),
            ),
            code: "invalid_scope",
            text: "Invalid scope. (scope)",
            hint: NO_SCOPE,
        },
        Shape {
            source: "Spring Boot's error body on a 401",
            status: 401,
            body: Body::Json(
                json!({"timestamp": "2024-05-01T10:00:00.000+00:00", "status": 401, "error": "Unauthorized", "message": "Bad credentials", "path": "/oauth/token"}),
            ),
            code: "unauthorized",
            text: "Bad credentials",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "Zoom's developer forum: a bad authorization code",
            status: 400,
            body: Body::Json(
                json!({"reason": "Invalid authorization code", "error": "invalid_grant"}),
            ),
            code: "invalid_grant",
            text: "Invalid authorization code",
            hint: "rejected the client_credentials grant",
        },
        Shape {
            source: "Zoom: `reason` for the text",
            status: 400,
            body: Body::Json(
                json!({"reason": "Invalid client_id or client_secret", "error": "invalid_client"}),
            ),
            code: "invalid_client",
            text: "Invalid client_id or client_secret",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "Slack: a 200 with ok=false",
            status: 200,
            body: Body::Json(json!({"ok": false, "error": "invalid_client_id"})),
            code: "invalid_client_id",
            text: "",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "GitHub: a form-encoded 200 with an error",
            status: 200,
            body: Body::Form(
                "error=unsupported_grant_type&error_description=Unsupported+grant+type&error_uri=https%3A%2F%2Fdocs.github.com%2Fapps",
            ),
            code: "unsupported_grant_type",
            text: "Unsupported grant type",
            hint: GRANT_TYPE,
        },
        Shape {
            source: "Microsoft Graph: an error object with code and message",
            status: 401,
            body: Body::Json(
                json!({"error": {"code": "InvalidAuthenticationToken", "message": "Access token is empty."}}),
            ),
            code: "invalidauthenticationtoken",
            text: "Access token is empty.",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "Facebook Graph: an error object with a numeric code and a type",
            status: 400,
            body: Body::Json(
                json!({"error": {"message": "Error validating client secret.", "type": "OAuthException", "code": 1, "fbtrace_id": "A1b2"}}),
            ),
            code: "oauthexception",
            text: "Error validating client secret.",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "Google APIs: an error object with a numeric code and a status",
            status: 403,
            body: Body::Json(
                json!({"error": {"code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}),
            ),
            code: "permission_denied",
            text: "The caller does not have permission",
            hint: GATEWAY,
        },
        Shape {
            source: "Twitter: an errors array with numeric codes",
            status: 403,
            body: Body::Json(
                json!({"errors": [{"code": 99, "message": "Unable to verify your credentials", "label": "authenticity_token_error"}]}),
            ),
            code: "authenticity_token_error",
            text: "Unable to verify your credentials",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "Apigee's OAuth HTTP error reference: a wrong key as invalid_request on a 401",
            status: 401,
            body: Body::Json(
                json!({"ErrorCode": "invalid_request", "Error": "Invalid client id : AVD7ztXReEYyjpLFkkPiZpLEjeF2aYAz. ClientId is Invalid"}),
            ),
            code: "invalid_request",
            text: "ClientId is Invalid",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "Apigee: a missing client_id",
            status: 400,
            body: Body::Json(
                json!({"ErrorCode": "invalid_request", "Error": "The request is missing a required parameter : client_id"}),
            ),
            code: "invalid_request",
            text: "missing a required parameter : client_id",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "Kong key-auth: a message alone on a 401",
            status: 401,
            body: Body::Json(json!({"message": "No API key found in request"})),
            code: "invalid_client",
            text: "No API key found in request",
            hint: WRONG_CLIENT,
        },
        Shape {
            source: "AWS API Gateway: a message alone on a 403",
            status: 403,
            body: Body::Json(json!({"message": "Forbidden"})),
            code: "access_denied",
            text: "Forbidden",
            hint: GATEWAY,
        },
        Shape {
            source: "RFC 9457 problem details (ASP.NET Core)",
            status: 400,
            body: Body::Json(
                json!({"type": "https://tools.ietf.org/html/rfc9110#section-15.5.1", "title": "One or more validation errors occurred.", "status": 400, "detail": "The grant_type field is required."}),
            ),
            code: "invalid_request",
            text: "The grant_type field is required.",
            hint: BODY_PARAMS,
        },
        Shape {
            source: "error_description alone",
            status: 400,
            body: Body::Json(json!({"error_description": "Missing parameter: grant_type"})),
            code: "invalid_request",
            text: "Missing parameter: grant_type",
            hint: BODY_PARAMS,
        },
        Shape {
            source: "invalid_request naming an unsupported grant_type",
            status: 400,
            body: Body::Json(
                json!({"error": "INVALID_REQUEST", "error_description": "Invalid grant_type"}),
            ),
            code: "invalid_request",
            text: "Invalid grant_type",
            hint: GRANT_TYPE,
        },
        Shape {
            source: "Salesforce: unauthorized_client in upper case with dashes",
            status: 400,
            body: Body::Json(
                json!({"error": "Unauthorized-Client", "error_description": "grant type not enabled"}),
            ),
            code: "unauthorized_client",
            text: "grant type not enabled",
            hint: NOT_ALLOWED,
        },
    ]
}

async fn error_for(shape: &Shape) -> Error {
    let server = MockServer::start().await;
    let response = match &shape.body {
        Body::Json(body) => ResponseTemplate::new(shape.status).set_body_json(body),
        Body::Form(body) => ResponseTemplate::new(shape.status)
            .set_body_raw(*body, "application/x-www-form-urlencoded"),
    };
    Mock::given(method("POST"))
        .respond_with(response)
        .mount(&server)
        .await;
    // One attempt: these answers are final.
    let built = endpoint(&server, ClientAuth::Basic)
        .retry(fast_retries(1))
        .build()
        .unwrap();
    client_credentials_error(built).await
}

#[tokio::test]
async fn real_servers_error_shapes_get_their_code_text_and_hint() {
    let mut failures = Vec::new();
    for shape in shapes() {
        let err = error_for(&shape).await;
        let Some(oauth) = err.oauth() else {
            failures.push(format!(
                "{}: not read as an OAuth error: {err}",
                shape.source
            ));
            continue;
        };
        if oauth.code.as_str() != shape.code {
            failures.push(format!(
                "{}: code `{}`, wanted `{}`",
                shape.source, oauth.code, shape.code
            ));
        }
        let text = oauth.description.as_deref().unwrap_or("");
        if !text.contains(shape.text) {
            failures.push(format!(
                "{}: text {text:?}, wanted {:?}",
                shape.source, shape.text
            ));
        }
        let hint = err.hint().unwrap_or("");
        if !hint.contains(shape.hint) {
            failures.push(format!(
                "{}: hint {hint:?}, wanted {:?}",
                shape.source, shape.hint
            ));
        }
        assert_eq!(oauth.status.as_u16(), shape.status, "{}", shape.source);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn scope_hint_names_the_scope_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{"message": "Invalid scope.", "attribute-name": "scope"}]
        })))
        .mount(&server)
        .await;
    let built = endpoint(&server, ClientAuth::Basic)
        .retry(fast_retries(1))
        .build()
        .unwrap();
    let err = ClientCredentials::new(built)
        .scope(["orders.read"])
        .build_source()
        .fetch()
        .await
        .unwrap_err();
    assert!(err.hint().unwrap().contains("`orders.read`"), "{err}");
}

#[tokio::test]
async fn answers_that_carry_a_token_or_speak_of_the_url_are_not_read_as_oauth_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "t-1", "expires_in": 60, "message": "welcome", "errors": []
        })))
        .mount(&server)
        .await;
    let built = endpoint(&server, ClientAuth::Basic).build().unwrap();
    let token = ClientCredentials::new(built)
        .build_source()
        .fetch()
        .await
        .expect("an answer with a token is a token");
    assert_eq!(token.secret().expose_secret(), "t-1");

    for status in [404, 502] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status).set_body_json(json!({"message": "Not Found"})),
            )
            .mount(&server)
            .await;
        let built = endpoint(&server, ClientAuth::Basic)
            .retry(fast_retries(1))
            .build()
            .unwrap();
        let err = client_credentials_error(built).await;
        assert!(
            matches!(err.kind(), ErrorKind::UnexpectedResponse(_)),
            "{status}: {err:?}"
        );
        let hint = err.hint().unwrap_or("");
        assert!(
            hint.contains("wrong URL") || hint.contains("failed"),
            "{status}: {hint}"
        );
    }
    assert_eq!(
        ErrorCode::parse("Invalid_Request"),
        ErrorCode::InvalidRequest
    );
}

/// The middleware's error for a token it could not get carries the endpoint's hint.
#[tokio::test]
async fn a_plain_endpoint_gives_the_hint_without_any_vendor_setting() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "Invalid_request", "error_description": "Invalid client_id"
        })))
        .mount(&server)
        .await;
    let endpoint = TokenEndpoint::builder(format!("{}/token", server.uri()))
        .client_id(CLIENT_ID)
        .client_secret(CLIENT_SECRET)
        .retry(fast_retries(1))
        .build()
        .unwrap();
    let err = client_credentials_error(endpoint).await;
    assert!(err.hint().unwrap().contains(WRONG_CLIENT), "{err}");
    assert!(err.to_string().contains("(hint: "), "{err}");
}
