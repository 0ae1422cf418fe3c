//! The viewing, search and recommendation reports against a model: a
//! random v2 mix over days that cross a year end and a month end is counted
//! by the real ingest script, flushed by the real flush (rollups, boards,
//! raw log), and every report is checked against figures the test computes
//! from the events it sent.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use analytics_domain::{BucketMode, Event, EventRules, ValueLimits};
use analytics_tests::{error_fields, ReadApi, TestEnv, ADMIN_TOKEN};
use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};

/// Days with events; the reports read 2025-12-31..2026-01-31, so the first
/// and last days are outside.
const DAYS: [&str; 7] = [
    "2025-12-30",
    "2025-12-31",
    "2026-01-01",
    "2026-01-02",
    "2026-01-30",
    "2026-01-31",
    "2026-02-01",
];
const FROM: &str = "2025-12-31";
const TO: &str = "2026-01-31";
const RANGE: &str = "from=2025-12-31&to=2026-01-31";

/// One sent event as the model sees it.
#[derive(Debug, Clone)]
struct Sent {
    at: DateTime<Utc>,
    action: &'static str,
    entity_type: &'static str,
    entity_id: String,
    viewer: Option<String>,
    user: Option<String>,
    position: Option<i64>,
    duration: Option<i64>,
    watched: Option<i64>,
    query: Option<String>,
    zero_results: bool,
    placement: Option<&'static str>,
    reason: Option<&'static str>,
}

impl Sent {
    fn date(&self) -> String {
        self.at.format("%Y-%m-%d").to_string()
    }

    fn in_range(&self) -> bool {
        let d = self.date();
        d.as_str() >= FROM && d.as_str() <= TO
    }

    fn is_viewer_action(&self) -> bool {
        self.viewer.is_some()
            && matches!(
                self.action,
                "start" | "progress" | "finish" | "complete" | "view" | "search"
            )
    }

    /// The documented rules: watched seconds when sent, else an ending
    /// event's position.
    fn watch_seconds(&self) -> i64 {
        match (self.watched, self.action) {
            (Some(w), _) => w,
            (None, "finish" | "complete") => self.position.unwrap_or(0),
            _ => 0,
        }
    }

    fn percent(&self) -> Option<i64> {
        if !matches!(self.action, "finish" | "complete") {
            return None;
        }
        let d = self.duration?;
        let p = match (self.position, self.action) {
            (Some(p), _) => p,
            (None, "complete") => d,
            _ => return None,
        };
        Some((p.min(d) * 100 + d / 2) / d)
    }

    fn completed(&self) -> bool {
        match self.action {
            "complete" => true,
            "finish" => self.percent().is_none_or(|p| p >= 90),
            _ => false,
        }
    }

    fn body(&self, id: usize) -> Value {
        let mut b = json!({
            "event_id": format!("hist-{id}"), "domain": "jav", "entity_type": self.entity_type,
            "action": self.action, "occurred_at": self.at.to_rfc3339(),
        });
        if self.entity_type != "query" {
            b["entity_id"] = json!(self.entity_id);
        }
        match (&self.user, &self.viewer) {
            (Some(u), _) => b["user_id"] = json!(u),
            (None, Some(s)) => b["session_id"] = json!(s),
            _ => {}
        }
        let mut put = |k: &str, v: Option<i64>| {
            if let Some(v) = v {
                b[k] = json!(v);
            }
        };
        put("position_seconds", self.position);
        put("duration_seconds", self.duration);
        put("watched_seconds", self.watched);
        if let Some(q) = &self.query {
            b["query"] = json!(q);
            b["result_count"] = json!(if self.zero_results { 0 } else { 12 });
        }
        if let Some(p) = self.placement {
            b["placement"] = json!(p);
            b["reason"] = json!(self.reason);
        }
        b
    }
}

const QUERIES: [(&str, &str); 5] = [
    ("Space Opera", "space opera"),
    ("  space   OPERA ", "space opera"),
    ("noir", "noir"),
    ("zzz", "zzz"),
    ("Kung Fu", "kung fu"),
];

