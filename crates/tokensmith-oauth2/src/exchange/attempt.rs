//! One attempt at a token request, in three steps: the request built (`http::Request<Bytes>`),
//! sent through the endpoint's transport with the body limit, the answer read
//! (`http::Response<Bytes>`) into a token or a failure that says whether to try again.

use std::time::Duration;

use bytes::Bytes;
use http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, DATE, HeaderMap, HeaderName, HeaderValue, LOCATION,
};
use http::response::Parts as ResponseHead;
use http::{Method, Request, Response, StatusCode};
use tokensmith_core::{Error, UnexpectedResponse};
use tokensmith_http::transport::{SendError, TransportError, send, with_url};
use tokensmith_http::{display_url, retry_after, scrub_excerpt};
use tokio::time::Instant;
use tracing::Instrument;
use url::form_urlencoded;

use super::{Call, Failure};
use crate::jwt::{JWT_BEARER_ASSERTION_TYPE, assertion_claims, sign_jwt};
use crate::response::RawResponse;
use crate::{ClientAuth, GrantRequest, TokenEndpoint};

/// What an attempt sends besides the grant: assertions signed or obtained for it.
struct Credentials<'a> {
    /// The client assertion and its type.
    client_assertion: Option<(String, &'a str)>,
    /// The grant's own assertion (the JWT bearer grant).
    grant_assertion: Option<String>,
    /// How long the token may live: no longer than an assertion someone else issued.
    lifetime_cap: Option<Duration>,
}

impl TokenEndpoint {
    pub(super) async fn attempt<T>(
        &self,
        call: &Call<'_, '_, T>,
        style: ClientAuth,
        attempt: u32,
    ) -> Result<T, Failure> {
        let request = call.request;
        let span = tracing::info_span!(
            target: "tokensmith::oauth2",
            "tokensmith.token_request",
            grant = request.grant_type,
            endpoint = call.display,
            auth = style.as_str(),
            attempt,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = self
            .attempt_inner(call, style)
            .instrument(span.clone())
            .await;
        span.record("duration_ms", started.elapsed().as_millis() as u64);
        result
    }

    /// One attempt in three steps: build the request, send it through the transport, read
    /// the answer.
    async fn attempt_inner<T>(
        &self,
        call: &Call<'_, '_, T>,
        style: ClientAuth,
    ) -> Result<T, Failure> {
        let inner = &self.inner;
        let credentials = self.credentials(call, style).await.map_err(Failure::new)?;
        let request = self
            .token_request(call, style, &credentials)
            .map_err(Failure::new)?;
        let attempt_timeout = inner.attempt_timeout.unwrap_or(inner.timeout);
        let sent_at = Instant::now();
        let sending = send(&*inner.transport, request, inner.max_body);
        let sent = match inner.attempt_timeout {
            // The whole call's timeout bounds an attempt without one of its own.
            None => sending.await,
            Some(limit) => tokio::time::timeout(limit, sending)
                .await
                .unwrap_or_else(|_| {
                    Err(SendError::Transport(TransportError::timeout(
                        "the attempt timed out".into(),
                    )))
                }),
        };
        // A server that echoes the request must show none of it, in any encoding.
        let mut secrets: Vec<&str> = call.request.secret_values.clone();
        secrets.extend(
            credentials
                .client_assertion
                .as_ref()
                .map(|(value, _)| value.as_str()),
        );
        secrets.extend(credentials.grant_assertion.as_deref());
        secrets.extend(self.secret_values());
        let answer = match sent {
            Ok(response) => Ok(response),
            Err(SendError::TooLarge { head, seen }) => Err((*head, seen)),
            Err(SendError::Transport(e)) => {
                return Err(Failure {
                    unprocessed: e.is_connect(),
                    error: e.into_error(call.display, attempt_timeout),
                    retry_after: None,
                    wants_nonce: false,
                });
            }
        };
        self.read(call, answer, sent_at, credentials.lifetime_cap, &secrets)
    }

    /// The assertions this attempt sends, signed or obtained now.
    async fn credentials<T>(
        &self,
        call: &Call<'_, '_, T>,
        style: ClientAuth,
    ) -> Result<Credentials<'_>, Error> {
        let inner = &self.inner;
        // The issued token lives no longer than an assertion someone else issued.
        let mut lifetime_cap = None;
        let client_assertion = match (&inner.signer, &inner.assertion, style) {
            (Some(signer), _, ClientAuth::PrivateKeyJwt | ClientAuth::ClientSecretJwt) => {
                let id = &inner.client.id;
                let audience = self.assertion_audience_for(call.url);
                let claims = assertion_claims(id, id, &audience)?;
                Some((
                    sign_jwt(&**signer, None, &claims).await?,
                    JWT_BEARER_ASSERTION_TYPE,
                ))
            }
            (None, Some(given), ClientAuth::PrivateKeyJwt) => {
                let assertion = given.assertion().await?;
                lifetime_cap = assertion.expires_at.map(|at| {
                    at.duration_since(std::time::SystemTime::now())
                        .unwrap_or_default()
                });
                Some((
                    tokensmith_core::ExposeSecret::expose_secret(&assertion.token).to_owned(),
                    given.assertion_type(),
                ))
            }
            _ => None,
        };
        let grant_assertion = match call.request.assertion {
            Some(assertion) => Some(assertion.sign().await?),
            None => None,
        };
        Ok(Credentials {
            client_assertion,
            grant_assertion,
            lifetime_cap,
        })
    }

