//! The server's memory: issued tokens, refresh tokens, codes, device grants.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::Config;
use crate::faults::{FaultPlan, Target};
use crate::log::{AtomicCounters, LoggedRequest};

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) client_id: String,
    pub(crate) username: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) expires_at: Instant,
    pub(crate) revoked: bool,
    /// The authorization code it came from, so a replayed code can revoke it (RFC 6749 §4.1.2).
    pub(crate) from_code: Option<String>,
    /// The refresh token family it belongs to, so a reused refresh token can revoke it.
    pub(crate) family: Option<String>,
    /// The DPoP key thumbprint the token is bound to (RFC 9449 §6).
    pub(crate) jkt: Option<String>,
    /// The resource it was issued for (RFC 8707 `resource`).
    pub(crate) resource: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) client_id: String,
    pub(crate) username: Option<String>,
    pub(crate) scope: Option<String>,
    /// The first refresh token of its chain of rotations.
    pub(crate) family: String,
    /// The resource of the grant (RFC 8707 §2.2).
    pub(crate) resource: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) challenge: Option<(String, String)>,
    pub(crate) scope: Option<String>,
    pub(crate) expires_at: Instant,
    pub(crate) used: bool,
    /// The resource of the authorization request (RFC 8707 §2.1).
    pub(crate) resource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved(String),
    Denied,
}

#[derive(Debug, Clone)]
pub(crate) struct DeviceGrant {
    pub(crate) client_id: String,
    pub(crate) user_code: String,
    pub(crate) scope: Option<String>,
    pub(crate) status: DeviceStatus,
    pub(crate) interval: Duration,
    pub(crate) last_poll: Option<Instant>,
    pub(crate) expires_at: Instant,
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) tokens: HashMap<String, Issued>,
    pub(crate) refresh: HashMap<String, RefreshGrant>,
    /// Refresh tokens rotated away, with their family.
    pub(crate) retired: HashMap<String, String>,
    pub(crate) codes: HashMap<String, CodeGrant>,
    pub(crate) devices: HashMap<String, DeviceGrant>,
    /// `jti` values of client assertions and DPoP proofs already used.
    pub(crate) seen_jti: std::collections::HashSet<String>,
    /// The nonce DPoP proofs must carry, when the server wants one.
    pub(crate) dpop_nonce: String,
}

/// Tokens issued by every instance of a group (a vendor's regions, say), so that one instance
/// can tell a token of a sibling from a token nobody issued.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    issued: Arc<Mutex<HashMap<String, String>>>,
}

impl Registry {
    pub(crate) fn record(&self, token: &str, instance: &str) {
        lock(&self.issued).insert(token.to_owned(), instance.to_owned());
    }

    /// The instance that issued `token`, if one of the group did.
    pub(crate) fn instance_of(&self, token: &str) -> Option<String> {
        lock(&self.issued).get(token).cloned()
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) struct ServerState {
    pub(crate) config: Config,
    pub(crate) base_url: String,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<Vec<FaultPlan>>,
    pub(crate) log: Mutex<VecDeque<LoggedRequest>>,
    pub(crate) counters: AtomicCounters,
    /// The group this instance belongs to, and its name in it.
    pub(crate) registry: Option<(Registry, String)>,
}

/// Most requests kept in the log; older ones are dropped.
const LOG_LIMIT: usize = 10_000;

impl ServerState {
    pub(crate) fn record(&self, request: LoggedRequest) {
        let mut log = lock(&self.log);
        if log.len() >= LOG_LIMIT {
            log.pop_front();
        }
        log.push_back(request);
    }

    /// The fault for this request, if one fires.
    pub(crate) fn take_fault(&self, target: Target) -> Option<crate::Fault> {
        let mut faults = lock(&self.faults);
        let fault = faults
            .iter_mut()
            .filter(|plan| plan.target == target)
            .find_map(|plan| plan.fires().then(|| plan.fault.clone()));
        faults.retain(|plan| !plan.is_spent());
        if fault.is_some() {
            AtomicCounters::bump(&self.counters.faults);
        }
        fault
    }

    /// Issues an access token (and a refresh token when asked, of `family` or a new one);
    /// returns both.
    pub(crate) fn issue(
        &self,
        client_id: &str,
        username: Option<&str>,
        scope: Option<&str>,
        with_refresh: bool,
        from_code: Option<&str>,
        family: Option<&str>,
    ) -> (String, Option<String>) {
        let access = random_token("at");
        let refresh = with_refresh.then(|| random_token("rt"));
        let family = family.map(str::to_owned).or_else(|| refresh.clone());
        let mut store = lock(&self.store);
        store.tokens.insert(
            access.clone(),
            Issued {
                client_id: client_id.to_owned(),
                username: username.map(str::to_owned),
                scope: scope.map(str::to_owned),
                expires_at: Instant::now() + self.config.token_lifetime,
                revoked: false,
                from_code: from_code.map(str::to_owned),
                family: family.clone(),
                jkt: None,
                resource: None,
            },
        );
        if let (Some(refresh), Some(family)) = (&refresh, family) {
            store.refresh.insert(
                refresh.clone(),
                RefreshGrant {
                    client_id: client_id.to_owned(),
                    username: username.map(str::to_owned),
                    scope: scope.map(str::to_owned),
                    family,
                    resource: None,
                },
            );
        }
        drop(store);
        if let Some((registry, instance)) = &self.registry {
            registry.record(&access, instance);
        }
        AtomicCounters::bump(&self.counters.tokens_issued);
        (access, refresh)
    }

    /// Records the resource an access token (and its refresh token) was issued for.
    pub(crate) fn bind_resource(
        &self,
        access: &str,
        refresh: Option<&str>,
        resource: Option<&str>,
    ) {
        let Some(resource) = resource else {
            return;
        };
        let mut store = lock(&self.store);
        if let Some(issued) = store.tokens.get_mut(access) {
            issued.resource = Some(resource.to_owned());
        }
        if let Some(grant) = refresh.and_then(|r| store.refresh.get_mut(r)) {
            grant.resource = Some(resource.to_owned());
        }
    }
}

/// A random opaque token: a prefix and 32 hex digits.
pub(crate) fn random_token(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut parts = [0u64; 2];
    for (i, part) in parts.iter_mut().enumerate() {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(n);
        hasher.write_usize(i);
        *part = hasher.finish();
    }
    format!("{prefix}_{:016x}{:016x}", parts[0], parts[1])
}

/// A user code for the device flow: eight letters without look-alikes, as `ABCD-EFGH`.
pub(crate) fn user_code() -> String {
    const LETTERS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let token = random_token("x");
    let digits = token.trim_start_matches("x_").as_bytes();
    let letters: String = digits
        .chunks(2)
        .take(8)
        .map(|pair| {
            let n = u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("0"), 16).unwrap_or(0);
            LETTERS[usize::from(n) % LETTERS.len()] as char
        })
        .collect();
    format!("{}-{}", &letters[..4], &letters[4..])
}
