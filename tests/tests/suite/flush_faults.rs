//! Faults found by probing the flush from outside: a run under continuous
//! ingest, shards side by side, a transaction a killed run left open, and
//! MySQL out. Each test failed on the code before its fix.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use analytics_domain::{Action, EntityType, Event};
use analytics_tests::{count_in_redis, jav_entity, TestEnv};

/// Counts views of `movies[i % len]` now, straight into Redis with the real
/// ingest script; returns the views per movie.
async fn ingest_views(
    counters: &analytics_store::HotCounters,
    prefix: &str,
    movies: &[String],
    events: usize,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut counted = BTreeMap::new();
    for i in 0..events {
        let id = &movies[i % movies.len()];
        let event = Event {
            event_id: format!("{prefix}-{i}"),
            entity: jav_entity(EntityType::Movie, id),
            action: Action::View,
            value: 1,
            occurred_at: chrono::Utc::now().fixed_offset(),
            user_id: None,
            details: Default::default(),
        };
        count_in_redis(counters, &event).await?;
        *counted.entry(id.clone()).or_insert(0) += 1;
    }
    Ok(counted)
}

fn add(into: &mut BTreeMap<String, i64>, from: BTreeMap<String, i64>) {
    for (k, v) in from {
        *into.entry(k).or_insert(0) += v;
    }
}

async fn assert_views(env: &TestEnv, expected: &BTreeMap<String, i64>) -> anyhow::Result<()> {
    for (id, views) in expected {
        let totals = env.totals("movie", id).await?;
        assert_eq!(totals.get(Action::View), *views, "views of {id}");
    }
    Ok(())
}

fn movies(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m-{i}")).collect()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test]
async fn a_flush_started_under_continuous_ingest_ends_and_leaves_newer_keys_for_the_next_run(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    // A budget far beyond the test's patience: the run must end by itself.
    env.set("flush.batch_size", "40")
        .set("flush.max_run_seconds", "600")
        .set("flush.lease_ttl_ms", "30000");
    env.migrate().await?;
    let counters = env.hot_counters()?;
    let ids = movies(300);
    let mut expected = ingest_views(&counters, "backlog", &ids, 1500).await?;

    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn({
        let (counters, ids, stop) = (counters.clone(), ids.clone(), stop.clone());
        async move {
            let mut counted = BTreeMap::new();
            let mut round = 0;
            while !stop.load(Ordering::Relaxed) {
                add(
                    &mut counted,
                    ingest_views(&counters, &format!("live{round}"), &ids, 50).await?,
                );
                round += 1;
            }
            anyhow::Ok(counted)
        }
    });
    let run = tokio::time::timeout(
        Duration::from_secs(120),
        env.flush_worker(&["flush"], &[("RUST_LOG", "flush_worker=info")]),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let during = load.await??;
    let out = run.map_err(|_| anyhow::anyhow!("the flush did not end while ingest went on"))??;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("\"out_of_time\":false"),
        "{}",
        stderr(&out)
    );
    assert!(!during.is_empty(), "ingest ran during the flush");

    add(&mut expected, during);
    env.flush_until_clean().await?;
    assert_views(&env, &expected).await
}

#[tokio::test]
async fn shards_side_by_side_never_abort_on_write_conflicts() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("flush.batch_size", "10")
        .set("flush.lease_ttl_ms", "30000");
    env.migrate().await?;
    let counters = env.hot_counters()?;
    let ids = movies(60);
    let mut expected = BTreeMap::new();
    for round in 0..4 {
        add(
            &mut expected,
            ingest_views(&counters, &format!("r{round}"), &ids, 600).await?,
        );
        let (a, b) = tokio::join!(
            env.flush_worker(&["flush", "--partitions", "0-7"], &[]),
            env.flush_worker(&["flush", "--partitions", "8-15"], &[])
        );
        for (shard, out) in [("0-7", a?), ("8-15", b?)] {
            assert!(
                out.status.success(),
                "round {round}, shard {shard}: {}",
                stderr(&out)
            );
        }
    }
    env.flush_until_clean().await?;
    assert_views(&env, &expected).await
}

#[tokio::test]
async fn a_transaction_left_open_by_a_killed_flush_delays_the_next_run_without_failing_it(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    // A conflicting attempt can take a while on the server: a lease long
    // enough to outlive one (the killed run's expires just as fast).
    env.set("flush.batch_size", "1000")
        .set("flush.lease_ttl_ms", "3000");
    env.migrate().await?;
    let counters = env.hot_counters()?;
    let expected = ingest_views(&counters, "k", &movies(20), 200).await?;
    let keys = env.dirty_keys().await?;

    let killed = env
        .flush_worker(&["flush"], &[("ANALYTICS_FLUSH_FAULT", "in-transaction")])
        .await?;
    assert_eq!(
        killed.status.code(),
        Some(flush_worker::fault::EXIT_CODE),
        "{}",
        stderr(&killed)
    );
    // The killed run's lease expires in 3 s; its transaction stays open
    // on the server until the server expires it.
    env.leases_expired().await?;
    let pipeline = env.pipeline_verdict().await?;
    assert_eq!(pipeline["healthy"], false, "{pipeline}");
    assert!(
        pipeline["problems"]
            .to_string()
            .contains("a stopped flush left open batches on partitions"),
        "{pipeline}"
    );
    let next = env
        .flush_worker(&["flush"], &[("RUST_LOG", "flush_worker=info")])
        .await?;
    assert!(next.status.success(), "{}", stderr(&next));
    assert_eq!(
        String::from_utf8_lossy(&next.stdout),
        format!("Flushed {keys} keys, 0 errors.\n")
    );
    assert!(
        stderr(&next).contains("round transaction conflicted; retrying"),
        "the abandoned transaction was in the way: {}",
        stderr(&next)
    );
    assert_views(&env, &expected).await
}

