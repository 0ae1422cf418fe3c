//! `flush-worker prune` deletes what retention lets go and nothing else; the
//! reports read from the raw log refuse a range it no longer holds.

use analytics_domain::Period;
use analytics_tests::TestEnv;
use chrono::{Duration, Utc};
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use sqlx::Executor;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Raw-log rows that occurred `hours_ago`, in `table`.
async fn log_rows(
    env: &TestEnv,
    table: &str,
    prefix: &str,
    n: usize,
    hours_ago: i64,
) -> anyhow::Result<()> {
    let mut conn = env.mysql().await?;
    let at = (Utc::now() - Duration::hours(hours_ago)).format("%Y-%m-%d %H:%M:%S");
    for i in 0..n {
        conn.execute(
            sqlx::query(&format!(
                "INSERT INTO {table} (event_id, domain, entity_type, entity_id, action, value, \
                 occurred_at, user_id, received_at) VALUES (?, 'jav', 'movie', 'm-1', 'view', 1, ?, 'u-1', ?)"
            ))
            .bind(format!("{prefix}-{i}"))
            .bind(at.to_string())
            .bind(at.to_string()),
        )
        .await?;
    }
    Ok(())
}

/// Ids an erasure left behind, each `(id, hours ago)`.
async fn erased_ids(env: &TestEnv, ids: &[(&str, i64)]) -> anyhow::Result<()> {
    let mut conn = env.mysql().await?;
    for (id, hours) in ids {
        let at = (Utc::now() - Duration::hours(*hours)).format("%Y-%m-%d %H:%M:%S");
        sqlx::query(
            "INSERT INTO analytics_erased_events (event_id, domain, entity_type, entity_id, \
             action, value, occurred_at, erased_at) VALUES (?, 'jav', 'movie', 'm-1', 'view', 1, ?, ?)",
        )
        .bind(id)
        .bind(at.to_string())
        .bind(at.to_string())
        .execute(&mut conn)
        .await?;
    }
    Ok(())
}

async fn count_rows(env: &TestEnv, table: &str) -> anyhow::Result<i64> {
    let mut conn = env.mysql().await?;
    Ok(sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&mut conn)
        .await?)
}

