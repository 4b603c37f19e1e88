//! The last step: the token endpoint read with tokensmith itself, configured as the probes found works.

use super::*;

pub(super) fn shape_name(shape: Shape) -> &'static str {
    match shape {
        Shape::Form => "POST, form body,",
        Shape::Json => "POST, JSON body,",
        Shape::Query => "GET, query string,",
    }
}

/// What tokensmith made of the endpoint.
pub(super) struct Read {
    pub(super) sent: Sent,
    pub(super) findings: Vec<(Mark, String)>,
    pub(super) token: Option<String>,
}

/// Gets a token through tokensmith itself in `style`, and says what it read or why it failed.
pub(super) async fn read_with_tokensmith(
    client: &Client<'_>,
    style: Style,
    args: &DoctorArgs,
    out: &Out,
) -> Read {
    let mut findings = Vec::new();
    let mut builder = TokenEndpoint::builder(client.url.as_str())
        .client_id(client.client_id)
        .client_secret(client.secret.to_owned())
        .auth(match style {
            Style::Basic => tokensmith_oauth2::ClientAuth::Basic,
            Style::BasicUnencoded => tokensmith_oauth2::ClientAuth::BasicUnencoded,
            Style::Body => tokensmith_oauth2::ClientAuth::RequestBody,
        })
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(args.timeout));
    if args.endpoint.insecure_http {
        builder = builder.danger_allow_insecure_http();
    }
    for (name, value, _) in client.headers {
        builder = builder.header(name.clone(), value.clone());
    }
    if let Some(Vendor::Basic) = args.vendor {
        builder = builder.vendor(tokensmith_basic::Quirks);
    }
    let scopes: Vec<String> = client
        .scope
        .map(|s| s.split(' ').map(str::to_owned).collect())
        .unwrap_or_default();
    let result = match builder.build() {
        Err(e) => Err(e),
        Ok(endpoint) => match (client.username, client.password) {
            (Some(user), Some(password)) => {
                Password::new(endpoint, user.to_owned(), password.to_owned())
                    .scope(&scopes)
                    .build_source()
                    .fetch()
                    .await
            }
            _ => {
                ClientCredentials::new(endpoint)
                    .scope(&scopes)
                    .build_source()
                    .fetch()
                    .await
            }
        },
    };
    let sent = Sent {
        method: "POST",
        url: display_url(client.url),
        placement: vec![format!(
            "the same request through tokensmith ({})",
            style.name()
        )],
        answer: match &result {
            Ok(_) => "a token".into(),
            Err(e) => e.to_string(),
        },
        curl: String::new(),
    };
    let token = match result {
        Ok(token) => {
            let secret = token.secret().expose_secret().to_owned();
            out.secrets().add(&secret);
            findings.push((
                Mark::Ok,
                format!(
                    "tokensmith reads it: {} token, {}, scopes: {}",
                    token.token_type(),
                    token
                        .lifetime()
                        .map_or("no stated lifetime".into(), |l| format!(
                            "valid {}",
                            span(l.as_secs())
                        )),
                    if token.scopes().is_empty() {
                        "(none stated)".into()
                    } else {
                        token.scopes().join(" ")
                    }
                ),
            ));
            if token.lifetime().is_none() {
                findings.push((
                    Mark::Warn,
                    "no expires_in: tokensmith keeps the token until an API answers 401; set \
                     CachedBuilder::default_lifetime if the vendor documents one"
                        .into(),
                ));
            }
            Some(secret)
        }
        Err(error) => {
            findings.push((Mark::Fail, format!("tokensmith could not use it: {error}")));
            None
        }
    };
    Read {
        sent,
        findings,
        token,
    }
}