#[tokio::test]
async fn with_mysql_out_the_flush_applies_the_rollups_and_a_later_run_writes_the_replicas(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("flush.lease_ttl_ms", "30000");
    env.migrate().await?;
    env.insert_movies(&[("m-0", "MY-0", 0, 0), ("m-1", "MY-1", 0, 0)])
        .await?;
    let counters = env.hot_counters()?;
    let expected = ingest_views(&counters, "my", &movies(3), 30).await?;
    let keys = env.dirty_keys().await?;

    let real_mysql = env.mysql_url.clone();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    env.set(
        "mysql.url",
        format!("mysql://analytics:analytics@127.0.0.1:{closed_port}/x"),
    )
    .set("mysql.connect_timeout_ms", "200");
    let out = env
        .flush_worker(&["flush"], &[("RUST_LOG", "flush_worker=info")])
        .await?;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Flushed {keys} keys, 0 errors.\n")
    );
    // Every movie of the round waits, m-2 too: only MySQL knows it has no row.
    assert!(
        stderr(&out).contains("\"replicas_deferred\":3"),
        "{}",
        stderr(&out)
    );
    assert_views(&env, &expected).await?;
    assert_eq!(env.replica("m-0").await?, Some((0, 0)), "not written yet");

    let health = env.pipeline_verdict().await?;
    assert_eq!(health["backlog"]["replicas_waiting"], 3, "{health}");
    // The raw event log waits in Redis too, and says so.
    assert_eq!(health["backlog"]["log_waiting"], 30, "{health}");
    let problems = health["problems"].to_string();
    assert!(problems.contains("3 movie replicas"), "{health}");
    assert!(problems.contains("raw event log"), "{health}");

    env.set("mysql.url", real_mysql)
        .set("mysql.connect_timeout_ms", "2000");
    env.flush_finds_nothing().await?;
    assert_eq!(env.replica("m-0").await?, Some((expected["m-0"], 0)));
    assert_eq!(env.replica("m-1").await?, Some((expected["m-1"], 0)));
    assert_eq!(env.logged_events().await?, 30);
    assert_eq!(env.pipeline_verdict().await?["backlog"]["log_waiting"], 0);
    let parity = env.flush_worker(&["parity-check"], &[]).await?;
    assert!(
        parity.status.success(),
        "{}",
        String::from_utf8_lossy(&parity.stdout)
    );
    Ok(())
}

/// The run ids holding this test's flush leases, one per leased partition.
async fn lease_holders(env: &TestEnv) -> anyhow::Result<Vec<String>> {
    let mut redis = env.redis().await?;
    let mut holders = Vec::new();
    for key in env.redis_keys().await? {
        if key.ends_with(":flush:lease") {
            let holder: Option<String> =
                redis::cmd("GET").arg(&key).query_async(&mut redis).await?;
            holders.extend(holder);
        }
    }
    Ok(holders)
}

#[tokio::test]
async fn a_run_held_up_by_a_slow_store_keeps_its_leases_and_ends_without_error(
) -> anyhow::Result<()> {
    // Each round stalls 5 s inside its transaction, five times the tests'
    // 1 s lease: the run must keep all 16 partitions through it (a second
    // flusher finds them taken) and end with no error. Before the leases
    // were renewed on a clock, they expired in the stall and the run lost
    // its batches' delete to the fencing.
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let counters = env.hot_counters()?;
    let expected = ingest_views(&counters, "slow", &movies(4), 8).await?;
    let keys = env.dirty_keys().await?;

    let slow = env.flush_worker(
        &["flush"],
        &[
            (flush_worker::fault::STALL_VAR, "5000"),
            ("RUST_LOG", "flush_worker=info"),
        ],
    );
    let meanwhile = async {
        let holder = analytics_tests::eventually(Duration::from_secs(20), || async {
            let holders = lease_holders(&env).await?;
            Ok((holders.len() == 16).then(|| holders[0].clone()))
        })
        .await?;
        // Watched for two and a half lease lifetimes, the leases stay the
        // slow run's.
        let watched = std::time::Instant::now();
        while watched.elapsed() < Duration::from_millis(2500) {
            let holders = lease_holders(&env).await?;
            assert_eq!(
                holders,
                vec![holder.clone(); 16],
                "the slow run's leases {:?} into the watch",
                watched.elapsed()
            );
        }
        let second = env
            .flush_worker(&["flush"], &[("RUST_LOG", "flush_worker=info")])
            .await?;
        assert!(
            stderr(&second).contains("\"skipped_partitions\":16"),
            "{}",
            stderr(&second)
        );
        assert_eq!(
            String::from_utf8_lossy(&second.stdout),
            "Flushed 0 keys, 0 errors.\n"
        );
        anyhow::Ok(())
    };
    let (slow, meanwhile) = tokio::join!(slow, meanwhile);
    meanwhile?;
    let slow = slow?;
    assert!(
        stderr(&slow).contains("stalled for 5000 ms"),
        "{}",
        stderr(&slow)
    );
    assert_eq!(
        String::from_utf8_lossy(&slow.stdout),
        format!("Flushed {keys} keys, 0 errors.\n"),
        "{}",
        stderr(&slow)
    );
    assert_views(&env, &expected).await?;
    env.flush_finds_nothing().await
}
