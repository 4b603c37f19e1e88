//! Client authentication as the server checks it: Basic (decoded or not), the body, and client assertions.

use super::*;

/// Client authentication (RFC 6749 §2.3): Basic with form-urlencoded id and secret, or the
/// body; never both.
pub(crate) fn authenticate<'a>(
    state: &'a ServerState,
    req: &Incoming,
    params: &[(String, String)],
) -> Result<&'a ClientConfig, Reply> {
    let config = &state.config;
    let failed = |why: &str| oauth_error(config, "invalid_client", why);
    let basic = req.header("authorization").and_then(parse_basic);
    let body_id = Incoming::find(params, "client_id");
    let body_secret = Incoming::find(params, "client_secret");
    if let Some(kind) = Incoming::find(params, "client_assertion_type") {
        return assertion(state, req, params, kind);
    }
    if basic.is_some() && body_secret.is_some() {
        return Err(oauth_error(
            config,
            "invalid_request",
            "more than one client authentication method was used",
        ));
    }
    if let Some((raw_id, raw_secret)) = basic {
        let found = config
            .client(&form_decode(&raw_id))
            .filter(|c| c.auth.decode_basic)
            .map(|c| (c, form_decode(&raw_secret)))
            .or_else(|| {
                config
                    .client(&raw_id)
                    .filter(|c| !c.auth.decode_basic)
                    .map(|c| (c, raw_secret.clone()))
            });
        let Some((client, secret)) = found else {
            return Err(failed("unknown client"));
        };
        if !client.auth.basic {
            return Err(failed("this client may not use HTTP Basic authentication"));
        }
        if client.secret.as_deref() != Some(secret.as_str()) {
            return Err(failed("client authentication failed"));
        }
        return Ok(client);
    }
    let Some(id) = body_id else {
        return Err(failed("client authentication required"));
    };
    let Some(client) = state.config.client(id) else {
        return Err(failed("unknown client"));
    };
    match (&client.secret, body_secret) {
        (None, None) => Ok(client),
        (Some(_), Some(_)) if !client.auth.body => Err(failed(
            "this client may not send its credentials in the body",
        )),
        (Some(expected), Some(given)) if expected == given => Ok(client),
        (Some(_), None) => Err(failed("client authentication required")),
        _ => Err(failed("client authentication failed")),
    }
}

/// `private_key_jwt` (RFC 7523 §2.2): the client is the assertion's `sub`.
pub(super) fn assertion<'a>(
    state: &'a ServerState,
    req: &Incoming,
    params: &[(String, String)],
    kind: &str,
) -> Result<&'a ClientConfig, Reply> {
    let config = &state.config;
    let failed = |why: &str| oauth_error(config, "invalid_client", why);
    if kind != proof::JWT_ASSERTION {
        return Err(failed("unsupported client_assertion_type"));
    }
    if req.header("authorization").is_some() || Incoming::find(params, "client_secret").is_some() {
        return Err(oauth_error(
            config,
            "invalid_request",
            "more than one client authentication method was used",
        ));
    }
    let assertion = Incoming::find(params, "client_assertion")
        .ok_or_else(|| failed("client_assertion is missing"))?;
    // The client is named by `client_id` or, without it, by the assertion's `sub`.
    let named = Incoming::find(params, "client_id")
        .map(str::to_owned)
        .or_else(|| {
            let claims = assertion.split('.').nth(1)?;
            let claims: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
            claims.get("sub")?.as_str().map(str::to_owned)
        });
    let client = named
        .and_then(|id| config.client(&id))
        .ok_or_else(|| failed("unknown client"))?;
    let Some(jwk) = &client.jwk else {
        return Err(failed("this client is not registered for private_key_jwt"));
    };
    let token_url = format!("{}{}", state.base_url, req.path);
    proof::client_assertion(state, &client.id, jwk, assertion, &token_url)
        .map_err(|why| failed(&format!("client assertion rejected: {why}")))?;
    Ok(client)
}

pub(super) fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

pub(super) fn form_decode(value: &str) -> String {
    url::form_urlencoded::parse(value.as_bytes())
        .next()
        .map(|(key, _)| key.into_owned())
        .unwrap_or_default()
}
