//! The ingest endpoint's contract against real Redis.

use std::time::Duration;

use analytics_tests::{error_fields, event, eventually, metric, TestEnv};
use serde_json::{json, Value};

async fn status_and_body(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The counter hash of a movie across all partitions: field -> count.
async fn counter_fields(env: &TestEnv, entity: &str) -> anyhow::Result<Vec<(String, i64)>> {
    let mut conn = env.redis().await?;
    let mut out = Vec::new();
    for key in env.redis_keys().await? {
        if key.ends_with(&format!(":cnt:jav:movie:{entity}")) {
            let fields: Vec<(String, i64)> = redis::cmd("HGETALL")
                .arg(&key)
                .query_async(&mut conn)
                .await?;
            out.extend(fields);
        }
    }
    Ok(out)
}

#[tokio::test]
async fn a_valid_event_gets_the_exact_legacy_body_and_a_duplicate_is_counted_once(
) -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    let body = event("evt-1", "movie", "m-1", "view", 1);

    let first = app.post_json(&body).await?;
    assert_eq!(first.status().as_u16(), 202);
    assert!(first.headers().get("x-analytics-duplicate").is_none());
    assert_eq!(first.headers()["content-type"], "application/json");
    assert_eq!(first.text().await?, r#"{"status":"accepted"}"#);

    let again = app.post_json(&body).await?;
    assert_eq!(again.status().as_u16(), 202);
    assert_eq!(again.headers()["x-analytics-duplicate"], "true");
    assert_eq!(again.text().await?, r#"{"status":"accepted"}"#);

    let fields = counter_fields(&env, "m-1").await?;
    assert_eq!(fields.len(), 1);
    assert!(fields[0].0.starts_with("view|"), "{fields:?}");
    assert_eq!(fields[0].1, 1);
    Ok(())
}

#[tokio::test]
async fn a_reused_id_for_another_entity_is_a_conflict_and_not_counted() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    app.send("evt-c", "movie", "m-1", "view", 1).await?;

    let (status, body) = status_and_body(
        app.post_json(&event("evt-c", "movie", "m-2", "view", 1))
            .await?,
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(error_fields(&body), ["event_id"]);
    assert!(counter_fields(&env, "m-2").await?.is_empty());
    assert_eq!(
        counter_fields(&env, "m-1")
            .await?
            .iter()
            .map(|f| f.1)
            .sum::<i64>(),
        1
    );

    let metrics = app.get("/metrics").await?.text().await?;
    assert!(
        metrics.contains("analytics_events_conflicted_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"analytics_events_accepted_total{action="view"} 1"#),
        "{metrics}"
    );
    for status in ["202", "409"] {
        let line = format!(
            r#"analytics_http_request_duration_seconds_count{{route="/api/v1/analytics/events",method="POST",status="{status}"}} 1"#
        );
        assert!(metrics.contains(&line), "missing {line} in {metrics}");
    }
    // The replaced video service's names, which its dashboards read: both
    // events reached Redis (one counted, one a conflict), in two requests;
    // the one count waits for the flush (read once a second).
    assert_eq!(
        metric(&metrics, "analytics_service_events_processed_total"),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &metrics,
            "analytics_service_event_processing_duration_seconds_count"
        ),
        Some(2.0)
    );
    let lag = eventually(Duration::from_secs(10), || async {
        let page = app.get("/metrics").await?.text().await?;
        Ok(metric(&page, "analytics_service_kafka_consumer_lag").filter(|n| *n == 1.0))
    })
    .await?;
    assert_eq!(lag, 1.0);
    Ok(())
}

#[tokio::test]
async fn each_bad_field_value_is_a_422_naming_that_field() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    let long = "x".repeat(256);
    let future = (chrono::Utc::now() + chrono::Duration::minutes(10)).to_rfc3339();
    let stale = (chrono::Utc::now() - chrono::Duration::hours(48)).to_rfc3339();
    let cases: Vec<(&str, Value)> = vec![
        ("event_id", Value::Null),
        ("event_id", json!("")),
        ("event_id", json!(long)),
        ("event_id", json!(42)),
        ("domain", json!("other")),
        ("domain", json!("")),
        ("entity_type", json!("person")),
        ("entity_type", json!(7)),
        ("entity_id", json!("   ")),
        ("entity_id", json!(long)),
        ("entity_id", json!(123)),
        ("action", json!("explode")),
        ("action", Value::Null),
        ("value", json!(0)),
        ("value", json!(10001)),
        ("value", json!("one")),
        ("value", json!(1.5)),
        ("value", json!("5")),
        ("occurred_at", json!("not-a-date")),
        ("occurred_at", json!("2026-02-19")),
        ("occurred_at", json!(future)),
        ("occurred_at", json!(stale)),
        ("user_id", json!(true)),
        ("user_id", json!("u".repeat(65))),
    ];
    for (field, bad) in cases {
        let mut body = event("evt-bad", "movie", "m-1", "view", 1);
        if bad.is_null() {
            body.as_object_mut().map(|o| o.remove(field));
        } else {
            body[field] = bad.clone();
        }
        let (status, resp) = status_and_body(app.post_json(&body).await?).await;
        assert_eq!(status, 422, "{field} = {bad}");
        assert_eq!(error_fields(&resp), [field], "{field} = {bad}: {resp}");
        assert!(resp["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert!(
        env.redis_keys().await?.is_empty(),
        "a rejected event wrote to Redis"
    );
    Ok(())
}

#[tokio::test]
async fn every_failing_field_is_listed_at_once() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    let (status, body) =
        status_and_body(app.post_json(&json!({"value": 0, "user_id": 1.5})).await?).await;
    assert_eq!(status, 422);
    assert_eq!(
        error_fields(&body),
        [
            "action",
            "domain",
            "entity_id",
            "entity_type",
            "event_id",
            "occurred_at",
            "user_id",
            "value"
        ]
    );
    assert_eq!(
        body["message"],
        "The action field is required. (and 7 more errors)"
    );
    Ok(())
}

#[tokio::test]
async fn boundary_ids_and_opaque_entity_ids_are_accepted_as_is() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    app.send(&"e".repeat(255), "movie", &"m".repeat(255), "view", 1)
        .await?;
    app.send("evt-sql", "movie", "1' OR '1'='1", "download", 10000)
        .await?;
    let fields = counter_fields(&env, "1' OR '1'='1").await?;
    assert_eq!(fields.len(), 1);
    assert!(fields[0].0.starts_with("download|"));
    assert_eq!(fields[0].1, 10000);
    assert_eq!(counter_fields(&env, &"m".repeat(255)).await?.len(), 1);
    Ok(())
}

#[tokio::test]
async fn malformed_oversized_and_non_json_bodies_get_their_own_4xx() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;

    let (status, body) =
        status_and_body(app.post_raw("application/json", "{\"event_id\": ").await?).await;
    assert_eq!(status, 400);
    assert_eq!(error_fields(&body), ["body"]);

    let (status, body) = status_and_body(app.post_raw("application/json", "[1, 2]").await?).await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "The request body must be a JSON object.");

    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(20_000));
    let (status, body) = status_and_body(app.post_raw("application/json", big).await?).await;
    assert_eq!(status, 413);
    assert_eq!(error_fields(&body), ["body"]);

    let (status, body) = status_and_body(app.post_raw("application/xml", "{}").await?).await;
    assert_eq!(status, 415);
    assert_eq!(error_fields(&body), ["content_type"]);

    let (status, _) = status_and_body(
        app.post_raw(
            "application/vnd.api+json; charset=utf-8",
            event("evt-j", "movie", "m", "view", 1).to_string(),
        )
        .await?,
    )
    .await;
    assert_eq!(status, 202);

    let metrics = app.get("/metrics").await?.text().await?;
    for line in [
        r#"analytics_events_rejected_total{reason="malformed_json"} 2"#,
        r#"analytics_events_rejected_total{reason="payload_too_large"} 1"#,
        r#"analytics_events_rejected_total{reason="unsupported_media_type"} 1"#,
    ] {
        assert!(metrics.contains(line), "missing {line} in {metrics}");
    }
    Ok(())
}

