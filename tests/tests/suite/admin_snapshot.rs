//! The admin snapshot against a generated catalogue: every key compared
//! with what the inserted rows say, computed here without SQL.

use std::collections::{BTreeMap, HashMap, HashSet};

use analytics_tests::catalogue_data::{CatalogueData, Engagement, Movie, Shape};
use analytics_tests::TestEnv;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value};
use sqlx::Executor;

const ZONE: Tz = chrono_tz::Asia::Tokyo;

fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&ZONE).date_naive()
}

/// Rows per window day of what `created` returns, oldest day first.
fn per_day<T>(
    rows: &[T],
    first: NaiveDate,
    days: i64,
    created: impl Fn(&T) -> DateTime<Utc>,
) -> Vec<i64> {
    let mut values = vec![0; days as usize];
    for row in rows {
        let offset = (local_date(created(row)) - first).num_days();
        if (0..days).contains(&offset) {
            values[offset as usize] += 1;
        }
    }
    values
}

fn series(labels: &[String], values: Vec<i64>) -> Value {
    json!({"labels": labels, "values": values})
}

fn provider(m: &Movie) -> String {
    match m.source.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "unknown".into(),
    }
}

fn top_list(movies: &[Movie], key: impl Fn(&Movie) -> (i64, i64)) -> Value {
    let mut sorted: Vec<&Movie> = movies.iter().collect();
    // Highest first; equal figures: the later row first.
    sorted.sort_by(|a, b| key(b).cmp(&key(a)).then(b.id.cmp(&a.id)));
    sorted
        .iter()
        .take(10)
        .map(|m| {
            json!({"uuid": m.uuid, "code": m.code, "title": m.title,
                   "views": m.views.unwrap_or(0), "downloads": m.downloads.unwrap_or(0)})
        })
        .collect()
}

fn top_rated(data: &CatalogueData) -> Value {
    let mut by_movie: BTreeMap<u64, (i64, i64)> = BTreeMap::new();
    for r in &data.ratings {
        let e = by_movie.entry(r.jav_id).or_default();
        e.0 += i64::from(r.rating);
        e.1 += 1;
    }
    let movies: HashMap<u64, &Movie> = data.movies.iter().map(|m| (m.id, m)).collect();
    let mut rated: Vec<(u64, i64, i64)> = by_movie
        .into_iter()
        .filter(|(id, _)| movies.contains_key(id))
        .map(|(id, (sum, n))| (id, sum, n))
        .collect();
    // Average desc (compared exactly as fractions), count desc, id asc.
    rated.sort_by(|a, b| {
        (b.1 * a.2)
            .cmp(&(a.1 * b.2))
            .then(b.2.cmp(&a.2))
            .then(a.0.cmp(&b.0))
    });
    rated
        .iter()
        .take(10)
        .map(|(id, sum, n)| {
            let m = movies[id];
            let avg = (*sum as f64 / *n as f64 * 10_000.0).round() / 10_000.0;
            json!({"uuid": m.uuid, "code": m.code, "title": m.title,
                   "ratings_avg_rating": avg, "ratings_count": n})
        })
        .collect()
}

/// Links per movie, 2 decimals (0 without movies).
fn per_movie(links: usize, movies: i64) -> f64 {
    if movies == 0 {
        return 0.0;
    }
    (links as f64 / movies as f64 * 100.0).round() / 100.0
}

