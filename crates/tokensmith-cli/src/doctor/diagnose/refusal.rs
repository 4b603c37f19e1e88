//! Verdicts when no token came: transport, paths and pages, how parameters must travel, and
//! what the server's error names.

use super::{Attempt, Code, Context, Note, Seen, Shape, Style, Verdict};

pub(super) fn refusal_verdict(
    attempts: &[Attempt],
    first: &Attempt,
    best: &Attempt,
    context: &Context,
    notes: &mut Vec<Note>,
) -> Verdict {
    match &first.seen {
        Seen::Tls(why) => {
            return Verdict::new(
                Code::Tls,
                format!("The TLS handshake failed: {why}."),
                "Check that the URL's scheme and port are right (https to a plain-http port \
                 fails this way), and that the server's certificate is valid for this host name \
                 and signed by a trusted authority.",
            );
        }
        Seen::Unreachable(why) => {
            return Verdict::new(
                Code::Unreachable,
                format!("No connection: {why}."),
                "Check the host name, the port and the network path (proxy, firewall, VPN).",
            );
        }
        Seen::Timeout => {
            return Verdict::new(
                Code::Timeout,
                "The endpoint did not answer in time.",
                "Check the network path; a firewall that drops packets looks like this.",
            );
        }
        Seen::Redirect { status, location } => {
            return Verdict::new(
                Code::Redirect,
                format!(
                    "The token endpoint answers {status}, a redirect{}; a token request must not \
                     follow redirects (the secret would go along).",
                    location
                        .as_deref()
                        .map(|l| format!(" to {l}"))
                        .unwrap_or_default()
                ),
                "Use the final URL as the token endpoint (often https instead of http, or a \
                 trailing slash).",
            );
        }
        _ => {}
    }
    if first.seen.status() == Some(429) {
        return Verdict::new(
            Code::RateLimited,
            "The endpoint answers 429: this client asks for tokens too often.",
            "Wait for its Retry-After; cache tokens (Cached, and RedisCache for a fleet) so that \
             one token serves every caller for its lifetime.",
        );
    }
    if let Some(status) = first.seen.status().filter(|s| *s >= 500) {
        return Verdict::new(
            Code::ServerError,
            format!(
                "The endpoint or a gateway in front of it fails ({status}){}.",
                match &first.seen {
                    Seen::Html { .. } => ", with an error page",
                    _ => "",
                }
            ),
            "Not a client configuration problem: retry later, or tell the vendor with the time \
             of the request.",
        );
    }
    if first.seen.status() == Some(404) || first.seen.gateway_path() {
        return Verdict::new(
            Code::WrongPath,
            if first.seen.gateway_path() {
                "The URL answers as an AWS API Gateway does for a route it does not have \
                 (`Missing Authentication Token`)."
            } else {
                "Nothing is at this URL (404)."
            },
            "The token path is wrong, or the region or base URL is (a vendor's regions each \
             have their own host); token endpoints usually end in /token or /oauth/token.",
        );
    }
    if let Seen::Html { status } = first.seen {
        return Verdict::new(
            Code::HtmlPage,
            format!("The URL answers {status} with a web page, not a token endpoint's JSON."),
            "It is likely the sign-in page or the portal: use the token endpoint from the \
             vendor's API documentation or its metadata (`tokensmith discover ISSUER`).",
        );
    }
    // An answer over GET or JSON that shows the parameters were read: not a 404 or 405 for
    // the method or body it was sent with.
    let read = |shape: Shape| {
        attempts.iter().find(|a| {
            a.probe.shape == shape
                && a.seen.progress() >= 1
                && !matches!(a.seen.status(), Some(404 | 405 | 415))
        })
    };
    let query = read(Shape::Query);
    let json = read(Shape::Json);
    let post_405 = attempts
        .iter()
        .any(|a| a.probe.shape != Shape::Query && a.seen.status() == Some(405));
    let form_unread = attempts.iter().any(|a| {
        a.probe.shape == Shape::Form && (a.seen.params_missing() || a.seen.grant_type_refused())
    });
    if post_405 || form_unread {
        if let Some(read) = query {
            notes.push(Note {
                code: "then",
                text: format!("over GET the server then answered {}", read.seen.summary()),
            });
            return Verdict::new(
                Code::WantsGet,
                format!(
                    "The endpoint reads its parameters only from the query string of a GET (POST \
                     {}); RFC 6749 §3.2 asks for POST with a form body, which tokensmith sends.",
                    if post_405 {
                        "answered 405"
                    } else {
                        "was answered as if they were missing"
                    }
                ),
                "Ask the vendor for its POST endpoint, or check the URL.",
            );
        }
        if let Some(read) = json {
            notes.push(Note {
                code: "then",
                text: format!(
                    "with a JSON body the server then answered {}",
                    read.seen.summary()
                ),
            });
            return Verdict::new(
                Code::WantsJson,
                "The endpoint reads a JSON body, not the form body RFC 6749 §3.2 asks for.",
                "Ask the vendor whether it takes application/x-www-form-urlencoded; tokensmith \
                 sends form bodies only.",
            );
        }
        if post_405 {
            return Verdict::new(
                Code::WrongPath,
                "The URL answers POST with 405 and GET does not give a token either: it is not a \
                 token endpoint.",
                "Use the token endpoint from the vendor's API documentation or its metadata.",
            );
        }
        let missing = attempts
            .iter()
            .any(|a| a.probe.shape == Shape::Form && a.seen.params_missing());
        if missing && !attempts.iter().any(|a| a.seen.progress() >= 1) {
            return Verdict::new(
                Code::BodyNotRead,
                format!(
                    "The server did not see the parameters although the form body had them \
                     (it answered: {}).",
                    first.seen.summary()
                ),
                "A proxy may drop the body or rewrite the content type, or the server wants \
                 another format; compare with the request `--curl` prints. grant_type belongs in \
                 the form body, never in a header or the query string.",
            );
        }
    }
    if best.probe.style != Style::Basic && best.seen.progress() >= 2 {
        notes.push(Note {
            code: "client_auth_style",
            text: format!(
                "the client was accepted as {}: configure {}",
                best.probe.style.name(),
                best.probe.style.setting()
            ),
        });
    }
    let seen = &best.seen;
    let code = seen.code();
    let text = seen.text();
    if text.contains("context.unknown") {
        return Verdict::new(
            Code::WrongRegion,
            "The server does not know this account here (`context.unknown`): it lives in another \
             region.",
            "Use the region the account was created in, for the token and for the API.",
        );
    }
    if attempts.iter().any(|a| a.seen.wants_api_key()) {
        let sent = if context.headers.is_empty() {
            "no API key header was sent".to_owned()
        } else {
            format!("sent: {}", context.headers.join(", "))
        };
        return Verdict::new(
            Code::ApiKey,
            format!(
                "A gateway in front of the token endpoint wants an API or subscription key ({sent})."
            ),
            "Add the key header the vendor documents, with the key for this API product.",
        )
        .config(
            "TokenEndpoint::builder(url).header(NAME, key); tokensmith doctor --header NAME:env:VAR",
        );
    }
    let refused: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.seen.status().is_some())
        .collect();
    if !refused.is_empty() && refused.iter().all(|a| a.seen.refuses_client()) {
        let gateway = refused
            .iter()
            .all(|a| matches!(a.seen, Seen::Other { status: 403, .. }));
        if gateway {
            return Verdict::new(
                Code::ApiKey,
                "Every way of sending the client credentials got 403 without an OAuth error: a \
                 gateway in front of the endpoint refuses the request before the token server \
                 sees it.",
                "Add the API key or subscription header the vendor documents.",
            )
            .config("TokenEndpoint::builder(url).header(NAME, key)");
        }
        let styles: Vec<&str> = {
            let mut styles: Vec<&str> = refused.iter().map(|a| a.probe.style.name()).collect();
            styles.dedup();
            styles
        };
        return Verdict::new(
            Code::InvalidClient,
            format!(
                "The server refused the client credentials in every style tried ({}).",
                styles.join("; ")
            ),
            "The client id or secret is wrong (a secret copied with a space or line break, a \
             secret of another environment, an expired secret); check them in the vendor's \
             console.",
        );
    }
    if seen.progress() == 2 && seen.wants_audience() {
        return Verdict::new(
            Code::Audience,
            format!(
                "The client was accepted, but the server wants an `audience` (or `resource`) \
                 naming the API the token is for, or does not know the one sent (it answered \
                 {}).",
                seen.summary()
            ),
            "Send the API identifier the vendor's console shows (Auth0: the API's Identifier).",
        )
        .config(
            "ClientCredentials::new(endpoint).param(\"audience\", \"https://api.example.com\")",
        );
    }
    if code == "invalid_scope" || (seen.progress() == 2 && seen.mentions_scope()) {
        let asked = context
            .scope
            .as_deref()
            .map_or("no scope was asked for".to_owned(), |s| {
                format!("asked for `{s}`")
            });
        return Verdict::new(
            Code::InvalidScope,
            format!("The client was accepted but the scope was not ({asked})."),
            "Ask only for scopes this client is granted, spelled as the vendor documents them; \
             some servers require one.",
        )
        .config("ClientCredentials::new(endpoint).scope([...]) (--scope)");
    }
    if code == "unauthorized_client" || code == "access_denied" || seen.grant_not_allowed() {
        return Verdict::new(
            Code::UnauthorizedClient,
            format!(
                "The client is known but may not use the {} grant.",
                context.grant
            ),
            "Enable the grant for this client in the vendor's console, or use the grant it has.",
        );
    }
    if code == "unsupported_grant_type" || seen.grant_type_refused() {
        return Verdict::new(
            Code::UnsupportedGrantType,
            format!(
                "The server does not take grant_type={} (it answered {}).",
                context.grant,
                seen.summary()
            ),
            "Check which grants the vendor offers, and the exact grant_type it expects.",
        );
    }
    if code == "invalid_grant" {
        return grant_verdict(&text, &context.grant);
    }
    if first.seen.status() == Some(405) {
        return Verdict::new(
            Code::WrongPath,
            "The URL answers POST with 405: it is not a token endpoint.",
            "Use the token endpoint from the vendor's API documentation or its metadata.",
        );
    }
    Verdict::new(
        Code::Unknown,
        format!("The endpoint answered {}.", best.seen.summary()),
        "See the requests below; `--curl` prints each one to try by hand.",
    )
}

