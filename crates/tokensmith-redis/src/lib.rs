//! A token cache shared by a fleet of replicas through Redis: one token fetch per key per
//! token lifetime for the whole fleet, refresh ahead once for the fleet, rotating refresh
//! tokens used once, tokens sealed at rest, and never a single point of failure.
//!
//! - [`RedisCache`]: the connection (lazy, every command bounded by a short timeout), the
//!   [`SealingKey`], and the settings.
//! - [`FleetSource`]: a [`TokenSource`](tokensmith_core::TokenSource) that goes to Redis before
//!   its source; put it under [`Cached`](tokensmith_core::Cached) so that a hit in memory
//!   never touches Redis.
//!
//! # How the fleet fetches once
//! A replica whose memory has no usable token reads Redis. A token there that it has not handed
//! out yet is taken as it is. Otherwise it takes the key's lock (`SET NX PX`, a random owner;
//! a `SET` retried after a dropped connection recognises the lock it set), reads again,
//! fetches from the source while renewing the lease every third of it (compare-and-extend), writes
//! the token sealed with a TTL of its remaining lifetime minus a skew, writes the source's
//! shared state (a rotating refresh token) before unlocking, and unlocks with a
//! compare-and-delete. The other replicas poll the token and the lock together (one round
//! trip, 10 ms doubling to 200 ms) and take what it wrote. Polling, not pub/sub: it needs no
//! second connection per replica, cannot miss a notification sent before a replica
//! subscribed, and works the same on a Cluster; a fetch happens once per token lifetime, so its
//! cost is a handful of round trips per replica per lifetime.
//!
//! # A lock that cannot stall the fleet
//! A replica waits for another's fetch at most its `lock_wait` (3 s by default, always under the
//! cache's 30 s load timeout), then fetches alone (still one fetch at a time within the
//! process) and says so once: a replica killed while holding the lock costs the others that
//! much latency and no error. A holder renews its lease every third of the lock wait while it
//! fetches; a waiter that sees the lease renewed knows the holder is alive (a slow endpoint, a
//! `Retry-After` honoured inside the fetch) and waits on, up to 25 s in all. A lock with no expiry, or one longer than the lease, is taken for
//! broken: it is removed and the replica fetches at once. Where the server refuses scripts (an
//! ACL without `EVAL`, some managed Redis and Valkey offerings), this is said once at the first
//! release, and locks are left to expire with their lease instead of being released or
//! renewed: waiters still take the token as soon as it is written.
//!
//! # One clock for the fleet
//! A token is kept with its issue time and expiry on Redis's clock (`TIME`, read in the same
//! round trip as the token), never a replica's wall clock: replicas whose clocks run ahead or
//! behind agree on every expiry. A replica reading a token gets its whole lifetime, not what
//! is left, and applies its own skew and refresh window to it, so none refreshes early.
//!
//! # Throttling shared by the fleet
//! When the fetch a replica makes for the fleet fails with a temporary error (429 or 503 with
//! `Retry-After`, a 5xx, a timeout), the wait is written to Redis under the key's hash tag
//! (sealed): the server's `Retry-After`, up to five minutes, or 1 s doubling with the failures
//! in a row. Until it ends no replica asks the token endpoint for that key; each gets an error
//! saying the fleet is waiting, with [`Error::retry_after`](tokensmith_core::Error::retry_after)
//! set. So 64 replicas send one request per backoff period, not 64.
//!
//! # When Redis is away
//! A Redis error or a command that takes longer than the timeout (50 ms by default) makes that
//! fetch a local one: the replica fetches from its source (still one fetch at a time inside the
//! process), logs once, and uses Redis again when it answers. While Redis is away, replicas
//! sharing a rotating refresh token may each use it; a server that revokes a grant on reuse
//! then signs the session out.
//!
//! # Whose tokens
//! A key names everything that makes a token differ (see `TokenSource::identity`). A session
//! that acts for a user it does not name (one continued from a refresh token) is refused by
//! [`RedisCache::share`]: share it with [`RedisCache::share_as`] and that user's or session's
//! own id, or one user could be handed another's tokens.
//!
//! # What someone who can write to Redis can and cannot do
//! Values are sealed with an AEAD under a key Redis never sees, bound to their Redis key: a
//! value cannot be read, forged, or moved to another key (another client, scope or user); it
//! opens only where it was written. The shared refresh token carries a generation: a replica
//! never adopts one older than the one it wrote or took, so putting back an older sealed value
//! (whose refresh token was used) cannot make it reuse a refresh token; a replica that starts
//! fresh has nothing to compare with and may take such a value once. Garbage is ignored. What
//! such a writer can do is deny service: delete values (each replica then fetches for
//! itself), hold a lock (a replica waits its lock wait, then fetches alone), or write a
//! backoff it cannot seal (ignored). Use `rediss://` (TLS) where the network path is not
//! trusted, and an ACL user limited to the prefix's keys.
//!
//! A rotated refresh token is confirmed written before the lock is released: the holder tries
//! again, within its lock wait, while Redis is slow or paused, and keeps the lock until its
//! lease ends rather than hand it on unconfirmed.
//!
//! # Keys and secrets
//! Keys look like `tokensmith:{<32 hex digits>}:token` (and `:lock`, `:state`): the digits are
//! an HMAC, under a key derived from the [`SealingKey`], of what identifies the token (endpoint,
//! client, scopes, user, and the client secret and password as digest input only). The braces
//! are a Cluster hash tag: a token's value, lock, state and backoff share a slot. Values are
//! sealed with XChaCha20-Poly1305 under another derived key, bound to their Redis key.
//!
//! # Cluster, Valkey, Sentinel, TLS
//! - A Redis Cluster: [`RedisCache::cluster_builder`] with any of its nodes. Commands follow
//!   the slots, `MOVED` and `ASK` while a slot migrates, and the new topology after a
//!   failover. While a token's slot migrates, Redis refuses the commands that read several of
//!   its keys (`TRYAGAIN`): replicas that come then fetch alone, without an error. Tested on
//!   three masters with a replica each, through a slot migration and a master killed.
//! - Valkey speaks the same protocol: point the URL (or the cluster nodes) at it.
//! - Sentinel: point the URL at an address that follows the primary (a service name or proxy
//!   that Sentinel updates); a failover is an outage of a few seconds, during which replicas
//!   fetch alone.
//! - TLS: `rediss://` URLs, against the system's certificate authorities or
//!   [`RedisCacheBuilder::tls_root_certificates`].
//!
//! # Example
//! See [`RedisCache`], and `examples/fleet.rs`.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod fleet;
mod metrics;
mod seal;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use crate::cache::{RedisCache, RedisCacheBuilder};
pub use crate::fleet::{FleetSource, FleetStats};
pub use crate::seal::SealingKey;
