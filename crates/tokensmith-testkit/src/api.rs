//! The protected resource: accepts live tokens this server issued, plus what each vendor wants.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::Flavour;
use crate::log::AtomicCounters;
use crate::reply::{Reply, airvantage_error, invalid_token};
use crate::server::Incoming;
use crate::state::{Issued, Shared, lock};

/// Systems every AirVantage-flavoured server knows.
const SYSTEMS: &[(&str, &str)] = &[
    ("sys-001", "Pump station 1"),
    ("sys-002", "Pump station 2"),
    ("sys-003", "Cold store"),
    ("sys-004", "Fleet tracker 7"),
    ("sys-005", "Weather mast"),
];

/// Talent ids an Avionté-flavoured server knows: 1 to this.
const TALENT_COUNT: u64 = 250;

pub(crate) fn api(state: &Shared, req: &Incoming) -> Reply {
    let flavour = &state.config.flavour;
    if let Flavour::Avionte { api_key } = flavour
        && req.header("x-api-key") != Some(api_key.as_str())
    {
        return Reply::json(StatusCode::FORBIDDEN, &json!({"message": "Forbidden"}));
    }
    let issued = match bearer(state, req) {
        Ok(issued) => issued,
        Err(reply) => {
            AtomicCounters::bump(&state.counters.api_rejections);
            return reply;
        }
    };
    match flavour {
        Flavour::AirVantage { .. } => airvantage(state, req, &issued),
        Flavour::Avionte { .. } => avionte(req),
        Flavour::Standard | Flavour::BasicVendor => Reply::json(
            StatusCode::OK,
            &json!({
                "path": req.path,
                "method": req.method.as_str(),
                "client_id": issued.client_id,
                "username": issued.username,
                "scope": issued.scope,
            }),
        ),
    }
}

/// The live token the request carries, or the 401 (or vendor error) that refuses it.
fn bearer(state: &Shared, req: &Incoming) -> Result<Issued, Reply> {
    let flavour = &state.config.flavour;
    let Some((scheme, token)) = req
        .header("authorization")
        .and_then(|v| v.trim().split_once(' '))
    else {
        return Err(invalid_token("no bearer token"));
    };
    let scheme_ok = match flavour {
        // Avionté documents the scheme as `Bearer`, capitalised.
        Flavour::Avionte { .. } => scheme == "Bearer",
        _ => scheme.eq_ignore_ascii_case("bearer"),
    };
    if !scheme_ok {
        return Err(invalid_token("the Authorization scheme is not Bearer"));
    }
    let token = token.trim();
    let issued = lock(&state.store).tokens.get(token).cloned();
    match issued {
        Some(issued) if issued.revoked => Err(invalid_token("the token was revoked")),
        Some(issued) if Instant::now() >= issued.expires_at => {
            Err(invalid_token("the token expired"))
        }
        Some(issued) => Ok(issued),
        None => {
            let elsewhere = state
                .registry
                .as_ref()
                .and_then(|registry| registry.region_of(token))
                .filter(|region| Some(region.as_str()) != state.region());
            match elsewhere {
                // A token of another AirVantage region means nothing here.
                Some(_) => Err(airvantage_error(
                    StatusCode::BAD_REQUEST,
                    "context.unknown",
                    &[],
                )),
                None => Err(invalid_token("unknown token")),
            }
        }
    }
}

fn airvantage(state: &Shared, req: &Incoming, issued: &Issued) -> Reply {
    if let Some(company) = req.query_param("company")
        && !state.config.companies.iter().any(|c| c == company)
    {
        return airvantage_error(StatusCode::BAD_REQUEST, "context.unknown", &[company]);
    }
    let path = req.path.as_str();
    if path.starts_with("/api/v1/systems")
        && state
            .config
            .denied_rights
            .iter()
            .any(|r| r == "entities.systems.view")
    {
        return airvantage_error(
            StatusCode::FORBIDDEN,
            "missing.rights",
            &["entities.systems.view"],
        );
    }
    match path.trim_end_matches('/') {
        "/api/v1/systems" => systems(req),
        "/api/v1/users/current" => Reply::json(
            StatusCode::OK,
            &json!({
                "uid": "user-1",
                "email": issued.username.as_deref().unwrap_or("service@example.com"),
                "name": issued.username.as_deref().unwrap_or("service"),
                "company": {"uid": state.config.companies.first(), "name": "Company 1"},
                "profile": {"uid": "profile-1", "name": "Administrator"},
            }),
        ),
        other => match other.strip_prefix("/api/v1/systems/") {
            Some(uid) => match SYSTEMS.iter().find(|(id, _)| *id == uid) {
                Some(system) => Reply::json(StatusCode::OK, &system_json(system, None)),
                None => airvantage_error(StatusCode::NOT_FOUND, "system.not.found", &[uid]),
            },
            None => airvantage_error(StatusCode::NOT_FOUND, "resource.not.found", &[other]),
        },
    }
}

