//! Contract v2 through the pipeline: every action and alias counted, a
//! random mix against a model (counts, sums, unique viewers, log rows),
//! registers that re-application cannot inflate, and the raw log's own
//! fault point.

use std::collections::{BTreeMap, BTreeSet};

use analytics_domain::rollup::{BucketKey, DayKey, PeriodOrd, RollupDelta};
use analytics_domain::unique::{Register, Sketch};
use analytics_domain::vocabulary::{ValueRule, ALIASES};
use analytics_domain::{Action, Period};
use analytics_store::rollups::{registers_of, BatchDelta};
use analytics_tests::{jav_entity, TestEnv};
use mongodb::bson::{doc, Document};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const BATCH: &str = "/api/v1/analytics/events/batch";

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

/// Sends events in batches of 100; asserts each was accepted.
async fn send_all(app: &analytics_tests::Ingest, events: &[Value]) -> anyhow::Result<()> {
    for chunk in events.chunks(100) {
        let (status, body) = app.post_json_to(BATCH, &json!(chunk)).await?;
        anyhow::ensure!(status == 200, "{status} {body}");
        anyhow::ensure!(
            body["accepted"].as_u64() == Some(chunk.len() as u64),
            "{body}"
        );
    }
    Ok(())
}

fn get(doc: &Document, field: &str) -> i64 {
    doc.get_i64(field).unwrap_or(0)
}

#[tokio::test]
async fn every_action_and_alias_is_counted_and_logged() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let app = env.spawn_ingest().await?;
    let mut events = Vec::new();
    let mut expected = Vec::new();
    for action in Action::ALL {
        let spec = action.spec();
        let entity_type = spec.types[0].as_str();
        let id = format!("x-{}", spec.name);
        let value = if spec.value == ValueRule::Stars { 4 } else { 1 };
        events.push(
            json!({"event_id": format!("c-{}", spec.name), "domain": "jav",
            "entity_type": entity_type, "entity_id": id, "action": spec.name,
            "value": value, "occurred_at": now(), "user_id": 1}),
        );
        expected.push((entity_type, id, action));
    }
    for (alias, action, implied) in ALIASES {
        let id = format!("a-{alias}");
        let mut e = json!({"event_id": format!("a-{alias}"), "domain": "jav",
            "entity_id": id, "action": alias, "occurred_at": now(), "session_id": "s"});
        if action.spec().value == ValueRule::Stars {
            e["value"] = json!(5);
        }
        let entity_type = implied.unwrap_or(action.spec().types[0]).as_str();
        expected.push((entity_type, id, *action));
        events.push(e);
    }
    send_all(&app, &events).await?;
    env.flush_until_clean().await?;
    for (entity_type, id, action) in &expected {
        let totals = env.totals(entity_type, id).await?;
        assert_eq!(totals.get(*action), 1, "{entity_type}/{id} {action}");
        assert_eq!(totals.nonzero().count(), 1, "{entity_type}/{id}");
    }
    assert_eq!(env.logged_events().await?, events.len() as i64);
    // A row holds the normalised event and the client's network only.
    let mut db = env.mysql().await?;
    let row: (String, String, String, Option<String>) = sqlx::query_as(
        // A binary collation reads as VARBINARY: the reader converts.
        "SELECT CONVERT(action USING utf8mb4), CONVERT(entity_type USING utf8mb4), \
         CONVERT(client_network USING utf8mb4), CONVERT(session_id USING utf8mb4) FROM analytics_events \
         WHERE event_id = 'a-stream.stop'",
    )
    .fetch_one(&mut db)
    .await?;
    assert_eq!(
        row,
        (
            "finish".into(),
            "movie".into(),
            "127.0.0.0".into(),
            Some("s".into())
        )
    );
    let leftovers = env.leftover_keys().await?;
    assert!(leftovers.is_empty(), "{leftovers:?}");
    app.stop().await;
    Ok(())
}

/// What the model expects of one movie.
#[derive(Debug, Default)]
struct MovieModel {
    counts: BTreeMap<&'static str, i64>,
    watch_seconds: i64,
    rating_stars: i64,
    completions: i64,
    viewers: BTreeSet<String>,
}

