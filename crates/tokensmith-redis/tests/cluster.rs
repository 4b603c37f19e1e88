//! The fleet on a real Redis Cluster on 127.0.0.1 (three masters, a replica each): one slot
//! per identity, a slot migrating under the replicas (`ASK`, then `MOVED`), and a master
//! killed while they share a token.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokensmith_core::{AccessToken, Cached, Error, TokenSource};
use tokensmith_redis::testing::RedisCluster;
use tokensmith_redis::{FleetSource, RedisCache, SealingKey};

#[derive(Clone)]
struct Issuer {
    fetches: Arc<AtomicU32>,
}

#[async_trait]
impl TokenSource for Issuer {
    async fn fetch(&self) -> Result<AccessToken, Error> {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
        AccessToken::builder(format!("token-{n}"))
            .expires_in(Duration::from_secs(3600))
            .build()
    }
}

fn replica(cluster: &RedisCluster, issuer: &Issuer) -> Cached<FleetSource<Issuer>> {
    Cached::new(
        RedisCache::cluster_builder(cluster.urls(), SealingKey::from_bytes([9; 32]))
            .op_timeout(Duration::from_millis(1000))
            .build()
            .unwrap()
            .share_as("orders-api", issuer.clone()),
    )
}

/// One command to the node on `port`, through a plain connection (no redirects followed).
async fn on_node(port: u16, cmd: &mut redis::Cmd) -> redis::RedisResult<redis::Value> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let mut connection = client.get_multiplexed_async_connection().await?;
    cmd.query_async(&mut connection).await
}

fn text(value: &redis::Value) -> String {
    match value {
        redis::Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        redis::Value::VerbatimString { text, .. } => text.clone(),
        redis::Value::SimpleString(text) => text.clone(),
        other => format!("{other:?}"),
    }
}

/// `(node id, port, is master, slots)` of every node, from `CLUSTER NODES`.
async fn nodes(port: u16) -> Vec<(String, u16, bool, String)> {
    let listing = text(
        &on_node(port, redis::cmd("CLUSTER").arg("NODES"))
            .await
            .unwrap(),
    );
    listing
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = fields.get(1)?.split(['@', ':']).nth(1)?.parse().ok()?;
            let master = fields.get(2)?.contains("master") && !fields[2].contains("fail");
            let slots = fields.get(8..).map(|s| s.join(" ")).unwrap_or_default();
            Some((fields[0].to_owned(), port, master, slots))
        })
        .collect()
}

/// The master (id, port) that serves `slot`, if a live one does.
async fn owner(port: u16, slot: i64) -> Option<(String, u16)> {
    for (id, node_port, master, slots) in nodes(port).await {
        if !master {
            continue;
        }
        for range in slots.split_whitespace().filter(|r| !r.starts_with('[')) {
            let (low, high) = match range.split_once('-') {
                Some((low, high)) => (low.parse().unwrap_or(-1), high.parse().unwrap_or(-1)),
                None => {
                    let one = range.parse().unwrap_or(-1);
                    (one, one)
                }
            };
            if (low..=high).contains(&slot) {
                return Some((id, node_port));
            }
        }
    }
    None
}

async fn slot_of(port: u16, key: &str) -> i64 {
    match on_node(port, redis::cmd("CLUSTER").arg("KEYSLOT").arg(key))
        .await
        .unwrap()
    {
        redis::Value::Int(slot) => slot,
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_shares_through_a_cluster_while_a_slot_migrates_and_a_master_fails() {
    let mut cluster = RedisCluster::start().await.unwrap();
    let any = cluster.ports()[0];
    let issuer = Issuer {
        fetches: Arc::new(AtomicU32::new(0)),
    };

    // Eight replicas, one fetch; every key of the identity in one slot.
    let fleet: Vec<_> = (0..8).map(|_| replica(&cluster, &issuer)).collect();
    for replica in &fleet {
        assert_eq!(
            replica.token().await.unwrap().secret().expose_secret(),
            "token-1"
        );
    }
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1);
    let token_key = fleet[0].source().redis_key().to_owned();
    let slot = slot_of(any, &token_key).await;
    for suffix in [":lock", ":state", ":backoff"] {
        let key = token_key.replace(":token", suffix);
        assert_eq!(slot_of(any, &key).await, slot, "{key}");
    }

    // The slot migrates to another master while new replicas read it: `ASK` while it moves,
    // `MOVED` after. While it moves, Redis refuses commands on several keys of the slot that
    // are not all on one side (`TRYAGAIN`), and a replica fetches alone: a token, no error.
    let (source_id, source_port) = owner(any, slot).await.expect("the slot is served");
    let (target_id, target_port) = nodes(any)
        .await
        .into_iter()
        // A master serving slots: right after the cluster is made, a replica may still
        // show as a master without any.
        .find(|(id, _, master, slots)| *master && !slots.is_empty() && *id != source_id)
        .map(|(id, port, _, _)| (id, port))
        .unwrap();
    let setslot = |state: &str, id: &str| {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SETSLOT").arg(slot).arg(state).arg(id);
        cmd
    };
    on_node(target_port, &mut setslot("IMPORTING", &source_id))
        .await
        .unwrap();
    on_node(source_port, &mut setslot("MIGRATING", &target_id))
        .await
        .unwrap();
    let moving = replica(&cluster, &issuer);
    moving
        .token()
        .await
        .expect("no error while the slot migrates");
    on_node(
        source_port,
        redis::cmd("MIGRATE")
            .arg("127.0.0.1")
            .arg(target_port)
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS")
            .arg(&token_key),
    )
    .await
    .unwrap();
    let during = replica(&cluster, &issuer);
    during.token().await.expect("no error while the keys move");
    for port in cluster.ports() {
        let _ = on_node(port, &mut setslot("NODE", &target_id)).await;
    }
    let after = replica(&cluster, &issuer);
    assert_eq!(
        after.token().await.unwrap().secret().expose_secret(),
        "token-1",
        "the migrated token, read on its new master after MOVED"
    );
    assert_eq!(after.source().stats().redis_hits, 1);
    let fetched = issuer.fetches.load(Ordering::SeqCst);
    assert!(
        fetched <= 3,
        "at most one fetch per replica that came during the move: {fetched}"
    );

    // The master of the slot dies: replicas keep serving from memory, a new one gets a token
    // without an error (alone while the cluster fails over), and once a replica took over
    // the slot the fleet reads it there again.
    cluster.kill(target_port).await;
    let started = Instant::now();
    for replica in &fleet {
        replica.token().await.unwrap();
    }
    let newcomer = replica(&cluster, &issuer);
    newcomer.token().await.unwrap();
    let alive = cluster.ports()[0];
    // Failed over once a replica serves the slot and the cluster says ok again.
    loop {
        let served_elsewhere = owner(alive, slot)
            .await
            .is_some_and(|(_, port)| port != target_port);
        if served_elsewhere && cluster.is_ok().await {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no failover within 30 s: {}, ok: {}",
            text(
                &on_node(alive, redis::cmd("CLUSTER").arg("NODES"))
                    .await
                    .unwrap()
            ),
            cluster.is_ok().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let later = replica(&cluster, &issuer);
    let mut read = None;
    for _ in 0..50 {
        if let Ok(token) = later.token().await {
            read = Some(token);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(read.is_some(), "a token after the failover");
    assert!(
        issuer.fetches.load(Ordering::SeqCst) <= fetched + 2,
        "fetches: {}",
        issuer.fetches.load(Ordering::SeqCst)
    );
}
