//! telemetry-svc job event ingest against the real MongoDB-wire server.

use analytics_tests::{TestEnv, OPERATOR_TOKEN, PRODUCER_TOKEN};
use chrono::{Duration, Utc};
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
        (202, json!({"status": "accepted", "duration_ms": 1500}))
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
    let fields: Vec<&String> = body["errors"]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        fields,
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
