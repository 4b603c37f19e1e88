//! Building blocks for vendor simulators: the handle their handlers get, the check of a
//! bearer token against what this server issued, and JSON answers.
//!
//! A vendor crate's `testing` module configures a [`TestServerBuilder`](crate::TestServerBuilder)
//! (paths, knobs, an error shape) and [`mount`](crate::TestServerBuilder::mount)s an axum
//! `Router<SimState>` with its API; its handlers take `State<SimState>` and call
//! [`SimState::bearer`].

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::time::Instant;

use crate::incoming::Incoming;
use crate::log::AtomicCounters;
use crate::reply::{Reply, invalid_token};
use crate::state::{ServerState, lock};

/// The server, as a vendor simulator's handlers see it (axum state). Cloning is cheap.
#[derive(Clone)]
pub struct SimState(pub(crate) Arc<ServerState>);

/// What the server knows of a token it issued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedToken {
    /// The client it was issued to.
    pub client_id: String,
    /// The user, for user-delegated grants.
    pub username: Option<String>,
    /// The scope granted.
    pub scope: Option<String>,
    /// The resource it was issued for (RFC 8707), if the request named one.
    pub resource: Option<String>,
}

/// Why a request's bearer token is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Authorization` header, or not `<scheme> <token>`.
    Missing,
    /// The scheme is not `Bearer` (or not spelled the way the simulator wants).
    NotBearer,
    /// Revoked (by the test, a logout, or a replayed authorization code).
    Revoked,
    /// Past its lifetime.
    Expired,
    /// Nobody in this server's group issued it.
    Unknown,
    /// Another instance of this server's group issued it (a vendor's other region).
    FromSibling(String),
    /// A DPoP-bound token without a valid proof (RFC 9449 §7), with the reason.
    DpopProof(String),
    /// A DPoP proof without the nonce the server wants: send again with this one.
    DpopNonce(String),
}

impl IntoResponse for Rejection {
    /// RFC 6750 §3: 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
    fn into_response(self) -> Response {
        let dpop = |code: &str, description: &str| {
            Reply::json(
                StatusCode::UNAUTHORIZED,
                &serde_json::json!({"error": code, "error_description": description}),
            )
            .header("www-authenticate", format!("DPoP error=\"{code}\""))
        };
        let description = match self {
            Self::DpopProof(why) => return dpop("invalid_dpop_proof", &why).into_response(),
            Self::DpopNonce(nonce) => {
                return dpop("use_dpop_nonce", "a DPoP nonce is required")
                    .header("dpop-nonce", nonce)
                    .into_response();
            }
            Self::Missing => "no bearer token",
            Self::NotBearer => "the Authorization scheme is not Bearer",
            Self::Revoked => "the token was revoked",
            Self::Expired => "the token expired",
            Self::Unknown | Self::FromSibling(_) => "unknown token",
        };
        invalid_token(description).into_response()
    }
}

impl SimState {
    /// The live token that `headers` carry, or why it is refused (counted in
    /// [`Counters::api_rejections`](crate::Counters::api_rejections)). With `exact_scheme`,
    /// the scheme must be spelled `Bearer`, as some vendors insist.
    pub fn bearer(
        &self,
        headers: &HeaderMap,
        exact_scheme: bool,
    ) -> Result<IssuedToken, Rejection> {
        let result = self.check(headers, exact_scheme, false);
        if result.is_err() {
            AtomicCounters::bump(&self.0.counters.api_rejections);
        }
        result
    }

    /// Like [`bearer`](Self::bearer), for a whole request: a DPoP-bound token must come as
    /// `Authorization: DPoP` with a proof for this method and URL, its access token hash and
    /// the key the token is bound to (and the nonce, when the server wants one).
    pub fn authorized(&self, req: &Incoming, exact_scheme: bool) -> Result<IssuedToken, Rejection> {
        let result = self.check_request(req, exact_scheme);
        if result.is_err() {
            AtomicCounters::bump(&self.0.counters.api_rejections);
        }
        result
    }

    fn check_request(&self, req: &Incoming, exact_scheme: bool) -> Result<IssuedToken, Rejection> {
        let Some(("DPoP" | "dpop", token)) = req
            .header("authorization")
            .and_then(|v| v.trim().split_once(' '))
        else {
            return self.check(&req.headers, exact_scheme, false);
        };
        let token = token.trim();
        let jkt = lock(&self.0.store)
            .tokens
            .get(token)
            .and_then(|i| i.jkt.clone());
        let jkt = jkt.ok_or_else(|| Rejection::DpopProof("not a DPoP-bound token".into()))?;
        let proof = req
            .header("dpop")
            .ok_or_else(|| Rejection::DpopProof("no DPoP proof".into()))?;
        let url = format!("{}{}", self.0.base_url, req.path);
        crate::proof::dpop(
            &self.0,
            proof,
            req.method.as_str(),
            &url,
            Some((token, &jkt)),
        )
        .map_err(|refusal| match refusal {
            crate::proof::DpopRefusal::Nonce(nonce) => Rejection::DpopNonce(nonce),
            crate::proof::DpopRefusal::Invalid(why) => Rejection::DpopProof(why),
        })?;
        let mut headers = req.headers.clone();
        headers.insert(
            "authorization",
            axum::http::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| Rejection::Missing)?,
        );
        self.check(&headers, false, true)
    }

    /// `proven`: the request's DPoP proof was verified for this token.
    fn check(
        &self,
        headers: &HeaderMap,
        exact_scheme: bool,
        proven: bool,
    ) -> Result<IssuedToken, Rejection> {
        let (scheme, token) = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .ok_or(Rejection::Missing)?;
        let scheme_ok = if exact_scheme {
            scheme == "Bearer"
        } else {
            scheme.eq_ignore_ascii_case("bearer")
        };
        if !scheme_ok {
            return Err(Rejection::NotBearer);
        }
        let token = token.trim();
        let issued = lock(&self.0.store).tokens.get(token).cloned();
        if issued.as_ref().is_some_and(|i| i.jkt.is_some()) && !proven {
            return Err(Rejection::DpopProof(
                "a DPoP-bound token sent as a bearer token".into(),
            ));
        }
        match issued {
            Some(issued) if issued.revoked => Err(Rejection::Revoked),
            Some(issued) if Instant::now() >= issued.expires_at => Err(Rejection::Expired),
            Some(issued) => Ok(IssuedToken {
                client_id: issued.client_id,
                username: issued.username,
                scope: issued.scope,
                resource: issued.resource,
            }),
            None => match &self.0.registry {
                Some((registry, me)) => match registry.instance_of(token) {
                    Some(other) if other != *me => Err(Rejection::FromSibling(other)),
                    _ => Err(Rejection::Unknown),
                },
                None => Err(Rejection::Unknown),
            },
        }
    }

    /// Revokes an access token; false when this server did not issue it.
    pub fn revoke(&self, access_token: &str) -> bool {
        match lock(&self.0.store).tokens.get_mut(access_token) {
            Some(issued) => {
                issued.revoked = true;
                true
            }
            None => false,
        }
    }

    /// This server's name in its group, if it has one.
    pub fn instance(&self) -> Option<&str> {
        self.0.registry.as_ref().map(|(_, name)| name.as_str())
    }
}

/// A JSON answer with `Cache-Control: no-store`.
pub fn json(status: StatusCode, body: &Value) -> Response {
    Reply::json(status, body).into_response()
}
