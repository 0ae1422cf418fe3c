//! Taking over a live catalogue: history in `jav.views` / `jav.downloads` is
//! never lowered by a flush and becomes an opening balance at the cut-over;
//! an old database's duplicate rollup documents are merged before the
//! unique indexes; the old system's Redis counters and markers cross the
//! switch exactly once.

use analytics_domain::{Action, Period};
use analytics_store::rollups::counts_of;
use analytics_tests::{event, Telemetry, TestEnv, OPERATOR_TOKEN};
use mongodb::bson::{doc, Document};
use redis::AsyncCommands;

/// The cut-over reads the replaced system's keys from the one Redis it
/// wrote them to, so it runs there also when the suite runs on a cluster
/// (where it refuses, as the last test shows).
async fn on_one_redis() -> anyhow::Result<TestEnv> {
    let mut env = TestEnv::new().await?;
    env.use_redis(analytics_tests::redis_url());
    Ok(env)
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

async fn flush(env: &TestEnv) -> anyhow::Result<String> {
    let out = env.flush_worker(&["flush"], &[]).await?;
    anyhow::ensure!(
        out.status.success(),
        "flush failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout(&out))
}

async fn cutover(env: &TestEnv, args: &[&str]) -> anyhow::Result<String> {
    let mut all = vec!["cutover"];
    all.extend_from_slice(args);
    let out = env.flush_worker(&all, &[]).await?;
    anyhow::ensure!(
        out.status.success(),
        "cutover failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(stdout(&out))
}

/// The old system's keys under this test's own names, so tests run side by side.
fn isolate_legacy_keys(env: &mut TestEnv) -> (String, String, String) {
    let counters = format!("{}-old:counters", env.id);
    let flushing = format!("{}-old:flushing:", env.id);
    let markers = format!("{}-old:evt:", env.id);
    env.set("cutover.legacy_counter_prefix", counters.clone())
        .set("cutover.legacy_flushing_prefix", flushing.clone())
        .set("cutover.legacy_marker_prefix", markers.clone());
    (counters, flushing, markers)
}

async fn pipeline_problems(env: &TestEnv) -> anyhow::Result<Vec<String>> {
    let telemetry = Telemetry::spawn(env).await?;
    let (status, body) = telemetry
        .get("/api/v1/telemetry/pipeline", Some(OPERATOR_TOKEN))
        .await?;
    anyhow::ensure!(status == 200, "pipeline: {status} {body}");
    Ok(body["problems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(String::from))
        .collect())
}

#[tokio::test]
async fn history_is_never_lowered_and_is_exact_after_cutover_twice() -> anyhow::Result<()> {
    let mut env = on_one_redis().await?;
    isolate_legacy_keys(&mut env);
    env.migrate().await?;
    env.insert_movies(&[
        ("h-1", "HIS-1", 50_000, 1_200),
        ("h-2", "HIS-2", 10, 0),
        ("n-1", "NEW-1", 0, 0),
    ])
    .await?;
    // The old system had counted h-2's ten views itself (its replica equals
    // its total): nothing of h-2 is history the rollups lack.
    env.mongo()
        .await?
        .collection::<Document>("analytics_entity_totals")
        .insert_one(
            doc! {"domain": "jav", "entity_type": "movie", "entity_id": "h-2",
            "view": 10_i64, "download": 0_i64},
        )
        .await?;
    let app = env.spawn_ingest().await?;
    app.send("a1", "movie", "h-1", "view", 1).await?;
    app.send("a2", "movie", "h-2", "view", 2).await?;
    app.send("a3", "movie", "n-1", "download", 1).await?;
    assert_eq!(flush(&env).await?, "Flushed 3 keys, 0 errors.\n");

    // h-1's history is kept, not overwritten by the rollups' 1 view.
    assert_eq!(env.replica("h-1").await?, Some((50_000, 1_200)));
    assert_eq!(env.replica("h-2").await?, Some((12, 0)));
    assert_eq!(env.replica("n-1").await?, Some((0, 1)));
    let problems = pipeline_problems(&env).await?;
    assert!(
        problems.iter().any(|p| p
            .starts_with("catalogue counts not imported — run flush-worker cutover (1 films keep")),
        "{problems:?}"
    );
    let parity = env.flush_worker(&["parity-check"], &[]).await?;
    assert_eq!(
        stdout(&parity),
        "HIS-1: MySQL(50000/1200) vs Mongo(1/0)\nChecked: 3, Mismatches: 1\n"
    );

    // Still kept while more is counted, however much.
    app.send("a4", "movie", "h-1", "view", 1).await?;
    flush(&env).await?;
    assert_eq!(env.replica("h-1").await?, Some((50_000, 1_200)));

    // A dry run says what it would do and writes nothing.
    let dry = cutover(&env, &["--dry-run"]).await?;
    assert_eq!(
        dry,
        "Duplicate rollup documents: none.\n\
         Opening balances: would be recorded for 1 of 3 films (+50000 views, +1200 downloads); \
         1 replicas to write.\n\
         Legacy counters: none.\n\
         Legacy dedupe markers: none.\n\
         Dry run: nothing was written.\n"
    );
    assert_eq!(env.replica("h-1").await?, Some((50_000, 1_200)));
    assert_eq!(env.totals("movie", "h-1").await?.get(Action::View), 2);

    let first = cutover(&env, &[]).await?;
    assert_eq!(
        first,
        "Duplicate rollup documents: none.\n\
         Opening balances: recorded for 1 of 3 films (+50000 views, +1200 downloads); \
         1 replicas written.\n\
         Legacy counters: none.\n\
         Legacy dedupe markers: none.\n"
    );
    // History plus the two views counted since, everywhere all-time.
    assert_eq!(env.replica("h-1").await?, Some((50_002, 1_200)));
    let totals = env
        .mongo()
        .await?
        .collection::<Document>("analytics_entity_totals")
        .find_one(doc! {"entity_id": "h-1"})
        .await?
        .expect("h-1 totals");
    assert_eq!(totals.get_i64("view")?, 50_002);
    assert_eq!(totals.get_i64("download")?, 1_200);
    let opening = totals.get_document("opening_balance")?;
    assert_eq!(opening.get_i64("view")?, 50_000);
    assert_eq!(opening.get_i64("download")?, 1_200);
    assert!(opening.get_datetime("recorded_at").is_ok());
    // The series stay what was counted: the balance is no event of today.
    let days = env.docs("analytics_entity_daily").await?;
    let h1_days: i64 = days
        .iter()
        .filter(|d| d.get_str("entity_id") == Ok("h-1"))
        .map(|d| d.get_i64("view").unwrap_or(0))
        .sum();
    assert_eq!(h1_days, 2);
    let years = env.period_docs(Period::Year).await?;
    assert!(years
        .iter()
        .filter(|d| d.get_str("entity_id") == Ok("h-1"))
        .all(|d| d.get_i64("view").unwrap_or(0) <= 2));
    let parity = env.flush_worker(&["parity-check"], &[]).await?;
    assert_eq!(stdout(&parity), "Checked: 3, Mismatches: 0\n");
    assert!(
        !pipeline_problems(&env)
            .await?
            .iter()
            .any(|p| p.contains("cutover")),
        "the problem is gone after the cut-over"
    );

    // Twice: nothing more.
    let second = cutover(&env, &[]).await?;
    assert_eq!(
        second,
        "Duplicate rollup documents: none.\n\
         Opening balances: none (3 films checked).\n\
         Legacy counters: none.\n\
         Legacy dedupe markers: none.\n\
         Nothing changed: this catalogue was already taken over.\n"
    );
    assert_eq!(env.replica("h-1").await?, Some((50_002, 1_200)));

    // And counting goes on from the history.
    app.send("a5", "movie", "h-1", "view", 1).await?;
    flush(&env).await?;
    assert_eq!(env.replica("h-1").await?, Some((50_003, 1_200)));
    let runs = env.docs("analytics_cutover_runs").await?;
    assert_eq!(
        runs.len(),
        1,
        "only the run that changed something is recorded"
    );
    assert_eq!(runs[0].get_i64("opening_views")?, 50_000);
    Ok(())
}

#[tokio::test]
async fn an_old_database_with_duplicate_rollups_migrates_and_keeps_every_count(
) -> anyhow::Result<()> {
    let env = on_one_redis().await?;
    let db = env.mongo().await?;
    // The old system's upserts raced with no unique index: two documents
    // for one key, in totals and in a day.
    let movie = |extra: Document| {
        let mut d = doc! {"domain": "jav", "entity_type": "movie", "entity_id": "m-1"};
        d.extend(extra);
        d
    };
    db.collection::<Document>("analytics_entity_totals")
        .insert_many([
            movie(doc! {"view": 3_i32, "download": 0_i32}),
            movie(doc! {"view": 4_i32, "download": 1_i32}),
            doc! {"domain": "jav", "entity_type": "movie", "entity_id": "m-2", "view": 9_i32,
            "download": 0_i32},
        ])
        .await?;
    db.collection::<Document>("analytics_entity_daily")
        .insert_many([
            movie(doc! {"date": "2026-02-19", "view": 1_i32, "download": 0_i32}),
            movie(doc! {"date": "2026-02-19", "view": 2_i32, "download": 1_i32}),
            movie(doc! {"date": "2026-02-19", "view": 4_i32, "download": 0_i32}),
            movie(doc! {"date": "2026-02-20", "view": 4_i32, "download": 0_i32}),
        ])
        .await?;

    env.migrate().await?;
    let totals = env.docs("analytics_entity_totals").await?;
    assert_eq!(totals.len(), 2, "{totals:?}");
    let m1 = env.totals("movie", "m-1").await?;
    assert_eq!(m1.get(Action::View), 7);
    assert_eq!(m1.get(Action::Download), 1);
    assert_eq!(env.totals("movie", "m-2").await?.get(Action::View), 9);
    let days = env.docs("analytics_entity_daily").await?;
    assert_eq!(days.len(), 2, "{days:?}");
    let day = |date: &str| {
        days.iter()
            .find(|d| d.get_str("date") == Ok(date))
            .map(|d| {
                let c = counts_of(d);
                (c.get(Action::View), c.get(Action::Download))
            })
    };
    assert_eq!(day("2026-02-19"), Some((7, 1)));
    assert_eq!(day("2026-02-20"), Some((4, 0)));

    // The unique key now holds: a second document of the key is refused.
    let dup = db
        .collection::<Document>("analytics_entity_totals")
        .insert_one(movie(doc! {"view": 1_i32}))
        .await;
    assert!(dup.is_err(), "the unique index was not built");
    // Migrating again is a no-op, and counting goes on from the merged sum.
    env.migrate().await?;
    let app = env.spawn_ingest().await?;
    app.send("e1", "movie", "m-1", "view", 1).await?;
    flush(&env).await?;
    assert_eq!(env.totals("movie", "m-1").await?.get(Action::View), 8);
    Ok(())
}

#[tokio::test]
async fn legacy_redis_counters_and_markers_cross_the_switch_once() -> anyhow::Result<()> {
    let mut env = on_one_redis().await?;
    let (counters, flushing, markers) = isolate_legacy_keys(&mut env);
    env.migrate().await?;
    env.insert_movies(&[("m-1", "OLD-1", 0, 0)]).await?;
    let mut redis = env.redis().await?;
    // Unflushed counts of the old system: its all-time field holds one view
    // more than its day fields (it crashed between its two increments).
    let m1 = format!("{counters}:jav:movie:m-1");
    let _: () = redis
        .hset_multiple(
            &m1,
            &[
                ("view", 6),
                ("view:2026-11-30", 3),
                ("view:2026-12-01", 2),
                ("download", 1),
                ("download:2026-12-01", 1),
                ("favorite", 4),
                ("view:not-a-date", 7),
            ],
        )
        .await?;
    // A hash its flush was working on when it stopped (the id holds ':').
    let stopped = format!("{flushing}jav:actor:a:1:Ab3dEf9z");
    let _: () = redis
        .hset_multiple(&stopped, &[("view", 2), ("view:2026-12-01", 2)])
        .await?;
    let bad = format!("{counters}:badkey");
    let _: () = redis.hset(&bad, "view", 1).await?;
    // Its dedupe markers: one with a lifetime, one its oldest version left
    // without.
    let _: () = redis
        .set_ex(format!("{markers}retried-1"), "1", 3600)
        .await?;
    let _: () = redis.set(format!("{markers}retried-2"), "1").await?;

    let out = cutover(&env, &[]).await?;
    assert_eq!(
        out,
        "Duplicate rollup documents: none.\n\
         Opening balances: none (1 films checked).\n\
         Legacy counters: drained 2 keys (+9 counts) into the hot counters; \
         the next flush applies them.\n\
         Legacy counters: 2 fields were not counts of view or download and were dropped.\n\
         Legacy counters: 1 keys name no entity and were left as they are.\n\
         Legacy dedupe markers: 2 honoured for at least their remaining lifetime (2 new).\n"
    );
    let exists: (bool, bool, bool) = redis::pipe()
        .exists(&m1)
        .exists(&stopped)
        .exists(&bad)
        .query_async(&mut redis)
        .await?;
    assert_eq!(exists, (false, false, true));

    // A producer retrying across the switch: a duplicate, not counted.
    let app = env.spawn_ingest().await?;
    for id in ["retried-1", "retried-2"] {
        let resp = app
            .post_as_producer(&event(id, "movie", "m-1", "view", 1))
            .await?;
        assert_eq!(resp.status().as_u16(), 202);
        assert_eq!(resp.headers()["x-analytics-duplicate"], "true", "{id}");
    }
    // Entered in today's dedupe hash, which lives 48 h past the day's end:
    // longer than the hour the marker had left.
    let hash = env.seen_hash("retried-1", env.redis_day().await?)?;
    let ttl: i64 = redis.pttl(&hash).await?;
    assert!(
        (48 * 3_600_000..=72 * 3_600_000).contains(&ttl),
        "the entry outlives the marker: {ttl}"
    );

    assert_eq!(flush(&env).await?, "Flushed 2 keys, 0 errors.\n");
    let m1_totals = env.totals("movie", "m-1").await?;
    assert_eq!(m1_totals.get(Action::View), 6);
    assert_eq!(m1_totals.get(Action::Download), 1);
    assert_eq!(env.totals("actor", "a:1").await?.get(Action::View), 2);
    assert_eq!(env.replica("m-1").await?, Some((6, 1)));
    let days: Vec<(String, i64, i64)> = env
        .docs("analytics_entity_daily")
        .await?
        .iter()
        .filter(|d| d.get_str("entity_id") == Ok("m-1"))
        .map(|d| {
            (
                d.get_str("date").unwrap_or_default().to_string(),
                d.get_i64("view").unwrap_or(0),
                d.get_i64("download").unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        days,
        vec![
            ("2026-11-30".to_string(), 3, 0),
            ("2026-12-01".to_string(), 2, 1)
        ]
    );
    // No hour is invented for counts kept per day.
    let hourly = env.docs("analytics_hourly").await?;
    assert!(hourly.is_empty(), "{hourly:?}");
    assert_eq!(env.counts_waiting().await?, 0);

    // Twice: nothing more, and the counts stay.
    let again = cutover(&env, &[]).await?;
    assert_eq!(
        again,
        "Duplicate rollup documents: none.\n\
         Opening balances: none (1 films checked).\n\
         Legacy counters: none.\n\
         Legacy counters: 1 keys name no entity and were left as they are.\n\
         Legacy dedupe markers: 2 honoured for at least their remaining lifetime (0 new).\n\
         Nothing changed: this catalogue was already taken over.\n"
    );
    env.flush_finds_nothing().await?;
    assert_eq!(env.replica("m-1").await?, Some((6, 1)));
    Ok(())
}

#[tokio::test]
async fn the_cut_over_refuses_a_redis_cluster() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    // Refused before any command: the nodes need not answer.
    env.set("redis.cluster_nodes", "127.0.0.1:1,127.0.0.1:2");
    let out = env.flush_worker(&["cutover", "--dry-run"], &[]).await?;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        analytics_tests::job_messages(&out.stderr),
        format!(
            "Refused: {}.\n",
            analytics_store::hot_counters::CUTOVER_ON_CLUSTER
        )
    );
    Ok(())
}
