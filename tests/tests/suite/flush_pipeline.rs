//! The exactly-once flush: real ingest, the real flush-worker
//! binary, real Redis, MongoDB-wire server and MariaDB.

use std::collections::BTreeSet;

use analytics_domain::{Action, EntityKey, EntityType, Event, KeySpace, Period};
use analytics_tests::{count_in_redis, jav_entity, TestEnv};
use chrono::{DateTime, FixedOffset, Timelike, Utc};
use mongodb::bson::{doc, Document};

fn entity(entity_type: EntityType, id: &str) -> EntityKey {
    jav_entity(entity_type, id)
}

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("timestamp")
}

/// Counts events straight into Redis with the real ingest script.
async fn ingest_at(
    env: &TestEnv,
    events: &[(&str, EntityKey, Action, i64, &str)],
) -> anyhow::Result<usize> {
    let counters = env.hot_counters()?;
    let mut keys = BTreeSet::new();
    for (id, entity, action, value, when) in events {
        let event = Event {
            event_id: id.to_string(),
            entity: entity.clone(),
            action: *action,
            value: *value,
            occurred_at: at(when),
            user_id: None,
            details: Default::default(),
        };
        count_in_redis(&counters, &event).await?;
        keys.insert((counters.keys().partition_of(id), entity.clone()));
    }
    Ok(keys.len())
}

fn rollup(
    entity_type: &str,
    id: &str,
    bucket: Option<(&str, &str)>,
    view: i64,
    download: i64,
) -> Document {
    let mut d = doc! {"domain": "jav", "entity_type": entity_type, "entity_id": id};
    if let Some((field, label)) = bucket {
        d.insert(field, label);
    }
    d.insert("view", view);
    d.insert("download", download);
    d
}

#[tokio::test]
async fn one_flush_rolls_events_up_into_every_period_and_the_catalogue() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    env.insert_movies(&[("m-a", "ABC-1", 0, 0), ("m-b", "ABC-2", 7, 7)])
        .await?;
    let keys = ingest_at(
        &env,
        &[
            (
                "e1",
                entity(EntityType::Movie, "m-a"),
                Action::View,
                3,
                "2027-01-01T00:30:00Z",
            ),
            (
                "e2",
                entity(EntityType::Movie, "m-a"),
                Action::Download,
                1,
                "2026-12-31T23:10:00Z",
            ),
            (
                "e3",
                entity(EntityType::Actor, "a-1"),
                Action::View,
                2,
                "2027-01-01T10:00:00Z",
            ),
            (
                "e4",
                entity(EntityType::Tag, "t-1"),
                Action::View,
                1,
                "2027-01-01T10:00:00Z",
            ),
            (
                "e5",
                entity(EntityType::Movie, "m-none"),
                Action::View,
                4,
                "2027-01-01T10:00:00Z",
            ),
        ],
    )
    .await?;

    let out = env.flush_worker(&["flush"], &[]).await?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Flushed {keys} keys, 0 errors.\n")
    );

    let movie = |id, b, v, d| rollup("movie", id, b, v, d);
    assert_eq!(
        env.docs("analytics_entity_totals").await?,
        vec![
            rollup("actor", "a-1", None, 2, 0),
            movie("m-a", None, 3, 1),
            movie("m-none", None, 4, 0),
            rollup("tag", "t-1", None, 1, 0),
        ]
    );
    assert_eq!(
        env.docs("analytics_entity_daily").await?,
        vec![
            rollup("actor", "a-1", Some(("date", "2027-01-01")), 2, 0),
            movie("m-a", Some(("date", "2026-12-31")), 0, 1),
            movie("m-a", Some(("date", "2027-01-01")), 3, 0),
            movie("m-none", Some(("date", "2027-01-01")), 4, 0),
            rollup("tag", "t-1", Some(("date", "2027-01-01")), 1, 0),
        ]
    );
    // Weeks, months and years are inside the totals documents.
    let weekly = env.period_docs(Period::Week).await?;
    assert!(
        weekly.contains(&movie("m-a", Some(("week", "2026-W53")), 3, 1)),
        "{weekly:?}"
    );
    assert_eq!(weekly.len(), 4);
    let monthly = env.period_docs(Period::Month).await?;
    assert!(monthly.contains(&movie("m-a", Some(("month", "2027-01")), 3, 0)));
    assert!(monthly.contains(&movie("m-a", Some(("month", "2026-12")), 0, 1)));
    assert_eq!(monthly.len(), 5);
    let yearly = env.period_docs(Period::Year).await?;
    assert!(yearly.contains(&movie("m-a", Some(("year", "2027")), 3, 0)));
    assert!(yearly.contains(&movie("m-a", Some(("year", "2026")), 0, 1)));
    assert_eq!(yearly.len(), 5);

    let hourly = env
        .mongo()
        .await?
        .collection::<Document>("analytics_hourly");
    let midnight = hourly
        .find_one(doc! {"entity_type": "movie", "date": "2027-01-01", "hour": 0})
        .projection(doc! {"_id": 0, "view": 1, "download": 1})
        .await?;
    assert_eq!(midnight, Some(doc! {"view": 3_i64, "download": 0_i64}));

    // Absolute replicas for catalogue movies; nothing else touches MySQL
    // (m-b's counts, which no event touched, stay; counts above the
    // rollups are the cut-over's: tests/suite/cutover.rs).
    assert_eq!(env.replica("m-a").await?, Some((3, 1)));
    assert_eq!(env.replica("m-b").await?, Some((7, 7)));
    assert_eq!(env.replica("m-none").await?, None);

    // Only the dedupe day hashes stay in Redis, and the rollup generation
    // this flush raised.
    let left = env.redis_keys().await?;
    assert_eq!(left.len(), 6, "{left:?}");
    let generation = format!("{}:rollups:generation", env.id);
    assert!(
        left.iter()
            .all(|k| k.contains(":seen:") || *k == generation),
        "{left:?}"
    );
    assert_eq!(env.hot_counters()?.rollup_generation().await?, 1);

    // A second flush with nothing new changes nothing.
    let totals_before = env.docs("analytics_entity_totals").await?;
    env.flush_finds_nothing().await?;
    assert_eq!(env.docs("analytics_entity_totals").await?, totals_before);
    assert_eq!(env.docs("analytics_entity_daily").await?.len(), 5);
    assert_eq!(env.replica("m-a").await?, Some((3, 1)));
    // Nor does it outdate what readers computed.
    assert_eq!(env.hot_counters()?.rollup_generation().await?, 1);
    Ok(())
}