/// A random mix: Zipf-like films, 150 users and some guests, every kind
/// of event the reports read.
fn random_mix(seed: u64, n: usize) -> Vec<Sent> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let day: NaiveDate = DAYS[rng.random_range(0..DAYS.len())].parse().expect("day");
            let at = day
                .and_hms_opt(rng.random_range(0..24), rng.random_range(0..60), 0)
                .expect("time")
                .and_utc();
            let movie = format!("vm{}", rng.random_range(0..30).min(rng.random_range(0..30)));
            let (user, viewer) = if rng.random_bool(0.1) {
                let s = format!("guest-{}", rng.random_range(0..40));
                (None, Some(s))
            } else {
                let u = format!(
                    "u{}",
                    rng.random_range(0..150).min(rng.random_range(0..150))
                );
                (Some(u.clone()), Some(u))
            };
            let mut e = Sent {
                at,
                action: "start",
                entity_type: "movie",
                entity_id: movie,
                viewer,
                user,
                position: None,
                duration: None,
                watched: None,
                query: None,
                zero_results: false,
                placement: None,
                reason: None,
            };
            match rng.random_range(0..100) {
                0..30 => {}
                30..55 => {
                    e.action = "progress";
                    e.watched = Some(rng.random_range(1..600));
                }
                55..67 => {
                    e.action = "finish";
                    e.position = Some(rng.random_range(0..5400));
                    e.duration = rng.random_bool(0.6).then_some(5400);
                }
                67..72 => {
                    e.action = "complete";
                    e.duration = Some(5400);
                }
                72..86 => e.action = "view",
                86..93 => {
                    let (typed, _) = QUERIES[rng.random_range(0..QUERIES.len())];
                    e.action = "search";
                    e.entity_type = "query";
                    e.query = Some(typed.to_string());
                    e.zero_results = typed == "zzz" || rng.random_bool(0.1);
                }
                93..97 => {
                    e.action = "recommendation_impression";
                    e.placement = Some(["home", "detail"][rng.random_range(0..2)]);
                    e.reason = Some(["trending", "similar"][rng.random_range(0..2)]);
                }
                _ => {
                    e.action = "recommendation_click";
                    e.placement = Some(["home", "detail"][rng.random_range(0..2)]);
                    e.reason = Some(["trending", "similar"][rng.random_range(0..2)]);
                }
            }
            if e.entity_type == "query" {
                let typed = e.query.clone().unwrap_or_default();
                e.entity_id = QUERIES
                    .iter()
                    .find(|(t, _)| *t == typed)
                    .map(|(_, id)| id.to_string())
                    .unwrap_or_default();
            }
            if e.action.starts_with("recommendation") {
                e.viewer = None;
            }
            e
        })
        .collect()
}

/// Counts the events with the real ingest script (dated in `mode`) and
/// flushes them: rollups, leaderboards and the raw log.
async fn pipeline(env: &TestEnv, events: &[Sent], mode: BucketMode) -> anyhow::Result<()> {
    let counters = env.hot_counters()?;
    let mut rules = EventRules::default();
    rules
        .domains
        .insert(analytics_domain::Domain::new("jav")?, mode);
    for (i, sent) in events.iter().enumerate() {
        let body = sent.body(i);
        let event: Event = rules
            .validate(
                body.as_object().expect("object"),
                sent.at + Duration::minutes(1),
                &ValueLimits::contract(),
            )
            .map_err(|e| anyhow::anyhow!("{body}: {e:?}"))?;
        counters.ingest_event(&event, &mode, true).await?;
    }
    env.flush_until_clean().await?;
    Ok(())
}

fn within_hll_error(estimate: &Value, exact: usize, what: &str) {
    let estimate = estimate.as_u64().unwrap_or(u64::MAX) as f64;
    let exact = exact as f64;
    assert!(
        (estimate - exact).abs() <= (exact * 0.02).max(1.0),
        "{what}: estimate {estimate}, exact {exact}"
    );
}

fn round(x: f64, decimals: i32) -> f64 {
    let s = 10f64.powi(decimals);
    (x * s).round() / s
}

