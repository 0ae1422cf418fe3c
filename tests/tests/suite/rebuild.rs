//! Rebuilding rollups from the raw log: damaged and lost day and hour
//! documents come back exactly as the flush wrote them (counts, sums,
//! registers, weeks, months, years, totals and boards), days outside the
//! range are untouched, a second run changes nothing, and days that still
//! wait in Redis or lie beyond retention are refused.

use std::collections::BTreeMap;

use analytics_tests::TestEnv;
use mongodb::bson::{doc, Bson, Document};
use serde_json::{json, Value};

const IMPORT: &str = "/api/v1/analytics/events/import";
/// The rollup collections besides the totals (which hold the weeks,
/// months and years).
const COLLECTIONS: [&str; 2] = ["analytics_entity_daily", "analytics_hourly"];

/// The `$inc` of a totals document that changes its all-time figures and
/// its 2020-W53, 2021-01 and 2021 buckets alike (a flush writes them so).
fn totals_and_periods(changes: Document) -> Document {
    let mut inc = changes.clone();
    for bucket in ["weeks.2020-W53", "months.2021-01", "years.2021"] {
        for (field, n) in &changes {
            inc.insert(format!("{bucket}.{field}"), n.clone());
        }
    }
    doc! {"$inc": inc}
}

fn event(id: &str, movie: &str, action: &str, at: &str, user: i64) -> Value {
    json!({"event_id": id, "domain": "jav", "entity_type": "movie", "entity_id": movie,
           "action": action, "occurred_at": at, "user_id": user, "watched_seconds": 30})
}

/// A JSON value with every object's keys sorted.
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// Every rollup document and board, without ids and times, sorted.
async fn snapshot(env: &TestEnv) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::new();
    for d in env.totals_docs().await? {
        all.push(format!(
            "analytics_entity_totals {}",
            canonical(Bson::Document(d).into_relaxed_extjson())
        ));
    }
    for collection in COLLECTIONS {
        for mut d in env.docs(collection).await? {
            d.remove("_id");
            all.push(format!(
                "{collection} {}",
                canonical(Bson::Document(d).into_relaxed_extjson())
            ));
        }
    }
    for mut d in env.docs("analytics_leaderboards").await? {
        d.remove("_id");
        // A re-ranked board's version and time are its own.
        d.remove("updated_at");
        d.remove("version");
        all.push(format!(
            "board {}",
            canonical(Bson::Document(d).into_relaxed_extjson())
        ));
    }
    all.sort();
    Ok(all)
}

async fn rebuild(env: &TestEnv, args: &[&str]) -> anyhow::Result<(Option<i32>, String, String)> {
    let mut full = vec!["rebuild"];
    full.extend_from_slice(args);
    let out = env.flush_worker(&full, &[]).await?;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        analytics_tests::job_messages(&out.stderr),
    ))
}

