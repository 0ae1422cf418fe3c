//! A Redis outage is a bounded 503 with Retry-After, and ingest recovers by
//! itself when Redis is back. Uses its own redis-server, so stopping it
//! cannot disturb tests running in parallel.

use std::time::{Duration, Instant};

use analytics_tests::private_servers::{free_port, start_redis};
use analytics_tests::{event, eventually, TestEnv};

#[tokio::test]
async fn redis_down_is_a_prompt_503_and_ingest_recovers_when_it_returns() -> anyhow::Result<()> {
    let port = free_port()?;
    let mut redis = start_redis(port, &[]).await?;
    let mut env = TestEnv::new().await?;
    env.use_redis(format!("redis://127.0.0.1:{port}/"))
        .set("redis.connect_timeout_ms", "300")
        .set("redis.command_timeout_ms", "300")
        .set("ingest.retry_after_seconds", "2");
    let app = env.spawn_ingest().await?;
    app.send("before", "movie", "m-1", "view", 1).await?;

    redis.kill().await?;
    let started = Instant::now();
    let down = app
        .post_json(&event("during", "movie", "m-1", "view", 1))
        .await?;
    let waited = started.elapsed();
    assert_eq!(down.status().as_u16(), 503);
    assert_eq!(down.headers()["retry-after"], "2");
    let body: serde_json::Value = down.json().await?;
    assert_eq!(
        body["message"],
        "The event store is temporarily unavailable; retry later."
    );
    assert!(
        waited < Duration::from_secs(5),
        "no bounded answer: {waited:?}"
    );
    let ready = app.get("/ready").await?;
    assert_eq!(ready.status().as_u16(), 503);
    assert!(ready.headers().contains_key("retry-after"));

    let _redis = start_redis(port, &[]).await?;
    let status = eventually(Duration::from_secs(10), || async {
        let resp = app
            .post_json(&event("after", "movie", "m-1", "view", 1))
            .await?;
        Ok((resp.status().as_u16() == 202).then_some(202))
    })
    .await?;
    assert_eq!(status, 202);
    assert_eq!(app.get("/ready").await?.status().as_u16(), 200);
    let metrics = app.get("/metrics").await?.text().await?;
    assert!(
        metrics.contains(r#"analytics_events_rejected_total{reason="store_unavailable"}"#),
        "{metrics}"
    );
    Ok(())
}
