//! The import lane: old events, by the producer, counted exactly once by
//! their own dates (day … year, hours, unique viewers, boards) whatever
//! kills the flush, and a repeat long after the Redis markers are gone is
//! a duplicate.

use std::collections::BTreeSet;

use analytics_domain::unique::Register;
use analytics_domain::{Action, Period};
use analytics_tests::{error_fields, TestEnv};
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};

const IMPORT: &str = "/api/v1/analytics/events/import";

/// A view of `movie` at `at` by `user`.
fn view(id: &str, movie: &str, at: &str, user: i64) -> Value {
    json!({"event_id": id, "domain": "jav", "entity_type": "movie", "entity_id": movie,
           "action": "view", "occurred_at": at, "user_id": user})
}

/// The events of one round: views of m-1 on New Year's Day 2021 (ISO week
/// 2020-W53) by users 1..=3 in turn, and one download of m-2.
fn round(tag: &str, views: usize) -> Vec<Value> {
    let mut events: Vec<Value> = (0..views)
        .map(|i| {
            view(
                &format!("{tag}-v{i}"),
                "m-1",
                "2021-01-01T12:30:00Z",
                1 + (i % 3) as i64,
            )
        })
        .collect();
    events.push(
        json!({"event_id": format!("{tag}-d"), "domain": "jav", "entity_type": "movie",
        "entity_id": "m-2", "action": "download", "occurred_at": "2021-01-01T12:45:00Z"}),
    );
    events
}

async fn one(env: &TestEnv, collection: &str, filter: Document) -> anyhow::Result<Document> {
    env.mongo()
        .await?
        .collection::<Document>(collection)
        .find_one(filter.clone())
        .projection(doc! {"_id": 0, "view": 1, "download": 1, "viewers": 1, "entries": 1})
        .await?
        .ok_or_else(|| anyhow::anyhow!("no {collection} document {filter}"))
}

fn count(d: &Document, action: Action) -> i64 {
    analytics_store::rollups::counts_of(d).get(action)
}

/// Every rollup of the imported days holds exactly `views` views of m-1
/// and `downloads` downloads of m-2.
async fn assert_rollups(env: &TestEnv, views: i64, downloads: i64) -> anyhow::Result<()> {
    let m1 = |extra: Document| {
        let mut d = doc! {"entity_type": "movie", "entity_id": "m-1"};
        d.extend(extra);
        d
    };
    for (collection, bucket) in [
        ("analytics_entity_totals", doc! {}),
        ("analytics_entity_daily", doc! {"date": "2021-01-01"}),
    ] {
        let d = one(env, collection, m1(bucket.clone())).await?;
        assert_eq!(count(&d, Action::View), views, "{collection} {bucket}");
    }
    for (period, label) in [
        (Period::Week, "2020-W53"),
        (Period::Month, "2021-01"),
        (Period::Year, "2021"),
    ] {
        let found: Vec<i64> = env
            .period_docs(period)
            .await?
            .iter()
            .filter(|d| d.get_str("entity_id") == Ok("m-1"))
            .filter(|d| d.get_str(period.field()) == Ok(label))
            .map(|d| count(d, Action::View))
            .collect();
        assert_eq!(found, vec![views], "{period:?} {label}");
    }
    assert_eq!(
        env.totals("movie", "m-2").await?.get(Action::Download),
        downloads
    );
    // The site's hour (its slots summed) and the day's unique viewers.
    let slots: Vec<Document> = futures_util::TryStreamExt::try_collect(
        env.mongo()
            .await?
            .collection::<Document>("analytics_hourly")
            .find(doc! {"entity_type": "movie", "date": "2021-01-01", "hour": 12})
            .await?,
    )
    .await?;
    let hour_views: i64 = slots.iter().map(|d| count(d, Action::View)).sum();
    assert_eq!(hour_views, views, "hour 12 of 2021-01-01");
    let day = one(
        env,
        "analytics_entity_daily",
        m1(doc! {"date": "2021-01-01"}),
    )
    .await?;
    let registers = day.get_document("viewers")?.len();
    let users: BTreeSet<u16> = (1..=3)
        .map(|u: i64| Register::of(&u.to_string()).index)
        .collect();
    assert_eq!(registers, users.len(), "one register per viewer");
    // The day's board ranks m-1 with its views.
    let board = one(
        env,
        "analytics_leaderboards",
        doc! {"_id": "jav|movie|view|date=2021-01-01"},
    )
    .await?;
    let first = board.get_array("entries")?.first().cloned();
    let first = first.and_then(|e| e.as_document().cloned());
    assert_eq!(
        first.map(|e| (
            e.get_str("entity_id").map(str::to_string),
            count(&e, Action::View)
        )),
        Some((Ok("m-1".to_string()), views))
    );
    Ok(())
}