/// A timestamp an hour ago, written in an offset whose wall-clock date is
/// not the UTC date, so the two bucketing modes must disagree.
fn straddling_timestamp() -> (String, String, String) {
    let t = Utc::now() - chrono::Duration::hours(1);
    let offset = if t.hour() >= 12 {
        14 * 3600
    } else {
        -12 * 3600
    };
    let local = t.with_timezone(&FixedOffset::east_opt(offset).expect("offset"));
    (
        local.to_rfc3339(),
        local.format("%Y-%m-%d").to_string(),
        t.format("%Y-%m-%d").to_string(),
    )
}

#[tokio::test]
async fn event_offset_mode_buckets_by_the_written_offset_and_utc_mode_by_utc() -> anyhow::Result<()>
{
    let (timestamp, offset_date, utc_date) = straddling_timestamp();
    assert_ne!(offset_date, utc_date);
    for (zone, expected) in [("event-offset", &offset_date), ("UTC", &utc_date)] {
        let mut env = TestEnv::new().await?;
        env.set("domains.jav.zone", zone);
        env.migrate().await?;
        let app = env.spawn_ingest().await?;
        let mut body = analytics_tests::event("tz-1", "movie", "m-1", "view", 1);
        body["occurred_at"] = timestamp.clone().into();
        assert_eq!(app.post_json(&body).await?.status().as_u16(), 202);
        let out = env.flush_worker(&["flush"], &[]).await?;
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "Flushed 1 keys, 0 errors.\n"
        );
        assert_eq!(
            env.docs("analytics_entity_daily").await?,
            vec![rollup("movie", "m-1", Some(("date", expected)), 1, 0)],
            "zone {zone}, event {timestamp}"
        );
    }
    Ok(())
}

/// Sends a fixed mix of events; returns the expected (views, downloads) of m-1 and m-2.
async fn send_mix(app: &analytics_tests::Ingest, prefix: &str) -> anyhow::Result<[(i64, i64); 2]> {
    let mut expected = [(0, 0); 2];
    for i in 0..30_i64 {
        let (movie, slot) = if i % 3 == 0 { ("m-2", 1) } else { ("m-1", 0) };
        let (action, value) = if i % 5 == 0 {
            ("download", 1)
        } else {
            ("view", 1 + i % 4)
        };
        app.send(&format!("{prefix}-{i}"), "movie", movie, action, value)
            .await?;
        if action == "view" {
            expected[slot].0 += value;
        } else {
            expected[slot].1 += value;
        }
        app.send(
            &format!("{prefix}-a{i}"),
            "actor",
            &format!("a-{}", i % 7),
            "view",
            1,
        )
        .await?;
    }
    Ok(expected)
}