fn system_json((uid, name): &(&str, &str), fields: Option<&[&str]>) -> Value {
    let full = json!({
        "uid": uid,
        "name": name,
        "commStatus": "OK",
        "lifeCycleState": "DEPLOYED",
        "lastCommDate": 1_700_000_000_000u64,
    });
    match (fields, full) {
        (Some(fields), Value::Object(all)) => Value::Object(
            all.into_iter()
                .filter(|(k, _)| fields.contains(&k.as_str()))
                .collect::<Map<_, _>>(),
        ),
        (_, full) => full,
    }
}

fn systems(req: &Incoming) -> Reply {
    let number = |name: &str, default: usize| {
        req.query_param(name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let offset = number("offset", 0);
    let size = number("size", 100).min(500);
    let fields: Option<Vec<&str>> = req
        .query_param("fields")
        .map(|f| f.split(',').map(str::trim).collect());
    let items: Vec<Value> = SYSTEMS
        .iter()
        .skip(offset)
        .take(size)
        .map(|s| system_json(s, fields.as_deref()))
        .collect();
    Reply::json(
        StatusCode::OK,
        &json!({"items": items, "count": SYSTEMS.len(), "size": size, "offset": offset}),
    )
}

fn avionte(req: &Incoming) -> Reply {
    let accepts_json = req
        .header("accept")
        .is_none_or(|a| a.contains("application/json") || a.contains("*/*"));
    if !accepts_json {
        return Reply::json(
            StatusCode::NOT_ACCEPTABLE,
            &json!({"message": "Not Acceptable"}),
        );
    }
    let tenant = req
        .header("frontofficetenantid")
        .or_else(|| req.header("tenant"));
    let Some(tenant) = tenant else {
        return Reply::json(
            StatusCode::BAD_REQUEST,
            &json!({"message": "a FrontOfficeTenantId or Tenant header is required"}),
        );
    };
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["front-office", "v1", "talent", "ids", page, size] => {
            let (Ok(page), Ok(size)) = (page.parse::<u64>(), size.parse::<u64>()) else {
                return Reply::json(
                    StatusCode::BAD_REQUEST,
                    &json!({"message": "page and pageSize must be numbers"}),
                );
            };
            if size == 0 || size > 100 || page == 0 {
                return Reply::json(
                    StatusCode::BAD_REQUEST,
                    &json!({"message": "page starts at 1 and pageSize must be between 1 and 100"}),
                );
            }
            let first = (page - 1).saturating_mul(size) + 1;
            let ids: Vec<u64> = (first..first.saturating_add(size))
                .filter(|id| *id <= TALENT_COUNT)
                .collect();
            Reply::json(StatusCode::OK, &json!(ids))
        }
        ["front-office", "v1", "talent", id] => match id.parse::<u64>() {
            Ok(id) if (1..=TALENT_COUNT).contains(&id) => Reply::json(
                StatusCode::OK,
                &json!({
                    "id": id,
                    "firstName": "Talent",
                    "lastName": format!("Number {id}"),
                    "emailAddress": format!("talent{id}@example.com"),
                    "frontOfficeTenantId": tenant,
                }),
            ),
            _ => Reply::json(
                StatusCode::NOT_FOUND,
                &json!({"message": "Talent not found"}),
            ),
        },
        _ => Reply::json(StatusCode::NOT_FOUND, &json!({"message": "Not Found"})),
    }
}

/// AirVantage's logout: `GET /api/oauth/expire?access_token=…` revokes the token.
pub(crate) fn logout(state: &Shared, req: &Incoming) -> Reply {
    if let Some(token) = req.query_param("access_token")
        && let Some(issued) = lock(&state.store).tokens.get_mut(token)
    {
        issued.revoked = true;
    }
    Reply::json(StatusCode::OK, &json!("logout.successful"))
}