/// The snapshot the rows call for, on the day the response was made.
fn expected(data: &CatalogueData, today: NaiveDate, days: i64) -> Value {
    let first = today - Duration::days(days - 1);
    let labels: Vec<String> = (0..days)
        .map(|i| (first + Duration::days(i)).to_string())
        .collect();
    let created = |rows: &[Engagement]| per_day(rows, first, days, |e| e.created_at);
    let movies_daily = per_day(&data.movies, first, days, |m| m.created_at);
    let actors_daily = per_day(&data.actors, first, days, |a| a.created_at);
    let tags_daily = per_day(&data.tags, first, days, |t| t.created_at);

    let mut provider_series: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut provider_totals: BTreeMap<String, i64> = BTreeMap::new();
    for m in &data.movies {
        *provider_totals.entry(provider(m)).or_default() += 1;
        let offset = (local_date(m.created_at) - first).num_days();
        if (0..days).contains(&offset) {
            provider_series
                .entry(provider(m))
                .or_insert_with(|| vec![0; days as usize])[offset as usize] += 1;
        }
    }
    let mut stats: Vec<(String, i64)> = provider_totals.into_iter().collect();
    stats.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let provider_stats: Vec<Value> = stats
        .iter()
        .map(|(source, total)| {
            let s = provider_series.get(source);
            json!({"source": source, "total_count": total,
                   "today_count": s.map(|v| v[days as usize - 1]).unwrap_or(0),
                   "window_count": s.map(|v| v.iter().sum::<i64>()).unwrap_or(0)})
        })
        .collect();

    let movie_ids: HashSet<u64> = data.movies.iter().map(|m| m.id).collect();
    let actor_ids: HashSet<u64> = data.actors.iter().map(|a| a.id).collect();
    let tag_ids: HashSet<u64> = data.tags.iter().map(|t| t.id).collect();
    let linked = |links: &[(u64, u64)], others: &HashSet<u64>| -> (HashSet<u64>, HashSet<u64>) {
        let real: Vec<&(u64, u64)> = links
            .iter()
            .filter(|(m, o)| movie_ids.contains(m) && others.contains(o))
            .collect();
        (
            real.iter().map(|(m, _)| *m).collect(),
            real.iter().map(|(_, o)| *o).collect(),
        )
    };
    let (movies_with_actors, used_actors) = linked(&data.actor_links, &actor_ids);
    let (movies_with_tags, used_tags) = linked(&data.tag_links, &tag_ids);
    let movies = data.movies.len() as i64;
    let last = |v: &[i64]| v[days as usize - 1];
    let failed_since = Utc::now() - Duration::hours(24);
    json!({
        "days": days,
        "totals": {"jav": movies, "actors": data.actors.len(), "tags": data.tags.len()},
        "todayCreated": {"jav": last(&movies_daily), "actors": last(&actors_daily), "tags": last(&tags_daily)},
        "dailyCreated": {
            "jav": series(&labels, movies_daily.clone()),
            "actors": series(&labels, actors_daily.clone()),
            "tags": series(&labels, tags_daily.clone()),
        },
        "providerDailyCreated": {"labels": labels, "series": provider_series},
        "dailyEngagement": {
            "favorites": series(&labels, created(&data.favorites)),
            "watchlists": series(&labels, created(&data.watchlists)),
            "ratings": series(&labels, created(&data.ratings)),
            "history": series(&labels, created(&data.history)),
        },
        "providerStats": provider_stats,
        "topViewed": top_list(&data.movies, |m| (m.views.unwrap_or(-1), m.downloads.unwrap_or(-1))),
        "topDownloaded": top_list(&data.movies, |m| (m.downloads.unwrap_or(-1), m.views.unwrap_or(-1))),
        "topRated": top_rated(data),
        "quality": {
            "missing_actors": movies - movies_with_actors.len() as i64,
            "missing_tags": movies - movies_with_tags.len() as i64,
            "missing_image": data.movies.iter().filter(|m| m.image.as_deref().is_none_or(str::is_empty)).count(),
            "missing_date": data.movies.iter().filter(|m| m.date.is_none()).count(),
            "orphan_actors": data.actors.len() - used_actors.len(),
            "orphan_tags": data.tags.len() - used_tags.len(),
            "avg_actors_per_jav": per_movie(data.actor_links.len(), movies),
            "avg_tags_per_jav": per_movie(data.tag_links.len(), movies),
        },
        "syncHealth": {
            "pending_jobs": data.jobs.iter().filter(|j| j.queue == "jav").count(),
            "failed_jobs_24h": data.failed_jobs.iter()
                .filter(|j| j.queue == "jav" && j.failed_at.is_some_and(|t| t >= failed_since)).count(),
        },
    })
}

