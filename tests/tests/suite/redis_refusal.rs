//! Redis that answers but refuses writes (`maxmemory` reached, a replica,
//! a cluster moving slots) is an outage: 503 with Retry-After for what it
//! refused entirely, `/ready` says it refuses writes, and the flush still
//! drains it. A batch it stored in part answers per item (207), so a client
//! resends only what was not counted. Uses its own redis-server.

use analytics_domain::Action;
use analytics_tests::private_servers::{free_port, redis_command, start_redis};
use analytics_tests::{event, TestEnv};
use serde_json::{json, Value};

const BATCH: &str = "/api/v1/analytics/events/batch";

#[tokio::test]
async fn a_redis_that_refuses_writes_is_a_503_and_a_partly_stored_batch_answers_per_item(
) -> anyhow::Result<()> {
    let port = free_port()?;
    let _redis = start_redis(port, &[]).await?;
    let url = format!("redis://127.0.0.1:{port}/");
    let mut env = TestEnv::new().await?;
    env.use_redis(url.as_str())
        .set("ingest.retry_after_seconds", "2");
    env.migrate().await?;
    let app = env.spawn_ingest().await?;
    for id in ["r-1", "r-2", "r-3"] {
        app.send(id, "movie", "m-1", "view", 1).await?;
    }

    // Full: every write is refused with OOM.
    redis_command::<()>(&url, &["CONFIG", "SET", "maxmemory", "1"]).await?;
    let one = app
        .post_json(&event("r-4", "movie", "m-1", "view", 1))
        .await?;
    assert_eq!(one.status().as_u16(), 503);
    assert_eq!(one.headers()["retry-after"], "2");
    let body: Value = one.json().await?;
    assert_eq!(
        body["message"],
        "The event store is temporarily unavailable; retry later."
    );
    let (status, _) = app
        .post_json_to(
            BATCH,
            &json!([
                event("r-5", "movie", "m-1", "view", 1),
                event("r-6", "movie", "m-1", "view", 1)
            ]),
        )
        .await?;
    assert_eq!(status, 503);
    let ready = app.get("/ready").await?;
    assert_eq!(ready.status().as_u16(), 503);
    let ready: Value = ready.json().await?;
    assert_eq!(ready["checks"]["redis"], "refuses writes", "{ready}");
    let verdict = env.pipeline_verdict().await?;
    assert_eq!(verdict["healthy"], false, "{verdict}");
    assert!(
        verdict["problems"]
            .as_array()
            .is_some_and(|p| p.contains(&json!(
                "Redis refuses writes (OOM): ingest answers 503 until it has room again"
            ))),
        "{verdict}"
    );
    // The flush drains a full Redis (that is how it gets room again).
    env.flush_until_clean().await?;
    assert_eq!(env.totals("movie", "m-1").await?.get(Action::View), 3);

    redis_command::<()>(&url, &["CONFIG", "SET", "maxmemory", "0"]).await?;
    app.send("r-4", "movie", "m-1", "view", 1).await?;
    assert_eq!(app.get("/ready").await?.status().as_u16(), 200);

    // Part of a batch refused: this user may write every partition but one
    // (an ACL stands in for a cluster master that refuses its slots).
    let keys = env.hot_counters()?.keys().clone();
    let (a, b) = ("part-a", "part-b");
    let denied = keys.partition_of(b);
    assert_ne!(keys.partition_of(a), denied, "pick ids on two partitions");
    let prefix = keys.prefix().to_string();
    let mut acl = vec![
        "ACL".to_string(),
        "SETUSER".into(),
        "ingest".into(),
        "on".into(),
        ">secret".into(),
        "+@all".into(),
        "%R~*".into(),
        format!("~{prefix}:live:*"),
    ];
    acl.extend(
        keys.partitions()
            .filter(|&p| p != denied)
            // A script's keys need read and write from one pattern.
            .map(|p| format!("~{prefix}:{{{p}}}:*")),
    );
    let acl: Vec<&str> = acl.iter().map(String::as_str).collect();
    redis_command::<()>(&url, &acl).await?;
    env.use_redis(format!("redis://ingest:secret@127.0.0.1:{port}/"));
    let partial = env.spawn_ingest().await?;
    env.use_redis(url.as_str());
    let batch = json!([
        event(a, "movie", "m-1", "view", 1),
        event(b, "movie", "m-1", "view", 1)
    ]);
    let resp = partial
        .post_to(BATCH, "application/json", batch.to_string())
        .await?;
    assert_eq!(resp.status().as_u16(), 207);
    assert_eq!(resp.headers()["retry-after"], "2");
    let body: Value = resp.json().await?;
    assert_eq!(
        body,
        json!({
            "accepted": 1, "duplicates": 0, "conflicts": 0, "invalid": 0, "filtered": 0,
            "unavailable": 1,
            "results": [
                {"index": 0, "event_id": a, "status": "accepted"},
                {"index": 1, "event_id": b, "status": "unavailable",
                 "message": "The event store refused this event for now (the others were stored); send it again after Retry-After."}
            ]
        })
    );
    // The client sends the whole batch again: the stored one is a duplicate.
    redis_command::<()>(&url, &["ACL", "SETUSER", "ingest", "allkeys"]).await?;
    let (status, body) = partial.post_json_to(BATCH, &batch).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["accepted"], &body["duplicates"], &body["unavailable"]),
        (&json!(1), &json!(1), &json!(0))
    );
    let metrics = partial.get("/metrics").await?.text().await?;
    assert!(
        metrics.contains(r#"analytics_events_rejected_total{reason="store_unavailable"} 1"#),
        "{metrics}"
    );

    env.flush_until_clean().await?;
    assert_eq!(
        env.totals("movie", "m-1").await?.get(Action::View),
        6,
        "r-1..r-4, part-a and part-b, each once"
    );
    Ok(())
}