async fn assert_exact(
    env: &TestEnv,
    expected: [(i64, i64); 2],
    actor_views: i64,
) -> anyhow::Result<()> {
    for (id, (views, downloads)) in [("m-1", expected[0]), ("m-2", expected[1])] {
        let totals = env.totals("movie", id).await?;
        assert_eq!(
            (totals.get(Action::View), totals.get(Action::Download)),
            (views, downloads),
            "{id}"
        );
        assert_eq!(
            env.replica(id).await?,
            Some((views, downloads)),
            "replica of {id}"
        );
    }
    let mut actors = 0;
    for d in env.docs("analytics_entity_totals").await? {
        if d.get_str("entity_type")? == "actor" {
            actors += d.get_i64("view")?;
        }
    }
    assert_eq!(actors, actor_views);
    // Sums of each period equal the totals: nothing doubled in any period.
    for period in Period::ALL {
        let docs = match period {
            Period::Day => env.docs("analytics_entity_daily").await?,
            _ => env.period_docs(period).await?,
        };
        let views: i64 = docs
            .iter()
            .filter(|d| d.get_str("entity_id") == Ok("m-1"))
            .map(|d| d.get_i64("view").unwrap_or(-1_000_000))
            .sum();
        assert_eq!(views, expected[0].0, "{period:?}");
    }
    let leftovers = env.leftover_keys().await?;
    assert!(leftovers.is_empty(), "{leftovers:?}");
    Ok(())
}

#[tokio::test]
async fn a_flush_killed_at_any_fault_point_then_rerun_loses_and_doubles_nothing(
) -> anyhow::Result<()> {
    killed_at_each_fault_point(
        "transaction",
        &["after-claim", "after-mongo", "after-mysql"],
    )
    .await
}

/// Without transactions a round's documents are written before its ledger
/// entries: a run killed between them (`in-transaction`) leaves documents
/// marked and batches unrecorded, and the next run adds only what each
/// document lacks.
#[tokio::test]
async fn with_document_marks_a_flush_killed_at_any_fault_point_loses_and_doubles_nothing(
) -> anyhow::Result<()> {
    killed_at_each_fault_point(
        "markers",
        &[
            "after-claim",
            "in-transaction",
            "after-mongo",
            "after-mysql",
        ],
    )
    .await
}

async fn killed_at_each_fault_point(exactly_once: &str, faults: &[&str]) -> anyhow::Result<()> {
    for &fault in faults {
        let mut env = TestEnv::new().await?;
        env.set("flush.batch_size", "3")
            .set("mongo.exactly_once", exactly_once);
        env.migrate().await?;
        env.insert_movies(&[("m-1", "FP-1", 0, 0), ("m-2", "FP-2", 0, 0)])
            .await?;
        let app = env.spawn_ingest().await?;
        let expected = send_mix(&app, fault).await?;

        let crashed = env
            .flush_worker(&["flush"], &[("ANALYTICS_FLUSH_FAULT", fault)])
            .await?;
        assert_eq!(
            crashed.status.code(),
            Some(flush_worker::fault::EXIT_CODE),
            "{fault}"
        );
        assert!(
            crashed.stdout.is_empty(),
            "{fault}: a killed run prints no result"
        );

        env.flush_until_clean().await?;
        assert_exact(&env, expected, 30).await?;
        env.flush_finds_nothing().await?;
        assert_exact(&env, expected, 30).await?;
        app.stop().await;
    }
    Ok(())
}

#[tokio::test]
async fn two_flushes_started_at_once_count_everything_once() -> anyhow::Result<()> {
    two_flushes_at_once("transaction").await
}

/// Without transactions, two runs upserting the same new documents race on
/// the unique keys; the loser adds what it lacks.
#[tokio::test]
async fn with_document_marks_two_flushes_started_at_once_count_everything_once(
) -> anyhow::Result<()> {
    two_flushes_at_once("markers").await
}

async fn two_flushes_at_once(exactly_once: &str) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("flush.batch_size", "2")
        .set("mongo.exactly_once", exactly_once);
    env.migrate().await?;
    env.insert_movies(&[("m-1", "CC-1", 0, 0), ("m-2", "CC-2", 0, 0)])
        .await?;
    let app = env.spawn_ingest().await?;
    let expected = send_mix(&app, "cc").await?;

    let (a, b) = tokio::join!(
        env.flush_worker(&["flush"], &[]),
        env.flush_worker(&["flush"], &[])
    );
    for out in [a?, b?] {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    env.flush_until_clean().await?;
    assert_exact(&env, expected, 30).await
}