fn close(a: &Value, b: f64, what: &str) {
    let a = a.as_f64().unwrap_or(f64::NAN);
    assert!((a - b).abs() < 1e-9, "{what}: got {a}, expected {b}");
}

/// A movie's figures over the range, computed from the events.
#[derive(Debug, Default)]
struct Film {
    starts: i64,
    page_views: i64,
    watch: i64,
    completions: i64,
    pct_sum: i64,
    pct_samples: i64,
    viewers: BTreeSet<String>,
}

fn films(events: &[Sent]) -> BTreeMap<String, Film> {
    let mut out: BTreeMap<String, Film> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e.in_range() && e.entity_type == "movie")
    {
        let f = out.entry(e.entity_id.clone()).or_default();
        f.starts += i64::from(e.action == "start");
        f.page_views += i64::from(e.action == "view");
        f.watch += e.watch_seconds();
        f.completions += i64::from(e.completed());
        if let Some(p) = e.percent() {
            f.pct_sum += p;
            f.pct_samples += 1;
        }
        if e.is_viewer_action() {
            f.viewers.extend(e.viewer.clone());
        }
    }
    out
}

async fn csv(api: &ReadApi, path: &str) -> anyhow::Result<String> {
    let res = api
        .client
        .get(format!("{}{path}", api.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("Accept", "text/csv")
        .send()
        .await?;
    anyhow::ensure!(res.status() == 200, "{path}: {}", res.status());
    anyhow::ensure!(
        res.headers()["content-type"]
            .to_str()?
            .starts_with("text/csv"),
        "{path}"
    );
    Ok(res.text().await?)
}

/// The CSV of a list route equals its JSON rows (as text, null empty).
async fn csv_equals_json(
    api: &ReadApi,
    path: &str,
    rows_at: &str,
    columns: &[&str],
) -> anyhow::Result<()> {
    let (status, body) = api.admin(path).await?;
    assert_eq!(status, 200, "{path}: {body}");
    let text = csv(api, path).await?;
    let mut lines = text.split("\r\n");
    assert_eq!(lines.next(), Some(columns.join(",").as_str()), "{path}");
    let rows = body
        .pointer(rows_at)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for row in &rows {
        let expected: Vec<String> = columns
            .iter()
            .map(|c| match &row[*c] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(lines.next(), Some(expected.join(",").as_str()), "{path}");
    }
    assert_eq!(lines.next(), Some(""), "{path}: one line per row");
    Ok(())
}

#[tokio::test]
async fn reports_match_a_model_of_a_random_mix_across_year_and_month_ends() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    // The range is a year ago: this raw log keeps everything.
    env.set("retention.raw_log_days", "0");
    env.migrate().await?;
    env.insert_movies(&[("vm0", "VM-000", 0, 0)]).await?;
    let events = random_mix(9, 2500);
    pipeline(&env, &events, BucketMode::default()).await?;
    let api = env.spawn_read_api().await?;
    let model = films(&events);

    // Popular content: starts, ties by id, the seed's fields.
    let (status, popular) = api
        .admin(&format!(
            "/api/v1/analytics/content/popular?{RANGE}&limit=10"
        ))
        .await?;
    assert_eq!(status, 200, "{popular}");
    let mut ranked: Vec<(&String, &Film)> = model.iter().filter(|(_, f)| f.starts > 0).collect();
    ranked.sort_by(|a, b| b.1.starts.cmp(&a.1.starts).then_with(|| a.0.cmp(b.0)));
    let items = popular["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 10);
    assert_eq!(popular["total_items"], 10);
    assert_eq!(popular["period_days"], 32);
    assert_eq!(popular["ranking"], "exact");
    for (item, (id, film)) in items.iter().zip(&ranked) {
        assert_eq!(item["movie_id"], json!(id));
        assert_eq!(item["total_views"], film.starts, "{id}");
        assert_eq!(item["watch_time_seconds"], film.watch, "{id}");
        assert_eq!(item["page_views"], film.page_views, "{id}");
        let rate = round(
            (film.completions as f64 / film.starts as f64).min(1.0) * 100.0,
            2,
        );
        close(&item["completion_rate"], rate, id);
        within_hll_error(&item["unique_viewers"], film.viewers.len(), id);
    }
    let vm0 = items.iter().find(|i| i["movie_id"] == "vm0");
    assert_eq!(vm0.map(|i| i["code"].clone()), Some(json!("VM-000")));

    // By watch time and by unique viewers.
    let (_, by_watch) = api
        .admin(&format!(
            "/api/v1/analytics/content/popular?{RANGE}&limit=5&sort=watch_time"
        ))
        .await?;
    let mut watch: Vec<(&String, i64)> = model.iter().map(|(id, f)| (id, f.watch)).collect();
    watch.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    let got: Vec<(String, i64)> = by_watch["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["movie_id"].as_str().unwrap_or("").to_string(),
                i["watch_time_seconds"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    let want: Vec<(String, i64)> = watch[..5]
        .iter()
        .map(|(id, w)| (id.to_string(), *w))
        .collect();
    assert_eq!(got, want);
    let (_, by_viewers) = api
        .admin(&format!(
            "/api/v1/analytics/content/popular?{RANGE}&limit=3&sort=unique_viewers"
        ))
        .await?;
    assert_eq!(by_viewers["ranking"], "approximate");
    let best = model.values().map(|f| f.viewers.len()).max().unwrap_or(0);
    within_hll_error(&by_viewers["items"][0]["unique_viewers"], best, "best film");

    // Video metrics of the busiest film, with the player's parameter names.
    let (id, film) = ranked[0];
    let (status, video) = api
        .admin(&format!(
            "/api/metrics/video/{id}?startDate={FROM}&endDate={TO}"
        ))
        .await?;
    assert_eq!(status, 200, "{video}");
    assert_eq!(video["video_id"], json!(id));
    assert_eq!(video["views"], film.starts);
    assert_eq!(video["watch_time_seconds"], film.watch);
    within_hll_error(&video["unique_viewers"], film.viewers.len(), "video");
    let avg = round(film.pct_sum as f64 / film.pct_samples as f64, 2);
    close(&video["avg_watch_percentage"], avg, "avg watch %");
    let completion = round((film.completions as f64 / film.starts as f64).min(1.0), 4);
    close(&video["completion_rate"], completion, "completion");
    let uniques = video["unique_viewers"].as_f64().unwrap_or(1.0);
    let returns = ((film.starts as f64 / uniques - 1.0) / 2.0).clamp(0.0, 1.0);
    let engagement = round(
        10.0 * (0.4 * avg / 100.0 + 0.4 * completion + 0.2 * returns),
        1,
    );
    close(&video["engagement_score"], engagement, "engagement");

    // Trends: one row per day, zero-filled between the two stretches.
    let (_, trends) = api
        .admin(&format!("/api/v1/analytics/trends?{RANGE}"))
        .await?;
    let days = trends["days"].as_array().cloned().unwrap_or_default();
    assert_eq!(days.len(), 32);
    for day in &days {
        let date = day["date"].as_str().unwrap_or("");
        let of_day: Vec<&Sent> = events.iter().filter(|e| e.date() == date).collect();
        let count = |a: &str| of_day.iter().filter(|e| e.action == a).count() as i64;
        assert_eq!(day["views"], count("start"), "{date}");
        assert_eq!(day["page_views"], count("view"), "{date}");
        let watch: i64 = of_day.iter().map(|e| e.watch_seconds()).sum();
        assert_eq!(day["watch_time_seconds"], watch, "{date}");
        let completions = of_day.iter().filter(|e| e.completed()).count() as i64;
        assert_eq!(day["completions"], completions, "{date}");
        let users: BTreeSet<&String> = of_day
            .iter()
            .filter(|e| e.is_viewer_action())
            .filter_map(|e| e.viewer.as_ref())
            .collect();
        within_hll_error(&day["unique_viewers"], users.len(), date);
    }

    // Peak hours: every hour, busiest first.
    let (_, peak) = api
        .admin(&format!("/api/v1/analytics/peak-hours?{RANGE}"))
        .await?;
    assert_eq!(peak["timezone"], "UTC");
    let mut expected: Vec<(u32, i64, usize)> = (0..24)
        .map(|h| {
            let of_hour: Vec<&Sent> = events
                .iter()
                .filter(|e| e.in_range() && e.at.hour() == h && e.is_viewer_action())
                .collect();
            let users: BTreeSet<&String> =
                of_hour.iter().filter_map(|e| e.viewer.as_ref()).collect();
            (h, of_hour.len() as i64, users.len())
        })
        .collect();
    expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let hours = peak["hours"].as_array().cloned().unwrap_or_default();
    assert_eq!(hours.len(), 24);
    for (row, (hour, events_count, users)) in hours.iter().zip(&expected) {
        assert_eq!(row["hour"], *hour);
        assert_eq!(row["events_count"], *events_count, "hour {hour}");
        within_hll_error(&row["unique_users"], *users, "hour users");
    }

    // User statistics of the heaviest user, from the raw log.
    let heavy = "u0";
    let mine: Vec<&Sent> = events
        .iter()
        .filter(|e| {
            e.in_range()
                && e.user.as_deref() == Some(heavy)
                && e.entity_type == "movie"
                && matches!(e.action, "start" | "progress" | "finish" | "complete")
        })
        .collect();
    let (status, stats) = api
        .admin(&format!("/api/v1/analytics/user/{heavy}/stats?{RANGE}"))
        .await?;
    assert_eq!(status, 200, "{stats}");
    let started = mine.iter().filter(|e| e.action == "start").count() as i64;
    let finished = mine.iter().filter(|e| e.completed()).count() as i64;
    assert_eq!(stats["movies_started"], started);
    assert_eq!(stats["movies_finished"], finished);
    let watched: BTreeSet<&String> = mine.iter().map(|e| &e.entity_id).collect();
    assert_eq!(stats["unique_movies_watched"], watched.len());
    let total: i64 = mine.iter().map(|e| e.watch_seconds()).sum();
    assert_eq!(stats["total_watch_time_seconds"], total);
    close(
        &stats["completion_rate"],
        round((finished as f64 / started as f64).min(1.0) * 100.0, 2),
        "user completion",
    );
    let mut per_movie: HashMap<&String, (i64, i64)> = HashMap::new();
    for e in &mine {
        let m = per_movie.entry(&e.entity_id).or_default();
        m.0 += e.watch_seconds();
        m.1 += 1;
    }
    let most = per_movie
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(id, _)| id.to_string());
    assert_eq!(stats["most_watched_movie_id"], json!(most));
    assert_eq!(stats["period_days"], 32);

    // Search: queries folded as the contract says, zero results.
    let searches: Vec<&Sent> = events
        .iter()
        .filter(|e| e.in_range() && e.action == "search")
        .collect();
    let mut queries: BTreeMap<&String, (i64, i64)> = BTreeMap::new();
    for e in &searches {
        let q = queries.entry(&e.entity_id).or_default();
        q.0 += 1;
        q.1 += i64::from(e.zero_results);
    }
    let mut top: Vec<(&&String, &(i64, i64))> = queries.iter().collect();
    top.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then_with(|| a.0.cmp(b.0)));
    let (_, found) = api
        .admin(&format!("/api/v1/admin/analytics/search/queries?{RANGE}"))
        .await?;
    let got: Vec<(String, i64, i64)> = found["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["query"].as_str().unwrap_or("").to_string(),
                i["searches"].as_i64().unwrap_or(-1),
                i["zero_results"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    let want: Vec<(String, i64, i64)> = top
        .iter()
        .map(|(q, (n, z))| (q.to_string(), *n, *z))
        .collect();
    assert_eq!(got, want);
    let (_, zero) = api
        .admin(&format!(
            "/api/v1/admin/analytics/search/queries?{RANGE}&sort=zero_results&limit=1"
        ))
        .await?;
    assert_eq!(zero["items"][0]["query"], "zzz");
    // The body names the ranking it was asked for, in the parameter's words.
    assert_eq!(
        (&zero["sort"], &zero["ranking"]),
        (&json!("zero_results"), &json!("exact"))
    );
    let (_, daily) = api
        .admin(&format!("/api/v1/admin/analytics/search/daily?{RANGE}"))
        .await?;
    let total_searches: i64 = daily["days"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| d["searches"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total_searches, searches.len() as i64);

    // Recommendations by placement and by both, and the movies clicked.
    let recs: Vec<&Sent> = events
        .iter()
        .filter(|e| e.in_range() && e.placement.is_some())
        .collect();
    let (_, by_placement) = api
        .admin(&format!("/api/v1/admin/analytics/recommendations?{RANGE}"))
        .await?;
    for item in by_placement["items"].as_array().into_iter().flatten() {
        let placement = item["placement"].as_str().unwrap_or("");
        let of = |a: &str| {
            recs.iter()
                .filter(|e| e.placement == Some(placement) && e.action == a)
                .count() as i64
        };
        assert_eq!(item["impressions"], of("recommendation_impression"));
        assert_eq!(item["clicks"], of("recommendation_click"));
        assert_eq!(item["reason"], Value::Null);
        close(
            &item["ctr"],
            round(
                (of("recommendation_click") as f64 / of("recommendation_impression") as f64)
                    .min(1.0),
                4,
            ),
            placement,
        );
    }
    let (_, both) = api
        .admin(&format!(
            "/api/v1/admin/analytics/recommendations?{RANGE}&by=both"
        ))
        .await?;
    assert_eq!(both["items"].as_array().map(Vec::len), Some(4));
    let mut clicks: BTreeMap<&String, i64> = BTreeMap::new();
    for e in recs.iter().filter(|e| e.action == "recommendation_click") {
        *clicks.entry(&e.entity_id).or_default() += 1;
    }
    let mut most_clicked: Vec<(&&String, &i64)> = clicks.iter().collect();
    most_clicked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let (_, movies) = api
        .admin(&format!(
            "/api/v1/admin/analytics/recommendations/movies?{RANGE}&limit=3"
        ))
        .await?;
    for (item, (id, n)) in movies["items"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(&most_clicked)
    {
        assert_eq!(item["movie_id"], json!(id));
        assert_eq!(item["clicks"], **n);
    }

    // Every list route's CSV is its JSON.
    for (path, rows, columns) in [
        (
            format!("/api/v1/analytics/content/popular?{RANGE}"),
            "/items",
            read_api::api::viewing::POPULAR_COLUMNS,
        ),
        (
            format!("/api/v1/analytics/trends?{RANGE}"),
            "/days",
            read_api::api::viewing::TREND_COLUMNS,
        ),
        (
            format!("/api/v1/analytics/peak-hours?{RANGE}"),
            "/hours",
            read_api::api::viewing::PEAK_COLUMNS,
        ),
        (
            format!("/api/v1/admin/analytics/search/queries?{RANGE}"),
            "/items",
            read_api::api::discovery::QUERY_COLUMNS,
        ),
        (
            format!("/api/v1/admin/analytics/search/daily?{RANGE}"),
            "/days",
            read_api::api::discovery::SEARCH_DAY_COLUMNS,
        ),
        (
            format!("/api/v1/admin/analytics/recommendations?{RANGE}&by=both"),
            "/items",
            read_api::api::discovery::RECOMMENDATION_COLUMNS,
        ),
        (
            format!("/api/v1/admin/analytics/recommendations/movies?{RANGE}"),
            "/items",
            read_api::api::discovery::CLICKED_COLUMNS,
        ),
        (
            "/api/v1/admin/analytics/top?period=all".to_string(),
            "/items",
            &["rank", "entity_id", "code", "title", "view", "download"],
        ),
    ] {
        csv_equals_json(&api, &path, rows, columns).await?;
    }
    // `?format=csv` asks as Accept does.
    let by_format = api
        .client
        .get(format!(
            "{}/api/v1/analytics/peak-hours?{RANGE}&format=csv",
            api.base
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(
        by_format,
        csv(&api, &format!("/api/v1/analytics/peak-hours?{RANGE}")).await?
    );
    Ok(())
}

#[tokio::test]
async fn peak_hours_are_the_domains_local_hours() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("domains.jav.zone", "Asia/Tokyo");
    env.migrate().await?;
    // 15:30 UTC is 00:30 the next day in Tokyo (UTC+9).
    let at: DateTime<Utc> = "2026-01-31T15:30:00Z".parse()?;
    let mut events = random_mix(1, 1);
    events[0] = Sent {
        at,
        action: "start",
        entity_type: "movie",
        entity_id: "tokyo-film".into(),
        viewer: Some("u-tokyo".into()),
        user: Some("u-tokyo".into()),
        ..events[0].clone()
    };
    let tokyo = BucketMode::Zone("Asia/Tokyo".parse().map_err(|e| anyhow::anyhow!("{e}"))?);
    pipeline(&env, &events, tokyo).await?;
    let api = env.spawn_read_api().await?;
    let (_, peak) = api
        .admin("/api/v1/analytics/peak-hours?from=2026-02-01&to=2026-02-01")
        .await?;
    assert_eq!(peak["timezone"], "Asia/Tokyo");
    assert_eq!(
        peak["hours"][0],
        json!({"hour": 0, "events_count": 1, "unique_users": 1})
    );
    let (_, utc_day) = api
        .admin("/api/v1/analytics/peak-hours?from=2026-01-31&to=2026-01-31")
        .await?;
    assert_eq!(
        utc_day["hours"][0]["events_count"], 0,
        "not on the UTC date"
    );
    let (_, trends) = api
        .admin("/api/v1/analytics/trends?from=2026-01-31&to=2026-02-01")
        .await?;
    assert_eq!(trends["days"][1]["views"], 1);
    assert_eq!(trends["days"][0]["views"], 0);
    Ok(())
}

#[tokio::test]
async fn a_request_after_a_flush_never_gets_a_report_computed_before_it() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    // Kept for ten minutes unless a flush outdates it.
    env.set("read_api.report_cache_ms", "600000");
    env.migrate().await?;
    let at = |minute: i64| {
        "2026-01-02T10:00:00Z"
            .parse::<DateTime<Utc>>()
            .unwrap_or_default()
            + Duration::minutes(minute)
    };
    let start = |minute: i64| Sent {
        at: at(minute),
        action: "start",
        entity_type: "movie",
        entity_id: "kept-film".into(),
        viewer: Some(format!("u-{minute}")),
        user: Some(format!("u-{minute}")),
        ..random_mix(1, 1)[0].clone()
    };
    let search = |minute: i64| Sent {
        action: "search",
        entity_type: "query",
        entity_id: "noir".into(),
        query: Some("noir".into()),
        zero_results: false,
        ..start(minute)
    };
    let first = start(0);
    pipeline(&env, std::slice::from_ref(&first), BucketMode::default()).await?;
    let api = env.spawn_read_api().await?;
    let popular = "/api/v1/analytics/content/popular?from=2026-01-02&to=2026-01-02";
    let queries =
        "/api/v1/admin/analytics/search/queries?from=2026-01-02&to=2026-01-02&sort=searches&limit=10";
    let (status, headers, kept) = api.admin_with_headers(popular).await?;
    assert_eq!(
        (status, kept["items"][0]["total_views"].clone()),
        (200, json!(1))
    );
    assert_eq!(headers.get("age").map(|v| v.as_bytes()), Some(&b"0"[..]));
    let (_, _, none) = api.admin_with_headers(queries).await?;
    assert_eq!(none["items"], json!([]));

    // The first event again (a duplicate, not counted), a new start and 8
    // searches: the very first requests after the flush see them all.
    let mut second = vec![first, start(1)];
    second.extend((2..10).map(search));
    pipeline(&env, &second, BucketMode::default()).await?;
    for (path, figure, want) in [
        (popular, "/items/0/total_views", json!(2)),
        (queries, "/items/0/searches", json!(8)),
    ] {
        let (status, headers, now) = api.admin_with_headers(path).await?;
        assert_eq!(status, 200, "{path}: {now}");
        assert_eq!(now.pointer(figure), Some(&want), "{path}: {now}");
        assert_eq!(headers.get("x-report-updating"), None, "{path}");
    }
    let (_, _, listed) = api.admin_with_headers(queries).await?;
    assert_eq!(listed["items"][0]["query"], "noir");
    Ok(())
}

#[tokio::test]
async fn every_report_parameter_is_checked_and_named() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let api = env.spawn_read_api().await?;
    let long_user = "u".repeat(65);
    let cases: Vec<(String, &str)> = vec![
        ("/api/v1/analytics/content/popular?days=0".into(), "days"),
        ("/api/v1/analytics/content/popular?days=367".into(), "days"),
        ("/api/v1/analytics/content/popular?days=x".into(), "days"),
        (
            "/api/v1/analytics/content/popular?days=7&from=2026-01-01".into(),
            "days",
        ),
        (
            "/api/v1/analytics/content/popular?limit=101".into(),
            "limit",
        ),
        (
            "/api/v1/analytics/content/popular?sort=likes".into(),
            "sort",
        ),
        (
            "/api/v1/analytics/content/popular?domain=nope".into(),
            "domain",
        ),
        (
            "/api/v1/analytics/content/popular?format=xml".into(),
            "format",
        ),
        (
            "/api/v1/analytics/content/popular?from=2026-02-01&to=2026-01-01".into(),
            "from",
        ),
        (
            "/api/v1/analytics/content/popular?from=2024-01-01&to=2026-01-01".into(),
            "from",
        ),
        (
            "/api/v1/analytics/content/popular?to=2026-13-01".into(),
            "to",
        ),
        (
            "/api/metrics/video/v1?startDate=yesterday".into(),
            "startDate",
        ),
        ("/api/metrics/video/v1?endDate=2026-02-30".into(), "endDate"),
        ("/api/metrics/video/%20?days=7".into(), "video_id"),
        (
            format!("/api/v1/analytics/user/{long_user}/stats"),
            "user_id",
        ),
        ("/api/v1/analytics/user/u1/stats?days=-1".into(), "days"),
        ("/api/v1/analytics/trends?days=".into(), "days"),
        ("/api/v1/analytics/peak-hours?from=2026-1-1".into(), "from"),
        (
            "/api/v1/admin/analytics/search/queries?sort=clicks".into(),
            "sort",
        ),
        (
            "/api/v1/admin/analytics/search/daily?days=400".into(),
            "days",
        ),
        (
            "/api/v1/admin/analytics/recommendations?by=movie".into(),
            "by",
        ),
        (
            "/api/v1/admin/analytics/recommendations/movies?limit=0".into(),
            "limit",
        ),
        ("/api/v1/admin/analytics/top?format=pdf".into(), "format"),
    ];
    for (path, field) in cases {
        let (status, body) = api.admin(&path).await?;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(
            error_fields(&body),
            vec![field.to_string()],
            "{path}: {body}"
        );
    }
    // An empty range still answers, zero-filled.
    let (status, empty) = api
        .admin("/api/v1/analytics/content/popular?days=1")
        .await?;
    assert_eq!(status, 200);
    assert_eq!(empty["items"], json!([]));
    assert_eq!(empty["ranking"], "exact");
    let (_, nobody) = api.admin("/api/v1/analytics/user/nobody/stats").await?;
    assert_eq!(nobody["movies_started"], 0);
    assert_eq!(nobody["completion_rate"], 0.0);
    assert_eq!(nobody["most_watched_movie_id"], Value::Null);
    let mut expect_keys: Vec<&str> = vec![
        "user_id",
        "movies_started",
        "movies_finished",
        "unique_movies_watched",
        "total_watch_time_seconds",
        "completion_rate",
        "period_days",
        "most_watched_movie_id",
        "domain",
        "from",
        "to",
    ];
    let mut keys: Vec<&str> = nobody
        .as_object()
        .map(|o: &Map<String, Value>| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    expect_keys.sort_unstable();
    assert_eq!(keys, expect_keys);
    Ok(())
}