/// Something in front of ingest (a proxy, a firewall, a log pipeline) may
/// keep the first of two equal keys where a parser keeps the last: a body
/// that repeats a key is refused, on the single route and in a batch.
#[tokio::test]
async fn a_body_that_repeats_a_key_is_a_400_naming_it_and_counts_nothing() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    let now = chrono::Utc::now().to_rfc3339();
    let twice = format!(
        r#"{{"event_id":"dup-a","event_id":"dup-b","domain":"jav","entity_type":"movie","entity_id":"m-1","action":"view","value":1,"occurred_at":"{now}"}}"#
    );
    let (status, body) = status_and_body(app.post_raw("application/json", twice).await?).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "The request body is not valid JSON: the key \"event_id\" appears twice in one object at line 1 column 30"
    );
    assert_eq!(error_fields(&body), ["body"]);
    let batch = format!(
        r#"[{{"event_id":"dup-c","domain":"jav","entity_type":"movie","entity_id":"m-1","action":"view","action":"download","value":1,"occurred_at":"{now}"}}]"#
    );
    let resp = app
        .post_to("/api/v1/analytics/events/batch", "application/json", batch)
        .await?;
    let (status, body) = status_and_body(resp).await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("the key \"action\" appears twice")),
        "{body}"
    );
    assert_eq!(counter_fields(&env, "m-1").await?, []);
    assert_eq!(env.counts_waiting().await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after_before_validation() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("ingest.rate_limit_per_minute", "2");
    let app = env.spawn_ingest().await?;
    app.send("r-1", "movie", "m", "view", 1).await?;
    let (status, _) = status_and_body(app.post_json(&json!({})).await?).await;
    assert_eq!(status, 422, "an invalid request spends quota too");
    let limited = app
        .post_json(&event("r-3", "movie", "m", "view", 1))
        .await?;
    assert_eq!(limited.status().as_u16(), 429);
    let retry: u64 = limited.headers()["retry-after"].to_str()?.parse()?;
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(limited.headers()["x-ratelimit-limit"], "2");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert_eq!(
        limited.json::<Value>().await?["message"],
        "Too Many Attempts."
    );
    Ok(())
}

