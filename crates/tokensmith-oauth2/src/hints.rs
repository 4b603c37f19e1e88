//! Hints: a sentence that names the likely cause of a token endpoint error.

use http::StatusCode;
use tokensmith_core::{Error, ErrorCode, ErrorKind};

use crate::{ClientAuth, HintContext, TokenVendor};

/// Adds the hint that fits `error`, unless it already has one: the vendor's, else the
/// generic rules'.
pub(crate) fn explain(
    error: Error,
    ctx: &HintContext<'_>,
    vendor: Option<&dyn TokenVendor>,
) -> Error {
    if error.hint().is_some() {
        return error;
    }
    let hint = vendor
        .and_then(|v| v.hint(&error, ctx))
        .or_else(|| hint_for(&error, ctx));
    match hint {
        Some(hint) => error.with_hint(hint),
        None => error,
    }
}

fn hint_for(error: &Error, ctx: &HintContext<'_>) -> Option<String> {
    if let Some(oauth) = error.oauth() {
        return oauth_hint(&oauth.code, oauth.description.as_deref(), oauth.status, ctx);
    }
    match error.kind() {
        ErrorKind::UnexpectedResponse(answer) => status_hint(answer.status, ctx),
        ErrorKind::Timeout { .. } => Some(format!(
            "{} did not answer in time; the server may be overloaded, or a firewall drops the \
             connection",
            ctx.endpoint
        )),
        ErrorKind::Transport { .. } => Some(format!(
            "check that {} is the right host and port and that this machine can reach it",
            ctx.endpoint
        )),
        _ => None,
    }
}

fn oauth_hint(
    code: &ErrorCode,
    description: Option<&str>,
    status: StatusCode,
    ctx: &HintContext<'_>,
) -> Option<String> {
    let grant = ctx.grant_type;
    let text = description.unwrap_or("").to_ascii_lowercase();
    let hint = match code {
        ErrorCode::InvalidRequest if names_the_client(&text) => invalid_client_hint(ctx),
        ErrorCode::InvalidRequest
            if names_the_grant_type(&text)
                && ["invalid", "unsupported", "not supported", "unknown"]
                    .iter()
                    .any(|word| text.contains(word)) =>
        {
            return oauth_hint(&ErrorCode::UnsupportedGrantType, description, status, ctx);
        }
        ErrorCode::InvalidRequest => {
            if !(names_the_grant_type(&text)
                || text.contains("missing")
                || text.contains("required")
                || text.contains("parameter"))
            {
                return None;
            }
            "parameters such as grant_type go in the POST body as application/x-www-form-urlencoded, \
             not in headers or the query string; if they are in the body, check the \
             Content-Type header and that no proxy strips the body"
                .to_owned()
        }
        ErrorCode::InvalidClient => invalid_client_hint(ctx),
        ErrorCode::Other(other) => match same_cause(other, grant, &text) {
            Some(standard) => return oauth_hint(&standard, description, status, ctx),
            None if status == StatusCode::UNAUTHORIZED => invalid_client_hint(ctx),
            None => return status_hint(status, ctx),
        },
        ErrorCode::InvalidGrant => match grant {
            "authorization_code" => "the redirect_uri of the code exchange must be identical to \
                 the one sent to the authorization endpoint; an authorization code is single-use \
                 and short-lived, so a reused or old code fails the same way"
                .to_owned(),
            "password" => "the username or password is wrong, or the user lacks access to this \
                 client or tenant"
                .to_owned(),
            "refresh_token" => "the refresh token expired, was revoked, or was rotated and the \
                 newer one was lost; sign in again to get a new one"
                .to_owned(),
            other => format!("the server rejected the {other} grant's credentials"),
        },
        ErrorCode::UnsupportedGrantType => format!(
            "the server does not accept grant_type={grant} at this endpoint; check the grant the \
             vendor documents"
        ),
        ErrorCode::UnauthorizedClient => format!(
            "this client is not allowed to use grant_type={grant}; enable the grant for the \
             client at the authorization server"
        ),
        ErrorCode::InvalidScope => match ctx.scope {
            Some(scope) => format!(
                "the server refused scope `{scope}`; check the scope names the vendor documents \
                 and what this client may request"
            ),
            None => "the server wants a scope and none was sent; add one to the grant".to_owned(),
        },
        ErrorCode::AccessDenied if status == StatusCode::FORBIDDEN => forbidden_hint(),
        _ if status == StatusCode::UNAUTHORIZED => invalid_client_hint(ctx),
        _ => return status_hint(status, ctx),
    };
    Some(hint)
}

