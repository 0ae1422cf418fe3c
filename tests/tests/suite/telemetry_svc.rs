//! telemetry-svc job event ingest against the real MongoDB-wire server.

use analytics_tests::{error_fields, TestEnv, OPERATOR_TOKEN, PRODUCER_TOKEN};
use chrono::{Duration, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};

async fn post(base: &str, token: Option<&str>, body: &Value) -> anyhow::Result<(u16, Value)> {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/api/v1/telemetry/jobs/events"))
        .json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

fn job(event_type: &str, at: chrono::DateTime<Utc>) -> Value {
    json!({"event_type": event_type, "job_uuid": "job-1", "job_name": "OnejavJob", "queue": "jav",
           "attempt": 1, "site": "onejav", "timestamp": at.to_rfc3339(), "worker_host": "worker-a"})
}

#[tokio::test]
async fn writes_need_the_producer_token() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let base = env.spawn_telemetry().await?;
    let body = job("started", Utc::now());
    assert_eq!(post(&base, None, &body).await?.0, 401);
    assert_eq!(post(&base, Some(OPERATOR_TOKEN), &body).await?.0, 403);
    assert_eq!(post(&base, Some(PRODUCER_TOKEN), &body).await?.0, 202);
    Ok(())
}

#[tokio::test]
async fn a_started_and_completed_pair_yields_the_duration() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let base = env.spawn_telemetry().await?;
    let start = Utc::now() - Duration::seconds(10);
    let (status, body) = post(&base, Some(PRODUCER_TOKEN), &job("started", start)).await?;
    assert_eq!((status, &body["duration_ms"]), (202, &Value::Null));
    let (status, body) = post(
        &base,
        Some(PRODUCER_TOKEN),
        &job("completed", start + Duration::milliseconds(1500)),
    )
    .await?;
    assert_eq!(
        (status, body),
        (
            202,
            json!({"status": "accepted", "site": "onejav", "duration_ms": 1500})
        )
    );

    let stored = env
        .mongo()
        .await?
        .collection::<Document>("job_events")
        .find_one(doc! {"event_type": "completed"})
        .await?
        .ok_or_else(|| anyhow::anyhow!("not stored"))?;
    assert_eq!(stored.get_str("status")?, "success");
    assert_eq!(stored.get_i64("duration_ms")?, 1500);
    assert_eq!(
        (
            stored.get_str("site")?,
            stored.get_str("queue")?,
            stored.get_i64("attempt")?
        ),
        ("onejav", "jav", 1)
    );
    let at = stored.get_datetime("timestamp")?.timestamp_millis();
    let expire = stored.get_datetime("expire_at")?.timestamp_millis();
    assert_eq!(expire - at, 30 * 86_400_000, "retention of 30 days");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await?
        .text()
        .await?;
    for event_type in ["started", "completed"] {
        let line = format!(r#"analytics_job_events_recorded_total{{event_type="{event_type}"}} 1"#);
        assert!(metrics.contains(&line), "missing {line} in {metrics}");
    }
    Ok(())
}

#[tokio::test]
async fn a_failed_job_keeps_its_error_fields() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let base = env.spawn_telemetry().await?;
    let mut body = job("failed", Utc::now());
    body["error_class"] = json!("GuzzleHttp\\Exception\\ConnectException");
    body["error_code"] = json!(503);
    body["error_message"] = json!("Connection timed out after 30000 milliseconds");
    body["duration_ms"] = json!(30012);
    assert_eq!(post(&base, Some(PRODUCER_TOKEN), &body).await?.0, 202);
    let stored = env
        .mongo()
        .await?
        .collection::<Document>("job_events")
        .find_one(doc! {"status": "failed"})
        .await?
        .ok_or_else(|| anyhow::anyhow!("not stored"))?;
    assert_eq!(stored.get_str("event_type")?, "failed");
    assert_eq!(stored.get_i64("error_code")?, 503);
    assert_eq!(stored.get_i64("timeout_ms_observed")?, 30000);
    assert_eq!(stored.get_i64("duration_ms")?, 30012);
    assert_eq!(
        stored.get_str("error_message_short")?,
        "Connection timed out after 30000 milliseconds"
    );
    Ok(())
}

#[tokio::test]
async fn bad_bodies_and_fields_are_4xx_naming_them() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let base = env.spawn_telemetry().await?;
    let (status, body) = post(
        &base,
        Some(PRODUCER_TOKEN),
        &json!({"event_type": "exploded", "attempt": 0}),
    )
    .await?;
    assert_eq!(status, 422);
    assert_eq!(
        error_fields(&body),
        ["attempt", "event_type", "job_name", "job_uuid", "timestamp"]
    );

    let client = reqwest::Client::new();
    let url = format!("{base}/api/v1/telemetry/jobs/events");
    let raw = |ct: &'static str, b: &'static str| {
        client
            .post(&url)
            .bearer_auth(PRODUCER_TOKEN)
            .header("content-type", ct)
            .body(b)
            .send()
    };
    assert_eq!(
        raw("application/json", "{\"event_type\":")
            .await?
            .status()
            .as_u16(),
        400
    );
    assert_eq!(raw("application/json", "[1]").await?.status().as_u16(), 400);
    assert_eq!(raw("text/plain", "{}").await?.status().as_u16(), 415);
    Ok(())
}