#[tokio::test]
async fn a_random_v2_mix_matches_a_model() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let app = env.spawn_ingest().await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let mut model: BTreeMap<String, MovieModel> = BTreeMap::new();
    let mut site_users = BTreeSet::new();
    let mut events = Vec::new();
    for i in 0..800 {
        let movie = format!("m-{}", rng.random_range(0..5));
        let user = rng.random_range(0..60);
        // A third of the viewers are guests, known by their session.
        let (who, viewer) = if user % 3 == 0 {
            (
                json!({"session_id": format!("s-{user}")}),
                format!("s:s-{user}"),
            )
        } else {
            (json!({"user_id": user}), format!("u:{user}"))
        };
        let m = model.entry(movie.clone()).or_default();
        let mut e = json!({"event_id": format!("mix-{i}"), "domain": "jav",
            "entity_type": "movie", "entity_id": movie, "occurred_at": now()});
        for (k, v) in who.as_object().into_iter().flatten() {
            e[k] = v.clone();
        }
        let action: &'static str = match rng.random_range(0..6) {
            0 => "start",
            1 => {
                let w = rng.random_range(1..120);
                e["watched_seconds"] = json!(w);
                m.watch_seconds += w;
                "progress"
            }
            2 => {
                let (p, d) = (rng.random_range(0..=6000), 6000);
                e["position_seconds"] = json!(p);
                e["duration_seconds"] = json!(d);
                m.watch_seconds += p;
                m.completions += i64::from(p * 100 >= 90 * d);
                "finish"
            }
            3 => {
                let stars = rng.random_range(1..=5);
                e["value"] = json!(stars);
                m.rating_stars += stars;
                "rate"
            }
            4 => "like",
            _ => "unlike",
        };
        e["action"] = json!(action);
        *m.counts.entry(action).or_default() += 1;
        if matches!(action, "start" | "progress" | "finish") {
            m.viewers.insert(viewer.clone());
            site_users.insert(viewer);
        }
        events.push(e);
    }
    send_all(&app, &events).await?;
    // Retries change nothing.
    let (_, again) = app.post_json_to(BATCH, &json!(&events[..50])).await?;
    assert_eq!(again["duplicates"], 50);
    env.flush_until_clean().await?;

    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let db = env.mongo().await?;
    for (movie, m) in &model {
        let filter = doc! {"entity_type": "movie", "entity_id": movie};
        let totals = db
            .collection::<Document>("analytics_entity_totals")
            .find_one(filter.clone())
            .await?
            .ok_or_else(|| anyhow::anyhow!("no totals for {movie}"))?;
        for (action, n) in &m.counts {
            assert_eq!(get(&totals, action), *n, "{movie} {action}");
        }
        assert_eq!(get(&totals, "watch_seconds"), m.watch_seconds, "{movie}");
        assert_eq!(get(&totals, "rating_stars"), m.rating_stars, "{movie}");
        assert_eq!(get(&totals, "completions"), m.completions, "{movie}");
        let likes = m.counts.get("like").copied().unwrap_or(0);
        let unlikes = m.counts.get("unlike").copied().unwrap_or(0);
        assert_eq!(get(&totals, "likes_net"), likes - unlikes, "{movie}");
        let mut day_filter = filter.clone();
        day_filter.insert("date", &today);
        let daily = db
            .collection::<Document>("analytics_entity_daily")
            .find_one(day_filter)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no day for {movie}"))?;
        // Small sets are counted exactly by the sketch.
        assert_eq!(
            registers_of(&daily, "viewers").estimate(),
            m.viewers.len() as u64,
            "{movie}"
        );
    }
    let mut site = Sketch::default();
    let mut hours = db
        .collection::<Document>("analytics_hourly")
        .find(doc! {"entity_type": "site", "date": &today})
        .await?;
    while hours.advance().await? {
        site.merge(&registers_of(&hours.deserialize_current()?, "users"));
    }
    assert_eq!(site.estimate(), site_users.len() as u64);
    assert_eq!(env.logged_events().await?, events.len() as i64);
    app.stop().await;
    Ok(())
}