#[tokio::test]
async fn prune_deletes_what_retention_lets_go_and_nothing_else() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("retention.raw_log_days", "3")
        .set("retention.rollup_days", "3")
        .set("retention.telemetry_days", "2");
    env.migrate().await?;
    log_rows(&env, "analytics_events", "old", 7, 24 * 10).await?;
    log_rows(&env, "analytics_events", "new", 2, 1).await?;
    log_rows(&env, "analytics_events_filtered", "bot-old", 1, 24 * 10).await?;
    erased_ids(&env, &[("erased-old", 24 * 10), ("erased-new", 1)]).await?;
    let db = env.mongo().await?;
    let today = Utc::now().date_naive();
    let old_day = (today - Duration::days(10)).format("%Y-%m-%d").to_string();
    let new_day = today.format("%Y-%m-%d").to_string();
    let movie = |extra: Document| {
        let mut d =
            doc! {"domain": "jav", "entity_type": "movie", "entity_id": "m-1", "view": 1_i64};
        d.extend(extra);
        d
    };
    db.collection::<Document>("analytics_entity_daily")
        .insert_many([
            movie(doc! {"date": &old_day}),
            movie(doc! {"date": &new_day}),
        ])
        .await?;
    db.collection::<Document>("analytics_entity_totals")
        .insert_one(movie(doc! {"weeks": {"2020-W01": {"view": 1_i64}}}))
        .await?;
    let hour = |date: &str, slot: i32| {
        doc! {"domain": "jav", "entity_type": "movie", "date": date,
        "hour": 3, "slot": slot, "view": 1_i64}
    };
    db.collection::<Document>("analytics_hourly")
        .insert_many([hour(&old_day, 0), hour(&old_day, 1), hour(&new_day, 0)])
        .await?;
    let board = |day: &str| {
        doc! {"_id": format!("jav|movie|view|date={day}"), "domain": "jav",
        "entity_type": "movie", "period": "date", "bucket": day, "entries": []}
    };
    db.collection::<Document>("analytics_leaderboards")
        .insert_many([board(&old_day), board(&new_day)])
        .await?;
    let at = |days: i64| {
        BsonDateTime::from_millis((Utc::now() - Duration::days(days)).timestamp_millis())
    };
    db.collection::<Document>("job_events")
        .insert_many([
            doc! {"job_name": "sync", "timestamp": at(5)},
            doc! {"job_name": "sync", "timestamp": at(4)},
            doc! {"job_name": "sync", "timestamp": at(0)},
        ])
        .await?;
    db.collection::<Document>("crawler_block_signals")
        .insert_many([
            doc! {"site": "s", "timestamp": at(9)},
            doc! {"site": "s", "timestamp": at(0)},
        ])
        .await?;

    let first_kept = today - Duration::days(3);
    let dry = env.flush_worker(&["prune", "--dry-run"], &[]).await?;
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert_eq!(
        stdout(&dry),
        format!(
            "Raw event log: 7 rows would be deleted (occurred before {first_kept} UTC).\n\
             Filtered events: 1 rows would be deleted (occurred before {first_kept} UTC).\n\
             Erased events' ids: 1 rows would be deleted (occurred before {first_kept} UTC).\n\
             Rollups: 1 day documents, 2 hour documents and 1 day boards would be deleted (days before {first_kept}).\n\
             Telemetry: 2 job events and 1 block signals would be deleted (older than 2 days).\n"
        )
    );
    assert_eq!(count_rows(&env, "analytics_events").await?, 9);

    let out = env.flush_worker(&["prune"], &[]).await?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout(&out),
        stdout(&dry).replace("would be deleted", "deleted")
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("the longest statement took"));
    // What is left is exactly what retention keeps.
    assert_eq!(count_rows(&env, "analytics_events").await?, 2);
    assert_eq!(count_rows(&env, "analytics_events_filtered").await?, 0);
    assert_eq!(count_rows(&env, "analytics_erased_events").await?, 1);
    let mut conn = env.mysql().await?;
    let left: Vec<String> = sqlx::query_scalar(
        "SELECT CONVERT(event_id USING utf8mb4) FROM analytics_events ORDER BY event_id",
    )
    .fetch_all(&mut conn)
    .await?;
    assert_eq!(left, ["new-0", "new-1"]);
    let dates = |docs: Vec<Document>| -> Vec<String> {
        docs.iter()
            .map(|d| d.get_str("date").unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(
        dates(env.docs("analytics_entity_daily").await?),
        vec![new_day.clone()]
    );
    assert_eq!(
        dates(env.docs("analytics_hourly").await?),
        vec![new_day.clone()]
    );
    assert_eq!(env.period_docs(Period::Week).await?.len(), 1);
    assert_eq!(env.docs("analytics_entity_totals").await?.len(), 1);
    let boards: Vec<Document> = env.docs("analytics_leaderboards").await?;
    assert_eq!(boards.len(), 1);
    assert_eq!(boards[0].get_str("bucket")?, new_day);
    assert_eq!(
        db.collection::<Document>("job_events")
            .count_documents(doc! {})
            .await?,
        1
    );
    assert_eq!(
        db.collection::<Document>("crawler_block_signals")
            .count_documents(doc! {})
            .await?,
        1
    );

    // Resumable and idempotent: nothing more to delete.
    let again = env.flush_worker(&["prune"], &[]).await?;
    assert_eq!(
        stdout(&again),
        format!(
            "Raw event log: 0 rows deleted (occurred before {first_kept} UTC).\n\
             Filtered events: 0 rows deleted (occurred before {first_kept} UTC).\n\
             Erased events' ids: 0 rows deleted (occurred before {first_kept} UTC).\n\
             Rollups: 0 day documents, 0 hour documents and 0 day boards deleted (days before {first_kept}).\n\
             Telemetry: 0 job events and 0 block signals deleted (older than 2 days).\n"
        )
    );
    Ok(())
}

#[tokio::test]
async fn raw_log_reports_refuse_a_range_beyond_retention() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("retention.raw_log_days", "7");
    env.migrate().await?;
    let api = env.spawn_read_api().await?;
    let first = Utc::now().date_naive() - Duration::days(6);
    let message = format!(
        "The raw event log keeps 7 days (retention.raw_log_days): the range must start on or after {first}."
    );
    for (path, field) in [
        ("/api/v1/analytics/user/u-1/stats?days=8", "days"),
        (
            &*format!(
                "/api/v1/analytics/user/u-1/stats?from={}",
                first - Duration::days(1)
            ),
            "from",
        ),
        ("/api/v1/admin/analytics/recommendations?days=30", "days"),
    ] {
        let (status, body) = api.admin(path).await?;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["errors"][field][0], message, "{path}: {body}");
    }
    for path in [
        "/api/v1/analytics/user/u-1/stats?days=7",
        "/api/v1/admin/analytics/recommendations?days=7",
    ] {
        let (status, body) = api.admin(path).await?;
        assert_eq!(status, 200, "{path}: {body}");
    }

    // A retention setting that would drop the log before its dedupe window
    // ends is refused at start, naming the key.
    let out = env
        .flush_worker(&["prune"], &[("ANALYTICS__RETENTION__RAW_LOG_DAYS", "2")])
        .await?;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("retention.raw_log_days"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}
