//! The four real binaries, as they run in production, through the stores
//! only: events posted to ingest-svc → flush-worker → read-api and
//! telemetry-svc report the exact numbers.

use std::collections::HashSet;

use analytics_domain::KeySpace;
use analytics_tests::{event, TestEnv, ADMIN_TOKEN, INGEST_PRODUCER_TOKEN, OPERATOR_TOKEN};
use serde_json::{json, Value};

#[tokio::test]
async fn events_posted_to_ingest_are_counted_exactly_once_everywhere() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    env.insert_movies(&[("m-1", "ABC-1", 0, 0), ("m-2", "ABC-2", 0, 0)])
        .await?;
    let ingest = env.run_service("ingest-svc", "ingest.bind").await?;
    let read_api = env.run_service("read-api", "read_api.bind").await?;
    let telemetry = env.run_service("telemetry-svc", "telemetry.bind").await?;

    let post = |body: Value| {
        ingest
            .client
            .post(format!("{}/api/v1/analytics/events", ingest.base))
            // The server-side producer: values above 1 need its token.
            .bearer_auth(INGEST_PRODUCER_TOKEN)
            .json(&body)
            .send()
    };
    let events = [
        ("e-1", "movie", "m-1", "view", 3),
        ("e-2", "movie", "m-1", "view", 1),
        ("e-3", "movie", "m-1", "download", 1),
        ("e-4", "movie", "m-2", "view", 2),
        ("e-5", "actor", "a-1", "view", 1),
        ("e-6", "movie", "m-1", "like", 1),
        ("e-7", "movie", "m-1", "like", 1),
        ("e-8", "movie", "m-1", "unlike", 1),
        ("e-9", "movie", "m-1", "rate", 4),
        ("e-10", "movie", "m-1", "favorite", 1),
    ];
    for (id, entity_type, entity_id, action, value) in events {
        let resp = post(event(id, entity_type, entity_id, action, value)).await?;
        assert_eq!(resp.status().as_u16(), 202, "{id}");
    }
    // A producer retry of the same event is accepted and not counted again.
    let retry = post(event("e-1", "movie", "m-1", "view", 3)).await?;
    assert_eq!(retry.status().as_u16(), 202);
    assert_eq!(retry.headers()["x-analytics-duplicate"], "true");

    // Display counts include the events before any flush: net likes,
    // favorites and the rating too.
    let m1 = json!({"domain": "jav", "entity_type": "movie", "entity_id": "m-1",
                    "view": 4, "download": 1, "likes": 1, "favorites": 1, "watchlist": 0,
                    "ratings": 1, "rating_average": 4.0});
    let counts = "/api/v1/analytics/counts/movie/m-1";
    assert_eq!(read_api.get_as(counts, None).await?, (200, m1.clone()));

    let started = std::time::Instant::now();
    let flush = env
        .flush_worker(&["flush"], &[("RUST_LOG", "flush_worker=info")])
        .await?;
    let wall_ms = u64::try_from(started.elapsed().as_millis())?;
    assert!(flush.status.success(), "{flush:?}");
    // One counter key per entity and partition; an event's partition comes from its id.
    let key_space = KeySpace::new("any", 16)?;
    let keys: HashSet<_> = events
        .iter()
        .map(|(id, entity_type, entity_id, ..)| {
            (key_space.partition_of(id), entity_type, entity_id)
        })
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&flush.stdout).trim(),
        format!("Flushed {} keys, 0 errors.", keys.len())
    );
    // The run's report (its log line): what it did, and where its time went
    // — steps that follow one another, so together within the run's time.
    let report = finished_report(&flush.stderr)?;
    // One batch per partition that had keys (each far below a batch's size).
    let partitions: HashSet<_> = keys.iter().map(|(partition, ..)| partition).collect();
    assert_eq!(
        (&report["keys"], &report["errors"], &report["batches"]),
        (&json!(keys.len()), &json!(0), &json!(partitions.len()))
    );
    let steps: u64 = ["redis_ms", "mongo_ms", "replica_ms", "leaderboard_ms"]
        .iter()
        .map(|f| {
            report[*f]
                .as_u64()
                .ok_or_else(|| anyhow::anyhow!("no {f} in {report}"))
        })
        .sum::<anyhow::Result<u64>>()?;
    assert!(
        steps <= wall_ms,
        "{steps} ms of steps in a {wall_ms} ms run: {report}"
    );

    assert_eq!(read_api.get_as(counts, None).await?, (200, m1));
    let admin = |path: &'static str| read_api.get_as(path, Some(ADMIN_TOKEN));
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for period in ["day", "all"] {
        let path =
            format!("/api/v1/admin/analytics/top?entity_type=movie&action=view&period={period}");
        let (status, top) = read_api.get_as(&path, Some(ADMIN_TOKEN)).await?;
        assert_eq!(status, 200);
        assert_eq!(
            top["items"],
            json!([
                {"rank": 1, "entity_id": "m-1", "view": 4, "download": 1, "code": "ABC-1", "title": "Title of ABC-1"},
                {"rank": 2, "entity_id": "m-2", "view": 2, "download": 0, "code": "ABC-2", "title": "Title of ABC-2"}
            ]),
            "{period}"
        );
    }
    let (_, entity) = admin("/api/v1/admin/analytics/entities/movie/m-1?granularity=day").await?;
    assert_eq!(entity["totals"], json!({"view": 4, "download": 1}));
    let last = entity["series"].as_array().and_then(|s| s.last()).cloned();
    assert_eq!(last, Some(json!({"bucket": day, "view": 4, "download": 1})));
    let (_, trends) = admin("/api/v1/admin/analytics/trends?days=7&action=view").await?;
    assert_eq!(trends["total"], 7, "views of m-1, m-2 and a-1");
    assert_eq!(
        trends["values"].as_array().and_then(|s| s.last()),
        Some(&json!(7))
    );
    assert_eq!(env.replica("m-1").await?, Some((4, 1)));

    // The operator sees the flush: a healthy pipeline and a job in the summary.
    let (_, pipeline) = telemetry
        .get_as("/api/v1/telemetry/pipeline", Some(OPERATOR_TOKEN))
        .await?;
    assert_eq!(pipeline["healthy"], true, "{pipeline}");
    assert_eq!(pipeline["last_flush"]["keys"], keys.len());
    let (_, summary) = telemetry
        .get_as(
            "/api/v1/telemetry/jobs/summary?job_name=analytics:flush",
            Some(OPERATOR_TOKEN),
        )
        .await?;
    assert_eq!(summary["overview"]["total_completed"], 1);
    assert_eq!(summary["job_performance"][0]["job_name"], "analytics:flush");

    // A second flush finds nothing and changes nothing.
    env.flush_finds_nothing().await?;
    assert_eq!(read_api.get_as(counts, None).await?.1["view"], 4);
    Ok(())
}

/// The fields of a flush's "flush finished" log line.
fn finished_report(stderr: &[u8]) -> anyhow::Result<Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["fields"]["message"] == "flush finished")
        .map(|line| line["fields"].clone())
        .ok_or_else(|| anyhow::anyhow!("no \"flush finished\" line"))
}
