//! Weeks, months and years kept inside the totals documents: a flush
//! writes two documents per film (its totals and its day), and every period
//! still answers exactly (v1 counts, v2 counts and sums), across ISO-week,
//! month and year ends; databases of
//! the old layout (one collection per period) are folded in by `migrate`
//! once.

use std::collections::BTreeMap;

use analytics_domain::details::Details;
use analytics_domain::{Action, EntityType, Event, Period, Sum};
use analytics_tests::{count_in_redis, jav_entity, TestEnv};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use mongodb::bson::{doc, Document};
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// The labels of a UTC instant, computed here rather than by the product:
/// (period field, label).
fn labels(t: DateTime<Utc>) -> [(&'static str, String); 4] {
    let iso = t.iso_week();
    [
        ("date", t.format("%Y-%m-%d").to_string()),
        ("week", format!("{}-W{:02}", iso.year(), iso.week())),
        ("month", t.format("%Y-%m").to_string()),
        ("year", t.format("%Y").to_string()),
    ]
}

/// (movie, period field, label) → (views, downloads, progress events,
/// watch seconds): counts of v1 and v2 actions and a v2 sum.
type Model = BTreeMap<(String, &'static str, String), [i64; 4]>;

/// The stored buckets of every period in the same shape as the model.
async fn stored(env: &TestEnv) -> anyhow::Result<Model> {
    let mut out = Model::new();
    let mut add = |docs: Vec<Document>, field: &'static str| -> anyhow::Result<()> {
        for d in docs {
            let key = (
                d.get_str("entity_id")?.to_string(),
                field,
                d.get_str(field)?.to_string(),
            );
            let n = |f: &str| d.get_i64(f).unwrap_or(0);
            out.insert(
                key,
                [n("view"), n("download"), n("progress"), n("watch_seconds")],
            );
        }
        Ok(())
    };
    add(env.docs("analytics_entity_daily").await?, "date")?;
    for period in [Period::Week, Period::Month, Period::Year] {
        add(env.period_docs(period).await?, period.field())?;
    }
    Ok(out)
}

#[tokio::test]
async fn weeks_months_and_years_across_their_ends_match_a_model_and_read_back() -> anyhow::Result<()>
{
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let counters = env.hot_counters()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(53);
    // 2026-12-24 .. 2027-01-08: 2026-W52, W53 (2027-01-01 is in 2026-W53),
    // 2027-W01; December and January; 2026 and 2027.
    let start = Utc.with_ymd_and_hms(2026, 12, 24, 0, 0, 0).unwrap();
    let mut model = Model::new();
    let mut totals: BTreeMap<String, [i64; 4]> = BTreeMap::new();
    for i in 0..600 {
        let movie = format!("m-{}", rng.random_range(0..4));
        let when = start + Duration::minutes(rng.random_range(0..15 * 24 * 60));
        let mut details = Details::default();
        let (action, n, slot) = match rng.random_range(0..6) {
            0 => (Action::Download, 1, 1),
            1 | 2 => {
                details.watched_seconds = Some(rng.random_range(1..300));
                (Action::Progress, 1, 2)
            }
            _ => (Action::View, rng.random_range(1..4), 0),
        };
        let watched = i64::from(details.watched_seconds.unwrap_or(0));
        let event = Event {
            event_id: format!("p-{i}"),
            entity: jav_entity(EntityType::Movie, &movie),
            action,
            value: n,
            occurred_at: when.fixed_offset(),
            user_id: None,
            details,
        };
        count_in_redis(&counters, &event).await?;
        let add = |figures: &mut [i64; 4]| {
            figures[slot] += n;
            figures[3] += watched;
        };
        for (field, label) in labels(when) {
            add(model.entry((movie.clone(), field, label)).or_default());
        }
        add(totals.entry(movie).or_default());
    }
    env.flush_until_clean().await?;
    assert_eq!(stored(&env).await?, model);
    for (movie, [views, downloads, progress, watched]) in &totals {
        let t = env.totals("movie", movie).await?;
        assert_eq!(
            [
                t.get(Action::View),
                t.get(Action::Download),
                t.get(Action::Progress),
                t.sum(Sum::WatchSeconds)
            ],
            [*views, *downloads, *progress, *watched]
        );
    }
    // Two documents per film and day touched, none in the old collections.
    for old in [
        "analytics_entity_weekly",
        "analytics_entity_monthly",
        "analytics_entity_yearly",
    ] {
        assert_eq!(env.docs(old).await?, Vec::<Document>::new(), "{old}");
    }

    // The series and the boards read the same figures.
    let api = env.spawn_read_api().await?;
    for granularity in ["day", "week", "month", "year"] {
        let field = if granularity == "day" {
            "date"
        } else {
            granularity
        };
        for movie in totals.keys() {
            let (status, body) = api
                .admin(&format!(
                    "/api/v1/admin/analytics/entities/movie/{movie}?granularity={granularity}\
                     &from=2026-12-24&to=2027-01-07"
                ))
                .await?;
            assert_eq!(status, 200, "{body}");
            let series = body["series"].as_array().cloned().unwrap_or_default();
            let mut read = BTreeMap::new();
            for point in &series {
                let (views, downloads) = (point["view"].as_i64(), point["download"].as_i64());
                let (views, downloads) = (views.unwrap_or(0), downloads.unwrap_or(0));
                if views != 0 || downloads != 0 {
                    let label = point["bucket"].as_str().unwrap_or_default().to_string();
                    read.insert((movie.clone(), field, label), (views, downloads));
                }
            }
            // The series route answers views and downloads.
            let expected: BTreeMap<_, _> = model
                .iter()
                .filter(|((m, f, _), v)| m == movie && *f == field && (v[0] != 0 || v[1] != 0))
                .map(|(k, v)| (k.clone(), (v[0], v[1])))
                .collect();
            assert_eq!(read, expected, "{movie} by {granularity}");
        }
    }
    for (period, bucket) in [("week", "2026-W53"), ("month", "2027-01"), ("year", "2026")] {
        let (status, body) = api
            .admin(&format!(
                "/api/v1/admin/analytics/top?period={period}&bucket={bucket}&limit=10"
            ))
            .await?;
        assert_eq!(status, 200, "{body}");
        let mut expected: Vec<(String, i64)> = model
            .iter()
            .filter(|((_, f, l), v)| *f == period && l == bucket && v[0] > 0)
            .map(|((m, ..), v)| (m.clone(), v[0]))
            .collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let read: Vec<(String, i64)> = body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|i| {
                (
                    i["entity_id"].as_str().unwrap_or_default().to_string(),
                    i["view"].as_i64().unwrap_or(-1),
                )
            })
            .collect();
        assert_eq!(read, expected, "top of {period} {bucket}");
    }
    api.stop().await;
    Ok(())
}