    /// The token request: a form `POST` with the client's authentication, as it goes out.
    fn token_request<T>(
        &self,
        call: &Call<'_, '_, T>,
        style: ClientAuth,
        credentials: &Credentials<'_>,
    ) -> Result<Request<Bytes>, Error> {
        let inner = &self.inner;
        let body = self.form_body(
            call.request,
            style,
            credentials
                .client_assertion
                .as_ref()
                .map(|(value, kind)| (value.as_str(), *kind)),
            credentials.grant_assertion.as_deref(),
        );
        let mut request = with_url(Method::POST, call.url, Bytes::from(body))
            .map_err(|_| Error::config(format!("{} cannot be requested", call.display)))?;
        let headers = request.headers_mut();
        headers.clone_from(&inner.headers);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let basic = match style {
            ClientAuth::Basic | ClientAuth::AutoDetect => inner.basic.as_ref(),
            ClientAuth::BasicUnencoded => inner.basic_unencoded.as_ref(),
            _ => None,
        };
        if let Some(value) = basic {
            headers.insert(AUTHORIZATION, value.clone());
        }
        #[cfg(feature = "dpop")]
        if let Some(key) = &inner.dpop {
            let proof = key.proof("POST", call.url, None)?;
            headers.insert(tokensmith_http::dpop::DPOP, proof);
        }
        Ok(request)
    }

    /// Reads the answer: the parsed token (or other result), or the failure with what decides
    /// whether to try again. `answer` is the whole answer, or the head of one that passed the
    /// size limit and what was read of it.
    fn read<T>(
        &self,
        call: &Call<'_, '_, T>,
        answer: Result<Response<Bytes>, (ResponseHead, Vec<u8>)>,
        sent_at: Instant,
        lifetime_cap: Option<Duration>,
        secrets: &[&str],
    ) -> Result<T, Failure> {
        let inner = &self.inner;
        let (head, body, too_large) = match answer {
            Ok(response) => {
                let (head, body) = response.into_parts();
                (head, body, false)
            }
            Err((head, seen)) => (head, Bytes::from(seen), true),
        };
        let status = head.status;
        tracing::Span::current().record("status", status.as_u16());
        tracing::debug!(target: "tokensmith::oauth2", status = status.as_u16(), "token endpoint answered");
        let headers = &head.headers;
        #[cfg(feature = "dpop")]
        let new_nonce = inner
            .dpop
            .as_ref()
            .is_some_and(|key| key.remember_nonce(call.url, headers));
        #[cfg(not(feature = "dpop"))]
        let new_nonce = false;
        let content_type = header_text(headers, CONTENT_TYPE);
        let retry_after = retry_after(headers);
        let date = header_text(headers, DATE).and_then(|d| httpdate::parse_http_date(&d).ok());
        let fail = |error: Error| Failure {
            unprocessed: status == StatusCode::TOO_MANY_REQUESTS,
            // The normalised code, which masking secrets in the answer never touches.
            wants_nonce: new_nonce
                && error
                    .oauth()
                    .is_some_and(|e| e.code.as_str() == "use_dpop_nonce"),
            error,
            retry_after,
        };
        let shown_type = || {
            content_type
                .as_deref()
                .map(|text| scrub_excerpt(text.as_bytes(), secrets))
        };
        if too_large {
            return Err(fail(
                UnexpectedResponse::new(
                    status,
                    shown_type(),
                    format!(
                        "the answer is larger than the {} byte limit",
                        inner.max_body
                    ),
                    scrub_excerpt(&body, secrets),
                )
                .into(),
            ));
        }
        if status.is_redirection() {
            let target = header_text(headers, LOCATION)
                .and_then(|l| call.url.join(&l).ok())
                .map(|u| scrub_excerpt(display_url(&u).as_bytes(), secrets))
                .unwrap_or_else(|| "an unnamed location".into());
            return Err(fail(
                UnexpectedResponse::new(
                    status,
                    shown_type(),
                    format!("redirected to {target}; not followed"),
                    scrub_excerpt(&body, secrets),
                )
                .into(),
            ));
        }
        (call.parse)(&RawResponse {
            status,
            content_type: content_type.as_deref(),
            date,
            sent_at,
            lifetime_cap,
            body: &body,
            secrets,
            vendor: inner.vendor.as_deref(),
        })
        .map_err(fail)
    }

    /// The form body: grant parameters, client authentication parameters, extra parameters.
    fn form_body(
        &self,
        request: &GrantRequest<'_>,
        style: ClientAuth,
        client_assertion: Option<(&str, &str)>,
        grant_assertion: Option<&str>,
    ) -> String {
        let inner = &self.inner;
        let mut form = form_urlencoded::Serializer::new(String::new());
        if request.sends_grant_type {
            form.append_pair("grant_type", request.grant_type);
        }
        for (name, value) in &request.params {
            form.append_pair(name, value);
        }
        if let Some(assertion) = grant_assertion {
            form.append_pair("assertion", assertion);
        }
        for (name, value) in inner.client.body_params(style) {
            form.append_pair(name, value);
        }
        if let Some((assertion, kind)) = client_assertion {
            form.append_pair("client_assertion_type", kind);
            form.append_pair("client_assertion", assertion);
        }
        for (name, value) in &inner.params {
            form.append_pair(name, value);
        }
        form.finish()
    }
}

fn header_text(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_owned)
}