/// The RFC 6749 code for a cause that servers name in their own words: Slack's
/// `invalid_client_id` and `bad_client_secret`, Salesforce's `invalid_client_id`, GitHub's
/// `bad_verification_code` and `redirect_uri_mismatch`, glewlwyd's `invalid_code`, and codes
/// such as Facebook's `OAuthException` whose text names the client.
fn same_cause(code: &str, grant: &str, text: &str) -> Option<ErrorCode> {
    let code_flow = grant == "authorization_code";
    Some(match code {
        "invalid_client_id"
        | "bad_client_id"
        | "bad_client_secret"
        | "invalid_client_secret"
        | "invalid_client_credentials"
        | "bad_client_credentials"
        | "unauthenticated"
        | "unauthorized" => ErrorCode::InvalidClient,
        "invalid_code"
        | "bad_verification_code"
        | "code_expired"
        | "expired_code"
        | "redirect_uri_mismatch"
        | "bad_redirect_uri"
        | "invalid_redirect_uri"
            if code_flow =>
        {
            ErrorCode::InvalidGrant
        }
        "invalid_scopes" | "scope_not_allowed" | "bad_scope" => ErrorCode::InvalidScope,
        "unsupported_grant" | "invalid_grant_type" => ErrorCode::UnsupportedGrantType,
        _ if names_the_client(text) => ErrorCode::InvalidClient,
        _ => return None,
    })
}

/// Whether an error text speaks of the client's credentials.
fn names_the_client(text: &str) -> bool {
    [
        "client_id",
        "client id",
        "clientid",
        "client_secret",
        "client secret",
        "client credentials",
        "client authentication",
        "verify your credentials",
    ]
    .iter()
    .any(|words| text.contains(words))
}

fn names_the_grant_type(text: &str) -> bool {
    text.contains("grant_type") || text.contains("grant type")
}

/// The hint for a client the server did not accept: the pair, or the authentication style.
pub(crate) fn invalid_client_hint(ctx: &HintContext<'_>) -> String {
    match ctx.auth {
        ClientAuth::PrivateKeyJwt if ctx.external_assertion => {
            return "the server did not accept the workload identity token as the client \
                    assertion: check that it trusts the token's issuer (a federated credential \
                    for that issuer), that the credential's subject and audience are the \
                    token's `sub` and `aud`, and that the token is the platform's current one"
                .to_owned();
        }
        ClientAuth::PrivateKeyJwt => {
            let key = match ctx.key_id {
                Some(kid) => format!("the key with kid `{kid}`"),
                None => "a key without a kid".to_owned(),
            };
            return format!(
                "the server did not accept the client assertion signed with {key} ({}): \
                 check that this key's public half is in the client's registered JWKS (or \
                 jwks_uri), that the algorithm is one the client is registered for, that the \
                 assertion audience is what the server expects (token endpoint or issuer, \
                 `.assertion_audience(..)`), and that this machine's clock is right",
                ctx.key_alg.unwrap_or("?")
            );
        }
        ClientAuth::ClientSecretJwt => {
            return "the server did not accept the HS256 client assertion: the client secret \
                    is wrong, or the client is not registered for client_secret_jwt"
                .to_owned();
        }
        ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth => {
            return format!(
                "the server did not accept the client certificate ({}): check that the \
                 certificate is the one registered for this client (its subject for \
                 tls_client_auth, its key in the JWKS for self_signed_tls_client_auth) and \
                 that the request went to the server's mTLS endpoint",
                ctx.auth.as_str()
            );
        }
        _ => {}
    }
    let other = match ctx.auth {
        ClientAuth::RequestBody => "ClientAuth::Basic (client_secret_basic)",
        ClientAuth::None => "a confidential client's secret",
        _ => "ClientAuth::RequestBody (client_secret_post)",
    };
    format!(
        "the client id/secret pair is wrong, or the server wants another client authentication \
         style: this request used {}; try {other}, or ClientAuth::AutoDetect",
        ctx.auth.as_str()
    )
}