#[tokio::test]
async fn migrate_folds_the_old_period_collections_into_the_totals_once() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let db = env.mongo().await?;
    let old = |field: &str, label: &str, view: i64, download: i64| {
        doc! {"domain": "jav", "entity_type": "movie", "entity_id": "m-old",
        field: label, "view": view, "download": download}
    };
    // The old layout as the system before wrote it: one document per bucket,
    // and (no unique index then) a bucket written twice.
    db.collection::<Document>("analytics_entity_totals")
        .insert_one(
            doc! {"domain": "jav", "entity_type": "movie", "entity_id": "m-old",
            "view": 12_i64, "download": 2_i64},
        )
        .await?;
    db.collection::<Document>("analytics_entity_weekly")
        .insert_many([
            old("week", "2026-W48", 5, 1),
            old("week", "2026-W49", 4, 1),
            old("week", "2026-W49", 3, 0),
        ])
        .await?;
    db.collection::<Document>("analytics_entity_monthly")
        .insert_many([old("month", "2026-11", 5, 1), old("month", "2026-12", 7, 1)])
        .await?;
    db.collection::<Document>("analytics_entity_yearly")
        .insert_one(old("year", "2026", 12, 2))
        .await?;

    env.migrate().await?;
    let folded = |period: Period| {
        let env = &env;
        async move {
            let docs = env.period_docs(period).await?;
            anyhow::Ok(
                docs.iter()
                    .map(|d| {
                        (
                            d.get_str(period.field()).unwrap_or_default().to_string(),
                            d.get_i64("view").unwrap_or(0),
                            d.get_i64("download").unwrap_or(0),
                        )
                    })
                    .collect::<Vec<_>>(),
            )
        }
    };
    let weeks = vec![
        ("2026-W48".to_string(), 5, 1),
        ("2026-W49".to_string(), 7, 1),
    ];
    let months = vec![("2026-11".to_string(), 5, 1), ("2026-12".to_string(), 7, 1)];
    let years = vec![("2026".to_string(), 12, 2)];
    assert_eq!(folded(Period::Week).await?, weeks);
    assert_eq!(folded(Period::Month).await?, months);
    assert_eq!(folded(Period::Year).await?, years);
    for name in [
        "analytics_entity_weekly",
        "analytics_entity_monthly",
        "analytics_entity_yearly",
    ] {
        assert_eq!(env.docs(name).await?.len(), 0, "{name} emptied");
    }
    // Folding again adds nothing; the totals' own counts are untouched.
    env.migrate().await?;
    assert_eq!(folded(Period::Week).await?, weeks);
    assert_eq!(folded(Period::Year).await?, years);
    let t = env.totals("movie", "m-old").await?;
    assert_eq!((t.get(Action::View), t.get(Action::Download)), (12, 2));

    // The read side sees the folded buckets.
    let api = env.spawn_read_api().await?;
    let (status, body) = api
        .admin(
            "/api/v1/admin/analytics/entities/movie/m-old?granularity=month\
             &from=2026-11-01&to=2026-12-31",
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    let series: Vec<(String, i64)> = body["series"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["bucket"].as_str().unwrap_or_default().to_string(),
                p["view"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        series,
        vec![("2026-11".to_string(), 5), ("2026-12".to_string(), 7)]
    );
    let (status, body): (u16, Value) = api
        .admin("/api/v1/admin/analytics/top?period=year&bucket=2026&limit=5")
        .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["entity_id"], "m-old");
    assert_eq!(body["items"][0]["view"], 12);
    api.stop().await;
    Ok(())
}
