//! Tokens for many keys at once: one cache per key, bounded, idle keys evicted.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use crate::cache::clock::ClockSource;
use crate::{AccessToken, Cached, Error, TokenProvider, TokenSource};

type Make<K, S> = dyn Fn(&K) -> Result<Cached<S>, Error> + Send + Sync;

/// Tokens for many keys: one per scope set, audience or resource, or one per customer of a
/// multi-tenant integration. Each key gets its own [`Cached`] (its own single flight, refresh
/// ahead and backoff), made on first use by the function given; the manager holds at most
/// `capacity` keys, dropping those idle longest when it must.
///
/// ```
/// use std::sync::Arc;
/// use tokensmith_core::{AccessToken, Cached, Error, TokenManager, TokenSource};
///
/// struct PerTenant(String);
///
/// #[async_trait::async_trait]
/// impl TokenSource for PerTenant {
///     async fn fetch(&self) -> Result<AccessToken, Error> {
///         AccessToken::bearer(format!("token-for-{}", self.0))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Error> {
/// let manager = Arc::new(
///     TokenManager::new(|tenant: &String| Ok(Cached::new(PerTenant(tenant.clone())))).capacity(10_000),
/// );
/// let acme = manager.token(&"acme".to_owned()).await?;
/// // A provider for one key, for the middleware (`RequestAuth::With`) or a client:
/// let globex = manager.provider("globex".to_owned());
/// # let _ = (acme, globex);
/// # Ok(())
/// # }
/// ```
pub struct TokenManager<K, S: TokenSource> {
    make: Box<Make<K, S>>,
    slots: RwLock<HashMap<K, Slot<S>>>,
    capacity: usize,
    idle: Duration,
}

struct Slot<S: TokenSource> {
    cache: Cached<S>,
    /// The coarse monotonic clock at the last use, in nanoseconds.
    used: AtomicU64,
}

fn now() -> u64 {
    ClockSource::System.read().mono
}

impl<K, S> TokenManager<K, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    S: TokenSource,
{
    /// A manager that makes the cache of a key with `make` (which may configure it with
    /// `Cached::builder`); 1,024 keys at most, keys idle for an hour dropped first.
    pub fn new(make: impl Fn(&K) -> Result<Cached<S>, Error> + Send + Sync + 'static) -> Self {
        Self {
            make: Box::new(make),
            slots: RwLock::new(HashMap::new()),
            capacity: 1024,
            idle: Duration::from_secs(3600),
        }
    }

    /// Holds at most this many keys (at least 1).
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// When full, drops the keys unused this long before any other (at least a second: a
    /// shorter time would take every key for idle and empty a full manager at each new key).
    pub fn idle_eviction(mut self, idle: Duration) -> Result<Self, Error> {
        if idle < Duration::from_secs(1) {
            return Err(Error::config(format!(
                "the idle time before eviction must be at least one second, not {idle:?}"
            )));
        }
        self.idle = idle;
        Ok(self)
    }

    /// The cache of `key`, if it has one now (made by an earlier call, not evicted since).
    pub fn existing(&self, key: &K) -> Option<Cached<S>> {
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        slots.get(key).map(|slot| {
            slot.used.store(now(), Ordering::Relaxed);
            slot.cache.clone()
        })
    }

    /// The cache of `key`, made now if it has none.
    pub fn cache(&self, key: &K) -> Result<Cached<S>, Error> {
        if let Some(cache) = self.existing(key) {
            return Ok(cache);
        }
        let cache = (self.make)(key)?;
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = slots.get(key) {
            // Made by another caller meanwhile: one cache per key.
            return Ok(slot.cache.clone());
        }
        if slots.len() >= self.capacity {
            self.evict(&mut slots);
        }
        slots.insert(
            key.clone(),
            Slot {
                cache: cache.clone(),
                used: AtomicU64::new(now()),
            },
        );
        Ok(cache)
    }

    /// Drops the keys idle too long; when none is, the least recently used sixteenth (at least
    /// one), so that a full manager does not sort on every new key. A key whose cache is in
    /// use (a caller holds it, a fetch may be running) is never dropped: a caller after it
    /// would get a second cache, and a second fetch. With every key in use the manager holds
    /// more than its capacity until they are done.
    fn evict(&self, slots: &mut HashMap<K, Slot<S>>) {
        let now = now();
        let idle = u64::try_from(self.idle.as_nanos()).unwrap_or(u64::MAX);
        let in_use = |slot: &Slot<S>| slot.cache.in_use();
        let before = slots.len();
        slots.retain(|_, slot| {
            in_use(slot) || now.saturating_sub(slot.used.load(Ordering::Relaxed)) < idle
        });
        if slots.len() < before && slots.len() < self.capacity {
            return;
        }
        let mut by_use: Vec<(u64, K)> = slots
            .iter()
            .filter(|(_, slot)| !in_use(slot))
            .map(|(key, slot)| (slot.used.load(Ordering::Relaxed), key.clone()))
            .collect();
        by_use.sort_unstable_by_key(|(used, _)| *used);
        let drop = (slots.len() / 16).max((slots.len() + 1).saturating_sub(self.capacity));
        for (_, key) in by_use.into_iter().take(drop) {
            slots.remove(&key);
        }
    }

    /// A valid token for `key`.
    pub async fn token(&self, key: &K) -> Result<AccessToken, Error> {
        self.cache(key)?.token().await
    }