#[tokio::test]
async fn events_ingested_during_a_flush_appear_after_the_next_flush() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("flush.batch_size", "1");
    env.migrate().await?;
    env.insert_movies(&[("m-1", "DF-1", 0, 0), ("m-2", "DF-2", 0, 0)])
        .await?;
    let app = env.spawn_ingest().await?;
    let first = send_mix(&app, "before").await?;

    let (flushed, during) =
        tokio::join!(env.flush_worker(&["flush"], &[]), send_mix(&app, "during"));
    assert!(flushed?.status.success());
    let during = during?;
    env.flush_until_clean().await?;
    let expected = [
        (first[0].0 + during[0].0, first[0].1 + during[0].1),
        (first[1].0 + during[1].0, first[1].1 + during[1].1),
    ];
    assert_exact(&env, expected, 60).await
}

#[tokio::test]
async fn a_shard_flushes_only_its_partitions() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let keys = KeySpace::new(&env.id, 16)?;
    // Two events for two entities, in partitions we can tell apart.
    let (low, high) = (
        (0..)
            .map(|i| format!("lo-{i}"))
            .find(|id| keys.partition_of(id) < 8)
            .expect("low id"),
        (0..)
            .map(|i| format!("hi-{i}"))
            .find(|id| keys.partition_of(id) >= 8)
            .expect("high id"),
    );
    let now = Utc::now().to_rfc3339();
    ingest_at(
        &env,
        &[
            (
                &low,
                entity(EntityType::Movie, "low"),
                Action::View,
                1,
                &now,
            ),
            (
                &high,
                entity(EntityType::Movie, "high"),
                Action::View,
                1,
                &now,
            ),
        ],
    )
    .await?;
    let out = env
        .flush_worker(&["flush", "--partitions", "0-7"], &[])
        .await?;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Flushed 1 keys, 0 errors.\n"
    );
    assert_eq!(env.totals("movie", "low").await?.get(Action::View), 1);
    assert_eq!(env.totals("movie", "high").await?.get(Action::View), 0);
    let out = env
        .flush_worker(&["flush", "--partitions", "8-15"], &[])
        .await?;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Flushed 1 keys, 0 errors.\n"
    );
    assert_eq!(env.totals("movie", "high").await?.get(Action::View), 1);
    Ok(())
}

#[tokio::test]
async fn an_entity_spread_over_partitions_is_written_once_per_document() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let events: Vec<(String, EntityKey, Action, i64, &str)> = (0..12)
        .map(|i| {
            (
                format!("spread-{i}"),
                entity(EntityType::Movie, "m-1"),
                Action::View,
                1,
                "2027-01-01T00:30:00Z",
            )
        })
        .collect();
    let borrowed: Vec<(&str, EntityKey, Action, i64, &str)> = events
        .iter()
        .map(|(id, e, a, v, t)| (id.as_str(), e.clone(), *a, *v, *t))
        .collect();
    let keys = ingest_at(&env, &borrowed).await?;
    assert!(keys >= 4, "events landed in only {keys} partitions");

    let out = env
        .flush_worker(&["flush"], &[("RUST_LOG", "flush_worker=info")])
        .await?;
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Flushed {keys} keys, 0 errors.\n")
    );
    let log = String::from_utf8_lossy(&out.stderr);
    // totals (its week, month and year inside) + day + hourly, each
    // upserted once.
    assert!(log.contains("\"documents\":3"), "{log}");
    assert!(log.contains(&format!("\"batches\":{keys}")), "{log}");
    assert_eq!(env.totals("movie", "m-1").await?.get(Action::View), 12);
    let ledger = env
        .mongo()
        .await?
        .collection::<Document>("analytics_flush_ledger");
    assert_eq!(
        ledger.count_documents(doc! {}).await?,
        keys as u64,
        "one ledger entry per batch"
    );
    Ok(())
}

#[tokio::test]
async fn migrate_accepts_an_applied_migration_edited_only_in_its_comments() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    // As a database migrated before the catalogue migration's comment changed.
    let mut mysql = env.mysql().await?;
    sqlx::query("UPDATE _sqlx_migrations SET checksum = UNHEX(?) WHERE version = 20261121000001")
        .bind("7623d0c53c6c35d1f8fedaf75100df32d6202c83a61a269848ded7d5ff0719b4d786c0a8c6c02938ab87aa7c0629ada6")
        .execute(&mut mysql)
        .await?;
    env.migrate().await?;
    // Any other change is still refused.
    sqlx::query("UPDATE _sqlx_migrations SET checksum = UNHEX(REPEAT('00', 48)) WHERE version = 20261121000001")
        .execute(&mut mysql)
        .await?;
    let out = env.flush_worker(&["migrate"], &[]).await?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("previously applied but has been modified")
    );
    Ok(())
}