#[tokio::test]
async fn imported_old_events_count_once_by_their_dates_under_kills_at_every_fault_point(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    // The log kept forever: any age may be imported.
    env.set("retention.raw_log_days", "0")
        .set("flush.batch_size", "1");
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let mut sent = Vec::new();
    let (mut views, mut downloads) = (0, 0);
    for fault in [
        "after-claim",
        "after-mongo",
        "after-mysql",
        "after-log-copy",
    ] {
        let events = round(fault, 4);
        let (status, body) = ingest
            .post_json_to(IMPORT, &json!({"events": events}))
            .await?;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["accepted"], &body["duplicates"], &body["invalid"]),
            (&json!(5), &json!(0), &json!(0)),
            "{body}"
        );
        views += 4;
        downloads += 1;
        sent.extend(events);

        let crashed = env
            .flush_worker(&["flush"], &[("ANALYTICS_FLUSH_FAULT", fault)])
            .await?;
        assert_eq!(
            crashed.status.code(),
            Some(flush_worker::fault::EXIT_CODE),
            "{fault}: {}",
            String::from_utf8_lossy(&crashed.stderr)
        );
        env.flush_until_clean().await?;
        assert_rollups(&env, views, downloads).await?;
    }
    assert_eq!(env.logged_events().await?, sent.len() as i64);

    // The Redis dedupe entries gone (as 48 h later): the raw log still
    // knows every event, so a re-import is all duplicates and counts nothing.
    for key in env.redis_keys().await? {
        if key.contains(":seen:") {
            redis::cmd("DEL")
                .arg(&key)
                .query_async::<()>(&mut env.redis().await?)
                .await?;
        }
    }
    let (status, body) = ingest.post_json_to(IMPORT, &json!(sent)).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["accepted"], &body["duplicates"]),
        (&json!(0), &json!(sent.len())),
        "{body}"
    );
    // The same id carrying another event is a conflict, counted nowhere.
    let reused = view("after-claim-v0", "m-9", "2021-01-01T12:30:00Z", 1);
    let (_, body) = ingest.post_json_to(IMPORT, &json!([reused])).await?;
    assert_eq!(body["results"][0]["status"], "conflict", "{body}");
    env.flush_finds_nothing().await?;
    assert_rollups(&env, views, downloads).await?;
    ingest.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_import_route_is_the_producers_and_refuses_what_retention_no_longer_holds(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("retention.raw_log_days", "30");
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let now = chrono::Utc::now();
    let at = |days: i64| (now - chrono::Duration::days(days)).to_rfc3339();
    let events = json!([
        view("r-1", "m-1", &at(20), 1),
        view("r-2", "m-1", &at(40), 1),
    ]);

    // Without the token: 401, naming the header; nothing counted.
    let resp = ingest
        .client
        .post(format!("{}{IMPORT}", ingest.base))
        .json(&events)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await?;
    assert_eq!(error_fields(&body), vec!["authorization"]);

    // Twenty days back is within the 30 kept; forty is not.
    let (status, body) = ingest.post_json_to(IMPORT, &events).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["accepted"], &body["invalid"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(body["results"][1]["status"], "invalid");
    let message = body["results"][1]["errors"]["occurred_at"][0]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("retention.raw_log_days"), "{message}");
    // The live routes still refuse what is older than 47 hours, and say
    // where such events go.
    let (status, body) = ingest
        .post_json_to("/api/v1/analytics/events", &view("r-3", "m-1", &at(3), 1))
        .await?;
    assert_eq!(status, 422);
    let message = body["errors"]["occurred_at"][0]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("import route"), "{message}");

    env.flush_until_clean().await?;
    assert_eq!(env.totals("movie", "m-1").await?.get(Action::View), 1);
    assert_eq!(env.logged_events().await?, 1);
    ingest.stop().await;

    // With the raw log off there is no durable dedupe: imports are refused.
    env.set("events.raw_log", "false");
    let ingest = env.spawn_ingest().await?;
    let (status, body) = ingest.post_json_to(IMPORT, &events).await?;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_fields(&body), vec!["events.raw_log"]);
    ingest.stop().await;
    Ok(())
}