/// The response without its time stamps, and the local date it was made on.
fn split_stamp(mut body: Value) -> (Value, NaiveDate) {
    let stamp = body["generated_at"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(o) = body.as_object_mut() {
        o.shift_remove("generated_at");
        o.shift_remove("timezone");
        o.shift_remove("stats_refreshed_at");
    }
    let today = NaiveDate::parse_from_str(stamp.get(..10).unwrap_or_default(), "%Y-%m-%d")
        .unwrap_or_default();
    (body, today)
}

async fn catalogue_env() -> anyhow::Result<TestEnv> {
    let mut env = TestEnv::new().await?;
    env.set("domains.jav.zone", ZONE.name());
    env.migrate().await?;
    Ok(env)
}

#[tokio::test]
async fn every_snapshot_key_says_what_the_catalogue_rows_say() -> anyhow::Result<()> {
    let env = catalogue_env().await?;
    let mut data = CatalogueData::generate(Shape::SMALL, 7, Utc::now());
    // Ties at the top: equal views and downloads rank the later row first.
    for m in data.movies.iter_mut().take(3) {
        m.views = Some(1_000_000);
        m.downloads = Some(5);
    }
    // A failed job a day and a half ago is outside the last 24 hours.
    data.failed_jobs[0].failed_at = Some(Utc::now() - Duration::hours(36));
    data.insert(&mut env.mysql().await?).await?;
    let api = env.spawn_read_api().await?;
    for (query, days) in [("?days=7", 7), ("?days=30", 30), ("?days=90", 90), ("", 14)] {
        let (status, body) = api
            .admin(&format!("/api/v1/admin/analytics/snapshot{query}"))
            .await?;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["timezone"], ZONE.name());
        let (body, today) = split_stamp(body);
        assert_eq!(today, local_date(Utc::now()));
        let want = expected(&data, today, days);
        for key in want
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            assert_eq!(body[&key], want[&key], "{key} over {days} days");
        }
        assert_eq!(body, want);
    }
    // The three tied movies lead, latest row first.
    let (_, body) = api.admin("/api/v1/admin/analytics/snapshot?days=7").await?;
    let leaders: Vec<&str> = body["topViewed"]
        .as_array()
        .map(|a| {
            a.iter()
                .take(3)
                .filter_map(|m| m["uuid"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(leaders, ["m-0000003", "m-0000002", "m-0000001"]);
    api.stop().await;
    Ok(())
}

#[tokio::test]
async fn an_empty_catalogue_and_missing_tables_read_as_zeros() -> anyhow::Result<()> {
    let env = catalogue_env().await?;
    let api = env.spawn_read_api().await?;
    let (status, body) = api.admin("/api/v1/admin/analytics/snapshot?days=7").await?;
    assert_eq!(status, 200, "{body}");
    let (body, today) = split_stamp(body);
    assert_eq!(body, expected(&CatalogueData::default(), today, 7));

    // An older catalogue without these tables: their parts read as zero,
    // the rest as usual.
    let data = CatalogueData::generate(Shape::SMALL, 11, Utc::now());
    let mut mysql = env.mysql().await?;
    data.insert(&mut mysql).await?;
    for table in [
        "favorites",
        "ratings",
        "jobs",
        "failed_jobs",
        "jav_actor",
        "tags",
    ] {
        mysql
            .execute(format!("DROP TABLE {table}").as_str())
            .await?;
    }
    let (status, body) = api.admin("/api/v1/admin/analytics/snapshot?days=7").await?;
    assert_eq!(status, 200, "{body}");
    let (body, today) = split_stamp(body);
    let zeros = json!({"labels": body["dailyCreated"]["jav"]["labels"], "values": vec![0; 7]});
    assert_eq!(body["dailyEngagement"]["favorites"], zeros);
    assert_eq!(body["dailyEngagement"]["ratings"], zeros);
    assert_eq!(body["dailyCreated"]["tags"], zeros);
    assert_eq!(body["topRated"], json!([]));
    assert_eq!(
        body["syncHealth"],
        json!({"pending_jobs": 0, "failed_jobs_24h": 0})
    );
    assert_eq!(body["totals"]["tags"], 0);
    assert_eq!(body["quality"]["missing_actors"], 0);
    assert_eq!(body["quality"]["orphan_actors"], 0);
    assert_eq!(body["quality"]["avg_actors_per_jav"], 0.0);
    let want = expected(&data, today, 7);
    for key in ["totals", "dailyCreated", "providerStats", "topViewed"] {
        let (mut got, mut want) = (body[key].clone(), want[key].clone());
        if key == "totals" {
            got["tags"] = json!(0);
            want["tags"] = json!(0);
        }
        if key == "dailyCreated" {
            got["tags"] = Value::Null;
            want["tags"] = Value::Null;
        }
        assert_eq!(got, want, "{key}");
    }
    assert_eq!(
        body["dailyEngagement"]["watchlists"],
        want["dailyEngagement"]["watchlists"]
    );
    api.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_period_must_be_one_the_snapshot_offers() -> anyhow::Result<()> {
    let env = catalogue_env().await?;
    let api = env.spawn_read_api().await?;
    for bad in ["8", "0", "abc", "", "14.0"] {
        let (status, body) = api
            .admin(&format!("/api/v1/admin/analytics/snapshot?days={bad}"))
            .await?;
        assert_eq!(status, 422, "{bad}");
        assert_eq!(
            body["errors"]["days"][0], "The days must be one of 7, 14, 30, 90.",
            "{bad}"
        );
    }
    api.stop().await;
    Ok(())
}

#[tokio::test]
async fn the_cli_summary_reports_the_snapshot_shares_coverage_and_telemetry() -> anyhow::Result<()>
{
    let env = catalogue_env().await?;
    let data = CatalogueData::generate(Shape::SMALL, 5, Utc::now());
    let mut mysql = env.mysql().await?;
    data.insert(&mut mysql).await?;
    let summary = |args: &'static [&'static str]| {
        let env = &env;
        async move {
            let mut all = vec!["report", "summary"];
            all.extend_from_slice(args);
            env.flush_worker(&all, &[]).await
        }
    };
    let out = summary(&["--json", "--days", "7", "--limit", "3"]).await?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let keys: Vec<&str> = report
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "generated_at",
            "days",
            "snapshot_generated_at",
            "timezone",
            "totals",
            "todayCreated",
            "provider_breakdown",
            "provider_stats",
            "quality",
            "syncHealth",
            "xcity",
            "dailyCreated",
            "dailyEngagement",
            "topViewed",
            "topDownloaded",
            "topRated",
            "telemetry"
        ]
    );
    let today = NaiveDate::parse_from_str(
        report["generated_at"]
            .as_str()
            .unwrap_or_default()
            .get(..10)
            .unwrap_or_default(),
        "%Y-%m-%d",
    )?;
    let want = expected(&data, today, 7);
    for key in [
        "totals",
        "todayCreated",
        "quality",
        "syncHealth",
        "dailyCreated",
        "dailyEngagement",
    ] {
        assert_eq!(report[key], want[key], "{key}");
    }
    assert_eq!(report["provider_stats"], want["providerStats"]);
    let top3 = |v: &Value| Value::Array(v.as_array().map(|a| a[..3].to_vec()).unwrap_or_default());
    assert_eq!(report["topViewed"], top3(&want["topViewed"]));
    assert_eq!(report["topRated"], top3(&want["topRated"]));
    // The crawled providers first, then the rest by size; shares of all movies.
    let movies = data.movies.len() as f64;
    let breakdown: Vec<(String, f64)> = report["provider_breakdown"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["source"].as_str().unwrap_or_default().to_string(),
                p["share_percent"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    let mut want_breakdown = Vec::new();
    for stat in want["providerStats"].as_array().into_iter().flatten() {
        let total = stat["total_count"].as_f64().unwrap_or_default();
        let share = (total * 100.0 / movies * 100.0).round() / 100.0;
        want_breakdown.push((
            stat["source"].as_str().unwrap_or_default().to_string(),
            share,
        ));
    }
    let fixed = ["onejav", "141jav", "ffjav", "missav"];
    want_breakdown.sort_by_key(|(s, _)| fixed.iter().position(|f| f == s).unwrap_or(fixed.len()));
    assert_eq!(breakdown, want_breakdown);
    // This catalogue has no xcity columns: actors counted, coverage zero.
    assert_eq!(report["xcity"]["actors_total"], data.actors.len());
    assert_eq!(report["xcity"]["with_xcity_id"], 0);
    assert!(
        report["telemetry"]["overview"].is_object(),
        "{}",
        report["telemetry"]
    );

    // With the crawler's columns, its coverage.
    for sql in [
        "ALTER TABLE actors ADD COLUMN xcity_id VARCHAR(64) NULL, ADD COLUMN xcity_url VARCHAR(255) NULL, \
         ADD COLUMN xcity_cover VARCHAR(255) NULL, ADD COLUMN xcity_birth_date DATE NULL, \
         ADD COLUMN xcity_size VARCHAR(32) NULL, ADD COLUMN xcity_synced_at TIMESTAMP NULL",
        "UPDATE actors SET xcity_id = CONCAT('x', id), xcity_url = '' WHERE id <= 12",
        "UPDATE actors SET xcity_synced_at = NOW() WHERE id <= 5",
    ] {
        mysql.execute(sql).await?;
    }
    let out = summary(&["--json"]).await?;
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let x = &report["xcity"];
    assert_eq!(
        (
            &x["with_xcity_id"],
            &x["with_xcity_url"],
            &x["xcity_synced_today"]
        ),
        (&json!(12), &json!(0), &json!(5))
    );
    let coverage = (12.0 * 100.0 / data.actors.len() as f64 * 100.0).round() / 100.0;
    assert_eq!(x["xcity_id_coverage_percent"], json!(coverage));

    let text = summary(&[]).await?;
    assert!(text.status.success());
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("Analytics report, last 14 days"));
    for (args, message) in [
        (
            &["--days", "0"][..],
            "--days must be between 1 and 365 (got 0).",
        ),
        (
            &["--limit", "101"][..],
            "--limit must be between 1 and 100 (got 101).",
        ),
        (
            &["--telemetry-window", "4"][..],
            "--telemetry-window must be between 5 and 1440 (got 4).",
        ),
    ] {
        let out = summary(args).await?;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(analytics_tests::job_messages(&out.stderr).trim(), message);
    }
    Ok(())
}

#[tokio::test]
async fn refreshed_figures_are_served_until_the_next_refresh() -> anyhow::Result<()> {
    let env = catalogue_env().await?;
    let data = CatalogueData::generate(Shape::SMALL, 13, Utc::now());
    let mut mysql = env.mysql().await?;
    data.insert(&mut mysql).await?;
    let api = env.spawn_read_api().await?;
    let path = "/api/v1/admin/analytics/snapshot?days=30";
    let (_, computed) = api.admin(path).await?;
    assert_eq!(computed["stats_refreshed_at"], Value::Null);

    let out = env.flush_worker(&["refresh-catalogue-index"], &[]).await?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, kept) = api.admin(path).await?;
    assert_eq!(status, 200, "{kept}");
    assert!(kept["stats_refreshed_at"].is_string(), "{kept}");
    let (kept, today) = split_stamp(kept);
    assert_eq!(kept, expected(&data, today, 30));

    // A change to the catalogue shows in the kept figures at the next
    // refresh; what is counted per day shows at once.
    mysql
        .execute("DELETE FROM jav_actor WHERE jav_id = 1")
        .await?;
    mysql
        .execute("INSERT INTO favorites (user_id, jav_id, created_at) VALUES (1, 1, NOW())")
        .await?;
    let (_, before) = api.admin(path).await?;
    let (before, _) = split_stamp(before);
    assert_eq!(before["quality"], kept["quality"]);
    let favorites = |b: &Value| b["dailyEngagement"]["favorites"]["values"][29].as_i64();
    assert_eq!(favorites(&before), favorites(&kept).map(|n| n + 1));
    env.flush_worker(&["refresh-catalogue-index"], &[]).await?;
    let (_, after) = api.admin(path).await?;
    let had_actors = data
        .actor_links
        .iter()
        .any(|(m, a)| *m == 1 && data.actors.iter().any(|x| x.id == *a));
    assert_eq!(
        after["quality"]["missing_actors"].as_i64(),
        kept["quality"]["missing_actors"]
            .as_i64()
            .map(|n| n + i64::from(had_actors))
    );
    api.stop().await;
    Ok(())
}