#[tokio::test]
async fn the_pipeline_view_shows_backlog_flush_runs_and_parity() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    env.insert_movies(&[("m-1", "PL-1", 0, 0)]).await?;
    let base = env.spawn_telemetry().await?;
    let ingest = env.spawn_ingest().await?;
    let get = |token: Option<&'static str>| {
        let mut req = reqwest::Client::new().get(format!("{base}/api/v1/telemetry/pipeline"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(get(None).await?.status().as_u16(), 401);
    assert_eq!(get(Some(PRODUCER_TOKEN)).await?.status().as_u16(), 403);

    let view: Value = get(Some(OPERATOR_TOKEN)).await?.json().await?;
    assert_eq!(view["healthy"], false);
    assert_eq!(view["problems"], json!(["no flush run has been recorded"]));
    for (i, movie) in ["m-1", "m-2", "m-3"].iter().enumerate() {
        ingest
            .send(&format!("p{i}"), "movie", movie, "view", 1)
            .await?;
    }
    ingest.send("p9", "movie", "m-1", "view", 4).await?;
    ingest.send("p9", "movie", "m-1", "view", 4).await?; // a retry: not counted again
    let view: Value = get(Some(OPERATOR_TOKEN)).await?.json().await?;
    assert_eq!(view["backlog"]["dirty_keys"], 4);
    assert_eq!(view["backlog"]["counts_waiting"], 7, "1 + 1 + 1 + 4");
    let partitions = view["backlog"]["partitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(partitions.len(), 16);
    let per_partition: u64 = partitions
        .iter()
        .filter_map(|p| p["counts_waiting"].as_u64())
        .sum();
    assert_eq!(per_partition, 7);

    // Applied but not deleted: the batch's counts still wait.
    let stopped = env
        .flush_worker(&["flush"], &[("ANALYTICS_FLUSH_FAULT", "after-mysql")])
        .await?;
    assert_eq!(stopped.status.code(), Some(86));
    let view: Value = get(Some(OPERATOR_TOKEN)).await?.json().await?;
    assert_eq!(view["backlog"]["counts_waiting"], 7);
    assert_eq!(view["backlog"]["open_batches"], 4);

    env.flush_until_clean().await?;
    let view: Value = get(Some(OPERATOR_TOKEN)).await?.json().await?;
    assert_eq!(view["healthy"], true, "{view}");
    assert_eq!(view["backlog"]["dirty_keys"], 0);
    assert_eq!(view["backlog"]["counts_waiting"], 0);
    assert_eq!(view["backlog"]["open_batches"], 0);
    assert_eq!(view["last_flush"]["errors"], 0);
    assert_eq!(view["last_flush"]["status"], "success");

    // Every run reported itself as a job: the stopped one only started; the
    // ones after it (the stopped run's leases expire one by one) ended, each
    // with a duration, and together they resumed its four batches' keys.
    let jobs: Vec<Document> = env
        .mongo()
        .await?
        .collection::<Document>("job_events")
        .find(doc! {"job_name": "analytics:flush"})
        .await?
        .try_collect()
        .await?;
    fn of_type<'a>(jobs: &'a [Document], t: &'a str) -> impl Iterator<Item = &'a Document> {
        jobs.iter()
            .filter(move |j| j.get_str("event_type") == Ok(t))
    }
    assert_eq!(
        of_type(&jobs, "started").count(),
        of_type(&jobs, "completed").count() + of_type(&jobs, "failed").count() + 1
    );
    let mut resumed_keys = 0;
    for done in of_type(&jobs, "completed").chain(of_type(&jobs, "failed")) {
        assert!(done.get_i64("duration_ms")? >= 0);
        resumed_keys += done.get_document("payload_meta")?.get_i64("keys")?;
    }
    assert_eq!(resumed_keys, 4);

    // A parity mismatch makes the pipeline unhealthy, and says why.
    let mut conn = env.mysql().await?;
    sqlx::query("UPDATE jav SET views = 99 WHERE uuid = 'm-1'")
        .execute(&mut conn)
        .await?;
    let parity = env.flush_worker(&["parity-check"], &[]).await?;
    assert_eq!(parity.status.code(), Some(1));
    let view: Value = get(Some(OPERATOR_TOKEN)).await?.json().await?;
    assert_eq!(view["healthy"], false);
    assert_eq!(
        view["problems"],
        json!(["the last parity check found 1 mismatches"])
    );
    assert_eq!(view["last_parity"]["checked"], 1);
    Ok(())
}