#[tokio::test]
async fn forwarded_for_picks_the_budget_only_behind_a_trusted_proxy() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("ingest.rate_limit_per_minute", "1");
    let mut settings = env.ingest_settings()?;
    settings.ingest.trusted_proxies = vec!["127.0.0.1".into()];
    let app = env.spawn_ingest_with(settings).await?;
    let post = |id: &'static str, client: &'static str| {
        app.client
            .post(format!("{}/api/v1/analytics/events", app.base))
            .header("x-forwarded-for", client)
            .json(&event(id, "movie", "m", "view", 1))
            .send()
    };
    assert_eq!(post("f-1", "198.51.100.1").await?.status().as_u16(), 202);
    assert_eq!(post("f-2", "198.51.100.2").await?.status().as_u16(), 202);
    assert_eq!(post("f-3", "198.51.100.1").await?.status().as_u16(), 429);

    // Without the proxy being trusted, the header is ignored: one shared budget.
    let untrusted_env = TestEnv::new().await?;
    let mut s = untrusted_env.ingest_settings()?;
    s.ingest.rate_limit_per_minute = 1;
    let untrusted = untrusted_env.spawn_ingest_with(s).await?;
    let post = |id: &'static str, client: &'static str| {
        untrusted
            .client
            .post(format!("{}/api/v1/analytics/events", untrusted.base))
            .header("x-forwarded-for", client)
            .json(&event(id, "movie", "m", "view", 1))
            .send()
    };
    assert_eq!(post("u-1", "198.51.100.1").await?.status().as_u16(), 202);
    assert_eq!(post("u-2", "198.51.100.2").await?.status().as_u16(), 429);
    Ok(())
}

#[tokio::test]
async fn health_ready_and_unknown_routes() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let app = env.spawn_ingest().await?;
    let health = app.get("/health").await?;
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(health.json::<Value>().await?, json!({"status": "ok"}));
    let ready = app.get("/ready").await?;
    assert_eq!(ready.status().as_u16(), 200);
    assert_eq!(ready.json::<Value>().await?["checks"]["redis"], "ok");
    assert_eq!(app.get("/nope").await?.status().as_u16(), 404);
    Ok(())
}