/// `invalid_grant`: what the description says was wrong with the grant.
pub(super) fn grant_verdict(text: &str, grant: &str) -> Verdict {
    if text.contains("redirect") {
        return Verdict::new(
            Code::RedirectUriMismatch,
            "The redirect_uri of the code exchange differs from the one in the authorization \
             request (RFC 6749 §4.1.3 wants them identical).",
            "Send the same redirect_uri in both requests, character for character, and register \
             it with the client.",
        )
        .config(
            "AuthorizationCode::new(endpoint, authorize_url, redirect_uri) uses one value for both",
        );
    }
    let code_grant = grant == "authorization_code" || text.contains("code");
    if code_grant
        && [
            "expired",
            "used",
            "already",
            "redeemed",
            "invalid",
            "not found",
            "unknown",
        ]
        .iter()
        .any(|w| text.contains(w))
    {
        return Verdict::new(
            Code::SpentAuthorization,
            "The authorization code was refused: a code can be exchanged once, within minutes of \
             the sign-in.",
            "Exchange each code once, right after the callback; on a retry start a new sign-in \
             rather than sending the code again.",
        );
    }
    if grant == "password" {
        return Verdict::new(
            Code::InvalidGrant,
            "The client was accepted but the user's name or password was not (or the account is \
             locked, or needs a second factor this grant cannot give).",
            "Check the user's credentials; accounts with MFA need a browser sign-in (--grant code).",
        );
    }
    if grant == "refresh_token" {
        return Verdict::new(
            Code::InvalidGrant,
            "The refresh token was refused: it expired, was revoked, or was already used once \
             where the server rotates refresh tokens.",
            "Sign in again; with several processes, share the session through RedisCache so \
             that each refresh token is used once.",
        );
    }
    Verdict::new(
        Code::InvalidGrant,
        "The server refused the grant itself (invalid_grant).",
        "Check the grant's parameters against the vendor's documentation.",
    )
}