#[tokio::test]
async fn a_rebuild_restores_damaged_and_lost_rollups_from_the_raw_log() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("retention.raw_log_days", "0");
    env.migrate().await?;
    env.insert_movies(&[("m-1", "RB-1", 0, 0)]).await?;
    let ingest = env.spawn_ingest().await?;
    let events = json!([
        event("a1", "m-1", "view", "2021-01-01T10:00:00Z", 1),
        event("a2", "m-1", "view", "2021-01-01T10:30:00Z", 2),
        event("a3", "m-1", "finish", "2021-01-01T11:00:00Z", 3),
        event("a4", "m-2", "view", "2021-01-01T11:00:00Z", 1),
        event("b1", "m-1", "view", "2021-01-02T09:00:00Z", 2),
        event("b2", "m-2", "download", "2021-01-02T09:00:00Z", 3),
        event("c1", "m-1", "view", "2021-01-04T08:00:00Z", 4),
    ]);
    let (status, body) = ingest.post_json_to(IMPORT, &events).await?;
    assert_eq!((status, &body["accepted"]), (200, &json!(7)), "{body}");
    env.flush_until_clean().await?;
    let model = snapshot(&env).await?;
    assert!(model.len() > 20, "{model:?}");

    // The damage a bad flush or a manual edit leaves: a day counted five
    // views too many (in its week, month, year and totals too, as a flush
    // writes them), a day lost with what it added, an hour lost, a day's
    // unique viewers wiped.
    let db = env.mongo().await?;
    let m1 = |extra: Document| {
        let mut d = doc! {"domain": "jav", "entity_type": "movie", "entity_id": "m-1"};
        d.extend(extra);
        d
    };
    db.collection::<Document>("analytics_entity_daily")
        .update_one(
            m1(doc! {"date": "2021-01-02"}),
            doc! {"$inc": {"view": 5_i64}},
        )
        .await?;
    db.collection::<Document>("analytics_entity_totals")
        .update_one(m1(doc! {}), totals_and_periods(doc! {"view": 5_i64}))
        .await?;
    // The bad flush wrote its total to the catalogue too.
    assert_eq!(env.replica("m-1").await?, Some((4, 0)));
    sqlx::query("UPDATE jav SET views = 9 WHERE uuid = 'm-1'")
        .execute(&mut env.mysql().await?)
        .await?;
    let m2 = doc! {"domain": "jav", "entity_type": "movie", "entity_id": "m-2"};
    let mut lost_day = m2.clone();
    lost_day.insert("date", "2021-01-01");
    db.collection::<Document>("analytics_entity_daily")
        .delete_one(lost_day)
        .await?;
    db.collection::<Document>("analytics_entity_totals")
        .update_one(
            m2,
            totals_and_periods(doc! {"view": -1_i64, "watch_seconds": -30_i64}),
        )
        .await?;
    db.collection::<Document>("analytics_hourly")
        .delete_many(doc! {"entity_type": "movie", "date": "2021-01-01", "hour": 10})
        .await?;
    db.collection::<Document>("analytics_entity_daily")
        .update_one(
            m1(doc! {"date": "2021-01-01"}),
            doc! {"$unset": {"viewers": ""}},
        )
        .await?;
    // Day 4 is outside the range: its own damage stays, to show it.
    db.collection::<Document>("analytics_entity_daily")
        .update_one(
            m1(doc! {"date": "2021-01-04"}),
            doc! {"$inc": {"view": 1_i64}},
        )
        .await?;
    assert_ne!(snapshot(&env).await?, model);

    // A page per film: each is read and corrected on its own, the hours
    // they share last.
    let (code, stdout, stderr) = rebuild(
        &env,
        &[
            "--from",
            "2021-01-01",
            "--to",
            "2021-01-02",
            "--entities-per-page",
            "1",
        ],
    )
    .await?;
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert_eq!(
        stdout,
        "Read 6 raw-log events of 2021-01-01..2021-01-02 (every entity type).\n\
         Corrected 2 day and 1 hour documents (5 documents written with their totals, which hold the weeks, months and years).\n\
         Replaced the unique-viewer registers of 10 documents; re-ranked 40 leaderboards; 1 catalogue replicas written.\n"
    );
    let mut after = snapshot(&env).await?;
    // Everything is the model again but day 4's own damage (its document
    // and its day's boards, re-ranked from it).
    let day4 = |s: &String| {
        (s.starts_with("analytics_entity_daily") && s.contains("\"date\":\"2021-01-04\""))
            || (s.starts_with("board") && s.contains("\"bucket\":\"2021-01-04\""))
    };
    let damaged4: Vec<String> = after.iter().filter(|s| day4(s)).cloned().collect();
    after.retain(|s| !day4(s));
    let mut expected = model.clone();
    let model4: Vec<String> = expected.iter().filter(|s| day4(s)).cloned().collect();
    expected.retain(|s| !day4(s));
    assert_eq!(after, expected);
    assert_ne!(damaged4, model4);
    assert_eq!(
        env.replica("m-1").await?,
        Some((4, 0)),
        "lowered back to the totals"
    );

    // Again: nothing to change.
    let (code, stdout, _) = rebuild(&env, &["--from", "2021-01-01", "--to", "2021-01-02"]).await?;
    assert_eq!(code, Some(0));
    assert!(
        stdout.contains("Nothing changed: the rollups of these days match the raw log."),
        "{stdout}"
    );

    // Day 4, rebuilt for movies only, comes back too.
    let (code, stdout, stderr) = rebuild(
        &env,
        &[
            "--from",
            "2021-01-04",
            "--to",
            "2021-01-04",
            "--entity-type",
            "movie",
        ],
    )
    .await?;
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    assert!(
        stdout.starts_with("Read 1 raw-log events of 2021-01-04..2021-01-04 (movies)"),
        "{stdout}"
    );
    // Its week and the totals took its extra view away with it: the
    // damage was in the day alone, so they are one lower than the model.
    let totals = env.totals("movie", "m-1").await?;
    assert_eq!(totals.get(analytics_domain::Action::View), 4 - 1);
    assert_eq!(env.replica("m-1").await?, Some((3, 0)));
    Ok(())
}