    /// A provider of `key`'s tokens, for the middleware or a client.
    pub fn provider(self: &Arc<Self>, key: K) -> Arc<dyn TokenProvider> {
        Arc::new(KeyProvider {
            manager: Arc::clone(self),
            key,
        })
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether it holds no key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops `key`'s cache.
    pub fn remove(&self, key: &K) {
        self.slots
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

impl<K, S: TokenSource> fmt::Debug for TokenManager<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self
            .slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("TokenManager")
            .field("keys", &len)
            .field("capacity", &self.capacity)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

/// One key of a [`TokenManager`], as a provider.
struct KeyProvider<K, S: TokenSource> {
    manager: Arc<TokenManager<K, S>>,
    key: K,
}

#[async_trait]
impl<K, S> TokenProvider for KeyProvider<K, S>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    S: TokenSource,
{
    async fn token(&self) -> Result<AccessToken, Error> {
        self.manager.token(&self.key).await
    }

    /// An evicted key's token is gone already: nothing is made for it.
    fn invalidate(&self, rejected: &AccessToken) {
        if let Some(cache) = self.manager.existing(&self.key) {
            cache.invalidate(rejected);
        }
    }

    /// `None` for an evicted key (its next `token` makes its cache again), without making one:
    /// a look never evicts another key.
    fn current(&self) -> Option<AccessToken> {
        self.manager.existing(&self.key)?.current()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    struct Counting {
        key: u32,
        made: Arc<AtomicU32>,
    }

    #[async_trait]
    impl TokenSource for Counting {
        async fn fetch(&self) -> Result<AccessToken, Error> {
            AccessToken::builder(format!("token-{}", self.key))
                .expires_in(Duration::from_secs(3600))
                .build()
        }
    }

    fn manager(capacity: usize) -> (TokenManager<u32, Counting>, Arc<AtomicU32>) {
        let made = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&made);
        let manager = TokenManager::new(move |key: &u32| {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(Cached::new(Counting {
                key: *key,
                made: Arc::clone(&counter),
            }))
        })
        .capacity(capacity);
        (manager, made)
    }

    #[tokio::test]
    async fn each_key_has_its_own_cache_made_once() {
        let (manager, made) = manager(10);
        for _ in 0..3 {
            for key in 0..5 {
                let token = manager.token(&key).await.unwrap();
                assert_eq!(token.secret().expose_secret(), format!("token-{key}"));
            }
        }
        assert_eq!(made.load(Ordering::SeqCst), 5);
        assert_eq!(manager.len(), 5);
        let first = manager.cache(&1).unwrap();
        assert_eq!(first.stats().fetches, 1, "one fetch per key, then hits");
        let _ = first.source().made.load(Ordering::SeqCst);
    }

    #[tokio::test]
    async fn it_stays_within_capacity_keeping_the_keys_in_use() {
        let (manager, _) = manager(100);
        // Two generations, a few clock ticks apart (recency is kept at the coarse clock's
        // resolution).
        for key in 0..50 {
            manager.token(&key).await.unwrap();
        }
        std::thread::sleep(Duration::from_millis(30));
        for key in 50..100 {
            manager.token(&key).await.unwrap();
        }
        std::thread::sleep(Duration::from_millis(30));
        manager.token(&0).await.unwrap();
        manager.token(&1000).await.unwrap();
        let slots = manager.slots.read().unwrap();
        assert!(slots.len() <= 100 && slots.len() >= 90, "{}", slots.len());
        assert!(slots.contains_key(&0), "used again");
        assert!(slots.contains_key(&1000));
        assert!(
            (50..100).all(|key| slots.contains_key(&key)),
            "the newer generation stays"
        );
        assert!(
            (1..50).any(|key| !slots.contains_key(&key)),
            "the older one goes first"
        );
    }

    #[tokio::test]
    async fn looking_at_or_invalidating_an_evicted_key_evicts_no_other() {
        let (manager, made) = manager(2);
        let manager = Arc::new(manager);
        let first = manager.provider(1);
        let token = first.token().await.unwrap();
        manager.token(&2).await.unwrap();
        std::thread::sleep(Duration::from_millis(30));
        manager.token(&2).await.unwrap();
        manager.token(&3).await.unwrap();
        assert!(
            manager.existing(&1).is_none(),
            "1 was the least recently used"
        );
        assert_eq!(made.load(Ordering::SeqCst), 3);
        assert!(first.current().is_none());
        first.invalidate(&token);
        assert_eq!(made.load(Ordering::SeqCst), 3, "nothing made for a look");
        assert!(manager.existing(&2).is_some() && manager.existing(&3).is_some());
        assert_eq!(manager.len(), 2);
    }

    #[tokio::test]
    async fn a_key_in_use_is_not_evicted() {
        let (manager, made) = manager(1);
        let held = manager.cache(&1).unwrap();
        manager.token(&2).await.unwrap();
        assert!(
            manager.existing(&1).is_some(),
            "in use: kept past the capacity"
        );
        let again = manager.cache(&1).unwrap();
        assert!(
            Cached::ptr_eq(&held, &again),
            "one cache per key, so one fetch"
        );
        assert_eq!(made.load(Ordering::SeqCst), 2);
        drop((held, again));
        manager.token(&3).await.unwrap();
        assert!(
            manager.len() <= 2,
            "back within bounds once unused: {}",
            manager.len()
        );
        assert!(
            TokenManager::new(|_: &u32| -> Result<Cached<Counting>, Error> { unreachable!() })
                .idle_eviction(Duration::ZERO)
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_key_provider_follows_its_key() {
        let (manager, _) = manager(4);
        let manager = Arc::new(manager);
        let provider = manager.provider(7);
        let token = provider.token().await.unwrap();
        assert!(provider.current().unwrap().same_as(&token));
        provider.invalidate(&token);
        assert!(provider.current().is_none());
        assert!(format!("{manager:?}").contains("keys: 1"));
    }
}
