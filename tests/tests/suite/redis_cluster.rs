//! A Redis Cluster of the test's own (3 masters), whose slots move while
//! events arrive: ingest follows `MOVED` and `ASK`, answers what it could
//! not store as unavailable (a script's keys mid-migration are `TRYAGAIN`),
//! and every event a client resends until it is taken counts exactly once.

use std::time::Duration;

use analytics_tests::private_servers::{free_port, redis_command, start_redis};
use analytics_tests::{event, eventually, TestEnv};
use tokio::process::Child;

/// One cluster node: its port and its process.
struct Node {
    port: u16,
    _process: Child,
}

async fn node_cmd<T: redis::FromRedisValue>(port: u16, args: &[&str]) -> anyhow::Result<T> {
    redis_command(&format!("redis://127.0.0.1:{port}/"), args).await
}

async fn start_cluster(dir: &std::path::Path) -> anyhow::Result<Vec<Node>> {
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let (port, bus) = (free_port()?, free_port()?);
        let conf = dir.join(format!("nodes-{port}.conf"));
        let conf = conf.to_string_lossy().to_string();
        let bus = bus.to_string();
        let process = start_redis(
            port,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &conf,
                "--cluster-port",
                &bus,
                "--cluster-node-timeout",
                "5000",
            ],
        )
        .await?;
        nodes.push(Node {
            port,
            _process: process,
        });
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = tokio::process::Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .await?;
    anyhow::ensure!(
        out.status.success(),
        "cluster create: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    for node in &nodes {
        eventually(Duration::from_secs(30), || async {
            let info: String = node_cmd(node.port, &["CLUSTER", "INFO"]).await?;
            Ok(info.contains("cluster_state:ok").then_some(()))
        })
        .await?;
    }
    Ok(nodes)
}

/// Moves `slot` from the node on `from` to the node on `to`, its keys
/// with it, as `redis-cli --cluster reshard` does.
async fn move_slot(slot: u16, from: u16, to: u16, all: &[u16]) -> anyhow::Result<()> {
    let slot = slot.to_string();
    let from_id: String = node_cmd(from, &["CLUSTER", "MYID"]).await?;
    let to_id: String = node_cmd(to, &["CLUSTER", "MYID"]).await?;
    let _: () = node_cmd(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id]).await?;
    let _: () = node_cmd(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id]).await?;
    loop {
        let keys: Vec<String> = node_cmd(from, &["CLUSTER", "GETKEYSINSLOT", &slot, "100"]).await?;
        if keys.is_empty() {
            break;
        }
        let to_port = to.to_string();
        let mut args = vec!["MIGRATE", "127.0.0.1", &to_port, "", "0", "5000", "KEYS"];
        args.extend(keys.iter().map(String::as_str));
        let _: () = node_cmd(from, &args).await?;
    }
    for port in all {
        let _: () = node_cmd(*port, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]).await?;
    }
    Ok(())
}

/// Posts one event until ingest takes it (202), as a producer resends
/// what was answered 503; returns whether it was taken as a duplicate.
async fn send_until_taken(app: &analytics_tests::Ingest, id: &str) -> anyhow::Result<bool> {
    eventually(Duration::from_secs(30), || async {
        let resp = app
            .post_as_producer(&event(id, "movie", "m-1", "view", 1))
            .await?;
        match resp.status().as_u16() {
            202 => Ok(Some(resp.headers().contains_key("x-analytics-duplicate"))),
            503 => {
                eprintln!("{id}: 503, resent");
                Ok(None)
            }
            other => anyhow::bail!("event {id}: {other} {}", resp.text().await?),
        }
    })
    .await
}

#[tokio::test]
async fn slots_moving_under_ingest_lose_and_double_nothing() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("analytics-test-cluster-{}", free_port()?));
    std::fs::create_dir_all(&dir)?;
    let nodes = start_cluster(&dir).await?;
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    let mut env = TestEnv::new().await?;
    let seeds = ports
        .iter()
        .map(|p| format!("127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    env.set("redis.cluster_nodes", seeds)
        .set("ingest.retry_after_seconds", "1");
    env.migrate().await?;
    let app = env.spawn_ingest().await?;
    for i in 0..40 {
        assert!(!send_until_taken(&app, &format!("before-{i}")).await?);
    }

    // Every partition's slot moves to the next node while new events and
    // retries of counted ones arrive: a retry must stay a duplicate while
    // its dedupe entry is on the move.
    let app = &app;
    let sender = {
        let one = |from: usize| async move {
            for i in (from..120).step_by(8) {
                assert!(!send_until_taken(app, &format!("during-{i}")).await?);
                let retry = format!("before-{}", i % 40);
                assert!(
                    send_until_taken(app, &retry).await?,
                    "{retry} counted twice"
                );
            }
            anyhow::Ok(())
        };
        async move {
            // Eight producers at once, so requests meet every slot mid-move.
            for sent in futures_util::future::join_all((0..8).map(one)).await {
                sent?;
            }
            anyhow::Ok(())
        }
    };
    let mover = async {
        for p in 0..16u16 {
            let tag = format!("{{{p}}}");
            let slot: u16 = node_cmd(ports[0], &["CLUSTER", "KEYSLOT", &tag]).await?;
            let mut owner = None;
            for port in &ports {
                let nodes: String = node_cmd(*port, &["CLUSTER", "NODES"]).await?;
                let mine = nodes
                    .lines()
                    .find(|l| l.contains("myself"))
                    .is_some_and(|l| owns(l, slot));
                if mine {
                    owner = Some(*port);
                }
            }
            let from = owner.ok_or_else(|| anyhow::anyhow!("no owner of slot {slot}"))?;
            let to = ports[(ports.iter().position(|p| *p == from).unwrap_or(0) + 1) % 3];
            move_slot(slot, from, to, &ports).await?;
        }
        anyhow::Ok(())
    };
    let (sent, moved) = tokio::join!(sender, mover);
    sent?;
    moved?;
    for i in 0..40 {
        assert!(!send_until_taken(app, &format!("after-{i}")).await?);
    }
    // Each event once more: all duplicates.
    for id in ["before-7", "during-9", "after-3"] {
        let resp = app
            .post_as_producer(&event(id, "movie", "m-1", "view", 1))
            .await?;
        assert_eq!(resp.headers()["x-analytics-duplicate"], "true", "{id}");
    }
    env.flush_until_clean().await?;
    assert_eq!(
        env.totals("movie", "m-1")
            .await?
            .get(analytics_domain::Action::View),
        40 + 120 + 40
    );
    drop(nodes);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

/// Whether a `CLUSTER NODES` line's slot ranges hold `slot`.
fn owns(line: &str, slot: u16) -> bool {
    line.split_whitespace().skip(8).any(|range| {
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        match (lo.parse::<u16>(), hi.parse::<u16>()) {
            (Ok(lo), Ok(hi)) => (lo..=hi).contains(&slot),
            _ => false,
        }
    })
}