#[tokio::test]
async fn a_rebuild_refuses_days_still_waiting_and_beyond_retention() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("retention.raw_log_days", "30");
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let now = chrono::Utc::now();
    let today = now.date_naive().to_string();
    let (status, _) = ingest
        .post_json_to(
            IMPORT,
            &json!([event("w1", "m-1", "view", &now.to_rfc3339(), 1)]),
        )
        .await?;
    assert_eq!(status, 200);
    let (code, _, stderr) = rebuild(&env, &["--from", &today, "--to", &today]).await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("These days still have events waiting in Redis (4 counter fields, 1 raw-log lines, 0 batches an interrupted flush left open): run flush-worker flush, then rebuild."),
        "{stderr}"
    );
    env.flush_until_clean().await?;
    let (code, stdout, stderr) = rebuild(&env, &["--from", &today, "--to", &today]).await?;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("Nothing changed"), "{stdout}");

    let old = (now.date_naive() - chrono::Duration::days(30)).to_string();
    let first = (now.date_naive() - chrono::Duration::days(29)).to_string();
    let (code, _, stderr) = rebuild(&env, &["--from", &old, "--to", &today]).await?;
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr,
        format!("The raw event log keeps 30 days (retention.raw_log_days): --from must be on or after {first}.\n")
    );
    let (code, _, stderr) = rebuild(&env, &["--from", &today, "--to", &first]).await?;
    assert_eq!(
        (code, stderr.as_str()),
        (Some(2), "--from must not be after --to.\n")
    );
    let (code, _, stderr) = rebuild(
        &env,
        &["--from", &today, "--to", &today, "--entity-type", "site"],
    )
    .await?;
    assert_eq!(
        (code, stderr.as_str()),
        (Some(2), "--entity-type must be one of movie, actor, tag.\n")
    );
    // A logged event that no longer validates (its domain left the
    // configuration) would be taken out of its day: nothing is written.
    // Today's first second: an hour ago would be yesterday, outside the
    // range, for a test run in the first hour of a UTC day.
    let at = format!("{today} 00:00:00");
    sqlx::query(
        "INSERT INTO analytics_events (event_id, domain, entity_type, entity_id, action, value, \
         occurred_at, local_date, local_hour, received_at) VALUES ('gone-1', 'gone', 'movie', \
         'm-9', 'view', 1, ?, DATE(?), 0, ?)",
    )
    .bind(&at)
    .bind(&at)
    .bind(&at)
    .execute(&mut env.mysql().await?)
    .await?;
    let before = env.docs("analytics_entity_daily").await?;
    let (code, _, stderr) = rebuild(&env, &["--from", &today, "--to", &today]).await?;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "1 raw-log events of the range do not validate under the configuration now \
             (the first: event \"gone-1\"); nothing was written."
        ),
        "{stderr}"
    );
    assert_eq!(env.docs("analytics_entity_daily").await?, before);
    Ok(())
}