/// A 403 at the token endpoint: refused before the grant was looked at.
fn forbidden_hint() -> String {
    "the token endpoint, or a gateway in front of it, refused the request before reading the \
     grant: it may want an API key or another header on the token request \
     (`TokenEndpointBuilder::header`), allow only some addresses, or not allow this client the \
     grant"
        .to_owned()
}

fn status_hint(status: StatusCode, ctx: &HintContext<'_>) -> Option<String> {
    let hint = match status.as_u16() {
        404 | 405 => format!(
            "HTTP {} means {} is likely the wrong URL: check the token path and the \
             region or base URL",
            status.as_u16(),
            ctx.endpoint
        ),
        401 => invalid_client_hint(ctx),
        403 => forbidden_hint(),
        429 => {
            "the token endpoint is rate limiting this client; cache tokens and back off".to_owned()
        }
        300..=399 => format!(
            "the token endpoint redirected; redirects are not followed because they would carry \
             the credentials elsewhere: configure the final URL instead of {}",
            ctx.endpoint
        ),
        500..=599 => "the authorization server or a gateway in front of it failed; this is \
                      usually temporary"
            .to_owned(),
        _ => return None,
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokensmith_core::{OAuthError, UnexpectedResponse};

    fn ctx(grant_type: &'static str) -> HintContext<'static> {
        HintContext {
            grant_type,
            auth: ClientAuth::Basic,
            scope: Some("read write"),
            endpoint: "https://auth.example/oauth/token",
            key_id: None,
            key_alg: None,
            external_assertion: false,
        }
    }

    fn oauth(status: u16, code: &str, description: Option<&str>) -> Error {
        let mut e = OAuthError::new(StatusCode::from_u16(status).unwrap(), code);
        e.description = description.map(str::to_owned);
        e.into()
    }

    fn hint(error: Error, grant: &'static str) -> String {
        explain(error, &ctx(grant), None)
            .hint()
            .unwrap_or("")
            .to_owned()
    }

    #[test]
    fn each_known_cause_has_its_hint() {
        let h = hint(
            oauth(400, "invalid_request", Some("Missing parameter grant_type")),
            "client_credentials",
        );
        assert!(h.contains("form body") || h.contains("POST body"), "{h}");
        assert!(h.contains("not in headers or the query string"));
        assert_eq!(
            hint(
                oauth(400, "invalid_request", Some("bad audience")),
                "password"
            ),
            ""
        );

        let h = hint(oauth(401, "invalid_client", None), "client_credentials");
        assert!(
            h.contains("client_secret_basic")
                && h.contains("RequestBody")
                && h.contains("AutoDetect"),
            "{h}"
        );

        let h = hint(oauth(400, "invalid_grant", None), "authorization_code");
        assert!(
            h.contains("redirect_uri") && h.contains("single-use"),
            "{h}"
        );
        let h = hint(oauth(400, "invalid_grant", None), "password");
        assert!(h.contains("username or password"), "{h}");
        let h = hint(oauth(400, "unsupported_grant_type", None), "password");
        assert!(h.contains("grant_type=password"), "{h}");
        let h = hint(oauth(400, "invalid_scope", None), "client_credentials");
        assert!(h.contains("`read write`"), "{h}");

        for status in [StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED] {
            let e: Error = UnexpectedResponse::new(status, None, "x", "").into();
            let h = hint(e, "client_credentials");
            assert!(h.contains("wrong URL") && h.contains("region"), "{h}");
        }
    }

    #[test]
    fn an_existing_hint_is_kept() {
        let e = oauth(401, "invalid_client", None).with_hint("vendor says");
        assert_eq!(hint(e, "password"), "vendor says");
    }
}
