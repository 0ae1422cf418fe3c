//! Backpressure: ingest holds events back (503 + Retry-After) before Redis
//! refuses anything — at `ingest.max_waiting_counts` counts waiting, or at
//! `redis.max_memory_share` of Redis's maxmemory — says why on the
//! operator page and in `analytics_ingest_backpressure_total`, and takes
//! events again by itself once the flush has drained Redis.

use std::time::Duration;

use analytics_domain::Action;
use analytics_tests::private_servers::{free_port, start_redis};
use analytics_tests::{event, eventually, Ingest, TestEnv};
use serde_json::Value;

/// The reason ingest published, once its sampler has seen the figures.
async fn held_back(env: &TestEnv) -> anyhow::Result<String> {
    let key = format!("{}:ingest:holding_back", env.id);
    eventually(Duration::from_secs(10), || async {
        let mut conn = env.redis().await?;
        let why: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        Ok(why)
    })
    .await
}

async fn status_of(app: &Ingest, id: &str) -> anyhow::Result<(u16, Option<String>, Value)> {
    analytics_tests::answer(app.post_json(&event(id, "movie", "m-1", "view", 1)).await?).await
}

/// Ingest takes `id` again by itself, and its metric counted the events it
/// held back for `reason`.
async fn assert_lifted(app: &Ingest, id: &str, reason: &str) -> anyhow::Result<()> {
    let status = eventually(Duration::from_secs(10), || async {
        let (status, _, _) = status_of(app, id).await?;
        Ok((status == 202).then_some(status))
    })
    .await?;
    assert_eq!(status, 202);
    let metrics = app.get("/metrics").await?.text().await?;
    let counted = format!(r#"analytics_ingest_backpressure_total{{reason="{reason}"}}"#);
    assert!(metrics.contains(&counted), "{metrics}");
    Ok(())
}

#[tokio::test]
async fn a_backlog_at_its_bound_holds_events_back_until_the_flush_drains_it() -> anyhow::Result<()>
{
    let mut env = TestEnv::new().await?;
    env.set("ingest.max_waiting_counts", "3")
        .set("ingest.retry_after_seconds", "2");
    env.migrate().await?;
    let app = env.spawn_ingest().await?;
    for id in ["b-1", "b-2", "b-3"] {
        app.send(id, "movie", "m-1", "view", 1).await?;
    }
    let why = held_back(&env).await?;
    let message = "Ingest is holding events back: 3 counts wait for the flush (ingest.max_waiting_counts is 3); retry later.";
    assert_eq!(why, message);
    let (status, retry, body) = status_of(&app, "b-4").await?;
    assert_eq!(
        (status, retry.as_deref(), &body["message"]),
        (503, Some("2"), &Value::from(message))
    );
    let verdict = env.pipeline_verdict().await?;
    assert_eq!(verdict["healthy"], false);
    assert!(
        verdict["problems"]
            .as_array()
            .is_some_and(|p| p.contains(&Value::from(message))),
        "{verdict}"
    );

    env.flush_until_clean().await?;
    assert_lifted(&app, "b-4", "backlog").await?;
    env.flush_until_clean().await?;
    assert_eq!(env.totals("movie", "m-1").await?.get(Action::View), 4);
    Ok(())
}

#[tokio::test]
async fn redis_near_its_maxmemory_holds_events_back_before_it_refuses_them() -> anyhow::Result<()> {
    let port = free_port()?;
    let _redis = start_redis(port, &[]).await?;
    let url = format!("redis://127.0.0.1:{port}/");
    let mut env = TestEnv::new().await?;
    env.use_redis(url.as_str());
    let app = env.spawn_ingest().await?;
    app.send("n-1", "movie", "m-1", "view", 1).await?;

    // A limit just above what Redis uses now (8 % more): 0.9 of it is
    // passed, and Redis itself still takes writes. A 16 MiB value first, so
    // those 8 % are over a megabyte: the connections the test and ingest
    // open and close meanwhile (tens of kilobytes each) cannot use them up.
    // SETRANGE grows it on the server: a 16 MiB argument would sit in the
    // connection's query buffer, measured now and freed later.
    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    redis::cmd("SETRANGE")
        .arg(format!("{}:ballast", env.id))
        .arg((16 << 20) - 1)
        .arg("x")
        .query_async::<()>(&mut conn)
        .await?;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await?;
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no used_memory in {info}"))?;
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used + used / 12)
        .query_async::<()>(&mut conn)
        .await?;
    let why = held_back(&env).await?;
    // About 92 % now; whatever Redis wrote meanwhile can only raise it.
    let share: Option<u32> = why
        .strip_prefix("Ingest is holding events back: Redis uses ")
        .and_then(|rest| rest.strip_suffix(" % of its maxmemory (redis.max_memory_share is 0.9) until the flush drains it; retry later."))
        .and_then(|n| n.parse().ok());
    assert!(share.is_some_and(|s| s >= 90), "{why}");
    let (status, retry, body) = status_of(&app, "n-2").await?;
    assert_eq!((status, retry.as_deref()), (503, Some("1")), "{body}");
    // Redis itself still takes writes: it was ingest that held back.
    redis::cmd("SET")
        .arg(format!("{}:probe", env.id))
        .arg(1)
        .query_async::<()>(&mut conn)
        .await?;

    redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(0)
        .query_async::<()>(&mut conn)
        .await?;
    assert_lifted(&app, "n-2", "memory").await?;
    Ok(())
}