#[tokio::test]
async fn applying_the_same_registers_again_never_inflates_unique_viewers() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let rollups = env.rollup_store().await?;
    let movie = jav_entity(analytics_domain::EntityType::Movie, "m-1");
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 21).expect("date");
    let mut delta = RollupDelta::default();
    for user in 0..5000 {
        let r = Register::of(&format!("u:{user}"));
        let field = format!("~2026-11-21|{}", r.index);
        assert!(delta.add_field(&movie, &field, i64::from(r.rank)));
    }
    // Two ledger entries for the same registers: what a batch applied twice
    // without its ledger entry would do.
    for batch_id in ["first", "again"] {
        rollups
            .apply_batches(&[BatchDelta {
                batch_id,
                sequence: "0",
                keys: 1,
                delta: &delta,
            }])
            .await?;
    }
    let key = DayKey {
        entity: movie.clone(),
        date,
    };
    let expected = delta.day_viewers[&key].estimate();
    let bucket = BucketKey {
        period: PeriodOrd::of(Period::Day),
        entity: movie,
        label: "2026-11-21".into(),
    };
    let daily = env
        .mongo()
        .await?
        .collection::<Document>("analytics_entity_daily")
        .find_one(doc! {"entity_id": &bucket.entity.entity_id, "date": &bucket.label})
        .await?
        .ok_or_else(|| anyhow::anyhow!("no daily document"))?;
    assert_eq!(registers_of(&daily, "viewers").estimate(), expected);
    let error = (expected as f64 - 5000.0).abs() / 5000.0;
    assert!(error <= 0.02, "{expected}");
    Ok(())
}

#[tokio::test]
async fn a_flush_killed_between_the_log_copy_and_the_trim_loses_and_doubles_no_row(
) -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let app = env.spawn_ingest().await?;
    let events: Vec<Value> = (0..300)
        .map(|i| {
            json!({"event_id": format!("log-{i}"), "domain": "jav", "entity_type": "movie",
                "entity_id": format!("m-{}", i % 7), "action": "start", "occurred_at": now(),
                "user_id": i % 11})
        })
        .collect();
    send_all(&app, &events).await?;
    let crashed = env
        .flush_worker(&["flush"], &[("ANALYTICS_FLUSH_FAULT", "after-log-copy")])
        .await?;
    assert_eq!(crashed.status.code(), Some(flush_worker::fault::EXIT_CODE));
    let copied = env.logged_events().await?;
    assert!(
        copied > 0 && copied < 300,
        "copied {copied} before the kill"
    );
    env.leases_expired().await?;
    env.flush_until_clean().await?;
    assert_eq!(env.logged_events().await?, 300);
    let mut db = env.mysql().await?;
    let distinct: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT event_id) FROM analytics_events")
        .fetch_one(&mut db)
        .await?;
    assert_eq!(distinct, 300);
    // The streams are gone with everything else the flush drained.
    let leftovers = env.leftover_keys().await?;
    assert!(leftovers.is_empty(), "{leftovers:?}");
    app.stop().await;
    Ok(())
}

#[tokio::test]
async fn with_the_raw_log_off_events_are_counted_but_not_logged() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("events.raw_log", "false");
    env.migrate().await?;
    let app = env.spawn_ingest().await?;
    app.send("off-1", "movie", "m-1", "view", 1).await?;
    env.flush_until_clean().await?;
    assert_eq!(env.totals("movie", "m-1").await?.get(Action::View), 1);
    assert_eq!(env.logged_events().await?, 0);
    app.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_long_log_copy_keeps_every_partitions_lease() -> anyhow::Result<()> {
    // Copying many partitions' logs one after the other takes longer than
    // the lease (1 s here), so the partitions copied last need their leases
    // renewed while the first ones are copied.
    let mut env = TestEnv::new().await?;
    env.set("flush.lease_ttl_ms", "1000");
    env.migrate().await?;
    let counters = env.hot_counters()?;
    let rules = analytics_domain::EventRules::default();
    let mode = analytics_domain::BucketMode::default();
    let now = chrono::Utc::now();
    let events: Vec<analytics_domain::Event> = (0..40_000)
        .map(|i| {
            let body = json!({"event_id": format!("long-{i}"), "domain": "jav",
                "entity_type": "movie", "entity_id": format!("m{}", i % 500), "action": "view",
                "occurred_at": now.to_rfc3339(), "user_id": i % 1000});
            rules
                .validate(
                    body.as_object().expect("object"),
                    now,
                    &analytics_domain::ValueLimits::contract(),
                )
                .map_err(|e| anyhow::anyhow!("{e:?}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let prepared: Vec<_> = events
        .iter()
        .map(|e| {
            let log = e.log_entry(&mode, now, &Default::default());
            (e, e.increments(&mode), log)
        })
        .collect();
    for chunk in prepared.chunks(500) {
        let items: Vec<analytics_store::hot_counters::IngestItem> = chunk
            .iter()
            .map(
                |(event, increments, log_entry)| analytics_store::hot_counters::IngestItem {
                    event,
                    increments,
                    log_entry,
                },
            )
            .collect();
        counters.ingest(&items, true).await?;
    }
    let out = env.flush_worker(&["flush"], &[]).await?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.logged_events().await?, 40_000);
    Ok(())
}
