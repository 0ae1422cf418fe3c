//! The admin dashboard (`/admin/` of read-api) in headless Chromium, on a
//! seeded stack: a catalogue, a day of events of every kind through the
//! real ingest and flush.

use std::time::{Duration, Instant};

use analytics_tests::browser::Browser;
use analytics_tests::catalogue_data::{CatalogueData, Shape};
use analytics_tests::{Ingest, ReadApi, TestEnv, ADMIN_TOKEN};
use chrono::Utc;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

/// A stack with a catalogue and today's events about its movies 1 and 2.
struct Seeded {
    /// Kept for the test's life: its stores are this test's.
    env: TestEnv,
    ingest: Ingest,
    api: ReadApi,
    data: CatalogueData,
}

fn event(n: &mut u32, action: &str, entity: &str, extra: Value) -> Value {
    *n += 1;
    let mut e = json!({"event_id": format!("seed-{n}"), "domain": "jav", "action": action,
                       "entity_type": if action == "search" { "query" } else { "movie" },
                       "entity_id": entity, "occurred_at": Utc::now().to_rfc3339()});
    if let (Some(e), Some(extra)) = (e.as_object_mut(), extra.as_object()) {
        e.extend(extra.clone());
    }
    e
}

async fn seeded() -> anyhow::Result<Seeded> {
    seeded_with(TestEnv::new().await?).await
}

async fn seeded_with(env: TestEnv) -> anyhow::Result<Seeded> {
    env.migrate().await?;
    let data = CatalogueData::generate(Shape::SMALL, 5, Utc::now());
    data.insert(&mut env.mysql().await?).await?;
    let ingest = env.spawn_ingest().await?;
    let (a, b) = (data.movies[0].uuid.as_str(), data.movies[1].uuid.as_str());
    let n = &mut 0;
    let mut events = Vec::new();
    for user in ["u1", "u2", "u3"] {
        events.push(event(n, "view", a, json!({"user_id": user})));
    }
    events.push(event(n, "view", b, json!({"user_id": "u1"})));
    events.push(event(n, "download", a, json!({"user_id": "u1"})));
    for user in ["u2", "u3"] {
        events.push(event(n, "download", b, json!({"user_id": user})));
    }
    for user in ["u1", "u2"] {
        events.push(event(
            n,
            "start",
            a,
            json!({"user_id": user, "duration_seconds": 600, "position_seconds": 0}),
        ));
    }
    events.push(event(n, "complete", a, json!({"user_id": "u1", "duration_seconds": 600, "position_seconds": 600, "watched_seconds": 600})));
    events.push(event(
        n,
        "start",
        b,
        json!({"user_id": "u3", "duration_seconds": 1200, "position_seconds": 0}),
    ));
    events.push(event(n, "progress", b, json!({"user_id": "u3", "duration_seconds": 1200, "position_seconds": 120, "watched_seconds": 120})));
    for results in [5, 5, 0] {
        let query = if results == 0 {
            "nothing here"
        } else {
            "tokyo"
        };
        events.push(event(
            n,
            "search",
            query,
            json!({"query": query, "result_count": results, "user_id": "u1"}),
        ));
    }
    for action in [
        "recommendation_impression",
        "recommendation_impression",
        "recommendation_click",
    ] {
        events.push(event(
            n,
            action,
            b,
            json!({"placement": "home", "reason": "trending", "user_id": "u2"}),
        ));
    }
    let (status, answer) = ingest
        .post_json_to("/api/v1/analytics/events/batch", &json!({"events": events}))
        .await?;
    anyhow::ensure!(status == 200 && answer["invalid"] == 0, "{status} {answer}");
    env.flush_until_clean().await?;
    env.flush_worker(&["refresh-catalogue-index"], &[]).await?;
    let api = env.spawn_read_api().await?;
    Ok(Seeded {
        env,
        ingest,
        api,
        data,
    })
}

/// A browser signed in to the dashboard, every section loaded.
async fn dashboard(s: &Seeded, width: u32) -> anyhow::Result<Browser> {
    let browser = Browser::start(width, 900).await?;
    browser.goto(&format!("{}/admin", s.api.base)).await?;
    browser.fill("#token", ADMIN_TOKEN).await?;
    browser.click("#signin button[type=submit]").await?;
    browser
        .wait_for("document.documentElement.dataset.state === 'ready'", WAIT)
        .await?;
    Ok(browser)
}

async fn card(browser: &Browser, id: &str) -> anyhow::Result<String> {
    browser.text(&format!("[data-card={id}] .value")).await
}

async fn rows(browser: &Browser, container: &str) -> anyhow::Result<Vec<String>> {
    let rows = browser
        .eval(
            "return [...document.querySelectorAll(arguments[0] + ' > .table-wrap tbody tr')].map((r) => r.innerText.replaceAll('\\t', ' '));",
            vec![json!(container)],
        )
        .await?;
    Ok(serde_json::from_value(rows)?)
}

#[tokio::test]
async fn the_dashboard_renders_every_card_chart_and_table_from_the_seeded_stack(
) -> anyhow::Result<()> {
    let s = seeded().await?;
    let browser = dashboard(&s, 1440).await?;
    for (id, value) in [
        ("today-page-views", "4"),
        ("today-plays", "3"),
        ("today-downloads", "3"),
        ("today-viewers", "3"),
        ("today-watch-time", "12 min"),
        ("today-completions", "1"),
        ("period-downloads", "3"),
        ("movies", "400"),
    ] {
        assert_eq!(card(&browser, id).await?, value, "card {id}");
    }
    // Every chart is drawn, and readable as a table.
    for (chart, rows_expected) in [
        ("#trends", 7),
        ("#watch-time", 7),
        ("#peak-hours", 24),
        ("#searches", 7),
        ("#created", 7),
        ("#engagement", 7),
    ] {
        let drawn = browser
            .eval(
                "const c = document.querySelector(arguments[0]); \
                 return [c.querySelectorAll('canvas').length, c.querySelectorAll('details tbody tr').length];",
                vec![json!(chart)],
            )
            .await?;
        assert_eq!(drawn, json!([1, rows_expected]), "chart {chart}");
    }
    let movie = |i: usize| s.data.movies[i].title.clone();
    let first = |rows: Vec<String>| rows.first().cloned().unwrap_or_default();
    let popular = rows(&browser, "#popular").await?;
    assert_eq!(popular.len(), 2);
    assert!(
        popular[0].starts_with(&format!("1 {} ", movie(0))),
        "{popular:?}"
    );
    assert!(
        popular[0].contains(" 2 3 10 min 50 % 100 % 3"),
        "{popular:?}"
    );
    assert!(first(rows(&browser, "#top-views").await?).contains(&format!("{} ", movie(0))));
    assert!(first(rows(&browser, "#top-downloads").await?).contains(&format!("{} ", movie(1))));
    assert_eq!(
        rows(&browser, "#queries").await?,
        ["1 tokyo 2 0", "2 nothing here 1 1"]
    );
    assert_eq!(
        rows(&browser, "#zero-queries").await?,
        ["1 nothing here 1 1"]
    );
    assert_eq!(
        rows(&browser, "#recommendations").await?,
        ["home trending 2 1 50 %"]
    );
    assert!(first(rows(&browser, "#clicked").await?).contains(&movie(1)));
    let (_, snap) = s
        .api
        .admin("/api/v1/admin/analytics/snapshot?days=7")
        .await?;
    let providers = snap["providerStats"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(rows(&browser, "#providers").await?.len(), providers);
    assert_eq!(rows(&browser, "#quality").await?.len(), 8);
    assert_eq!(rows(&browser, "#actor-quality").await?.len(), 5);
    assert!(!browser.overflows().await?);
    assert_eq!(browser.clipped_cells().await?, Vec::<String>::new());
    assert_labels_say_what_they_count(&browser).await?;
    browser.screenshot("dashboard-1440").await?;

    // A film's row opens its own figures and series for the page's period.
    browser
        .click(&format!("#popular [data-film='{}']", s.data.movies[0].uuid))
        .await?;
    browser
        .wait_for("!document.getElementById('film').hidden", WAIT)
        .await?;
    for (id, value) in [
        ("film-views", "3"),
        ("film-downloads", "1"),
        ("film-plays", "2"),
        ("film-viewers", "3"),
        ("film-watch-time", "10 min"),
        ("film-completed", "50 %"),
    ] {
        assert_eq!(card(&browser, id).await?, value, "card {id}");
    }
    let days = browser
        .eval(
            "return document.querySelectorAll('#film-series details tbody tr').length;",
            vec![],
        )
        .await?;
    assert_eq!(days, json!(7));
    browser.screenshot("dashboard-film").await?;

    browser.check_phone_width("dashboard", "#trends").await?;

    // First paint and the first full dashboard, on a load with the token
    // already in the tab (the figures docs/benchmarks.md gives).
    browser.goto(&format!("{}/admin/", s.api.base)).await?;
    browser
        .wait_for(
            "performance.getEntriesByName('dashboard-ready').length",
            WAIT,
        )
        .await?;
    let timing = browser
        .eval(
            "return [performance.getEntriesByName('first-contentful-paint')[0]?.startTime, \
                     performance.getEntriesByName('dashboard-ready')[0].startTime];",
            vec![],
        )
        .await?;
    println!(
        "dashboard at 375 px: first contentful paint {} ms, every section loaded {} ms",
        timing[0], timing[1]
    );
    browser.close().await
}

/// With the reports kept for ten minutes, the dashboard reloaded right
/// after a flush shows what the flush wrote, never the kept figures.
#[tokio::test]
async fn the_dashboard_reloaded_after_a_flush_shows_its_figures() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("read_api.report_cache_ms", "600000");
    env.set("read_api.snapshot_cache_ms", "600000");
    let s = seeded_with(env).await?;
    let browser = dashboard(&s, 1440).await?;
    assert_eq!(
        rows(&browser, "#queries").await?,
        ["1 tokyo 2 0", "2 nothing here 1 1"]
    );
    let n = &mut 100;
    let searches: Vec<Value> = (0..8)
        .map(|_| {
            event(
                n,
                "search",
                "fresh query",
                json!({"query": "fresh query", "result_count": 3, "user_id": "u4"}),
            )
        })
        .collect();
    let (status, answer) = s
        .ingest
        .post_json_to(
            "/api/v1/analytics/events/batch",
            &json!({"events": searches}),
        )
        .await?;
    anyhow::ensure!(
        status == 200 && answer["accepted"] == 8,
        "{status} {answer}"
    );
    s.env.flush_until_clean().await?;
    browser.click("#controls button[type=submit]").await?;
    browser
        .wait_for("document.documentElement.dataset.state === 'ready'", WAIT)
        .await?;
    assert_eq!(
        rows(&browser, "#queries").await?,
        ["1 fresh query 8 0", "2 tokyo 2 0", "3 nothing here 1 1"]
    );
    assert_eq!(card(&browser, "today-page-views").await?, "4");
    browser.screenshot("dashboard-after-flush").await?;
    browser.close().await
}

/// The labels a reader could misread: each top list has its own period
/// (the page's by default), legends carry no "--", catalogue quality says
/// when it was computed, the averages say what they are over, and the page
/// has its icon.
async fn assert_labels_say_what_they_count(browser: &Browser) -> anyhow::Result<()> {
    let periods = browser
        .eval(
            "return ['top-views-period', 'top-downloads-period'].map((id) => document.getElementById(id).value);",
            vec![],
        )
        .await?;
    assert_eq!(periods, json!(["range", "range"]));
    browser
        .eval(
            "const s = document.getElementById('top-views-period'); s.value = 'all';              s.dispatchEvent(new Event('change'));",
            vec![],
        )
        .await?;
    browser
        .wait_for(
            "document.querySelector('#top-views-tools [data-csv]').dataset.csv.includes('period=all')",
            WAIT,
        )
        .await?;
    let downloads = browser
        .eval(
            "return document.querySelector('#top-downloads-tools [data-csv]').dataset.csv;",
            vec![],
        )
        .await?;
    assert!(
        downloads
            .as_str()
            .unwrap_or_default()
            .contains("period=range&days=7"),
        "{downloads}"
    );
    let legends = browser
        .eval(
            "return [...document.querySelectorAll('.u-legend')].filter((l) => l.textContent.includes('--')).length;",
            vec![],
        )
        .await?;
    assert_eq!(legends, json!(0));
    assert!(browser
        .text("#quality caption")
        .await?
        .starts_with("Computed "));
    let headers = browser
        .eval(
            "return [...document.querySelectorAll('#popular th')].map((th) => th.textContent);",
            vec![],
        )
        .await?;
    assert!(
        headers.to_string().contains("Completed (of plays)")
            && headers.to_string().contains("Watched (ended plays)"),
        "{headers}"
    );
    let icon = browser
        .eval(
            "return fetch(document.querySelector('link[rel=icon]').href).then((r) => [r.status, r.headers.get('content-type')]);",
            vec![],
        )
        .await?;
    assert_eq!(icon, json!([200, "image/svg+xml"]));
    Ok(())
}

/// The actor analytics page shows what the actor routes answer: the
/// overview, a genre's distribution, a profile's genres, the trends, one
/// actor and the genres a profile plays in; and reads on a phone.
#[tokio::test]
async fn the_actor_page_shows_every_actor_analysis_as_the_api_answers_it() -> anyhow::Result<()> {
    let s = seeded().await?;
    let get = |path: String| {
        let api = &s.api;
        async move {
            let (status, body) = api.admin(&path).await?;
            anyhow::ensure!(status == 200, "{path}: {status} {body}");
            Ok::<Value, anyhow::Error>(body)
        }
    };
    let a = "/api/v1/admin/analytics/actors";
    let overview = get(format!("{a}/overview?size=8")).await?;
    let genre = overview["top_genres"][0]["genre"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    anyhow::ensure!(
        !genre.is_empty(),
        "the seeded actors play no genre: {overview}"
    );
    let distribution = get(format!(
        "{a}/distribution?genre={genre}&dimension=age_bucket&size=10"
    ))
    .await?;
    let association = get(format!(
        "{a}/association?segment_type=age_bucket&segment_value=23-27&size=10"
    ))
    .await?;
    let trends = get(format!(
        "{a}/trends?dimension=age_bucket&interval=month&size=5"
    ))
    .await?;

    let browser = Browser::start(1440, 900).await?;
    browser
        .goto(&format!("{}/admin/actors/", s.api.base))
        .await?;
    browser.fill("#token", ADMIN_TOKEN).await?;
    browser.click("#signin button[type=submit]").await?;
    browser
        .wait_for("document.documentElement.dataset.state === 'ready'", WAIT)
        .await?;
    assert_eq!(
        card(&browser, "actors-total").await?,
        overview["total_actors"].as_i64().unwrap_or(-1).to_string()
    );
    let listed = |body: &Value, key: &str| body[key].as_array().map_or(0, Vec::len).max(1);
    let top = rows(&browser, "#top-genres").await?;
    assert_eq!(top.len(), listed(&overview, "top_genres"));
    assert_eq!(
        top[0],
        format!("{genre} {}", overview["top_genres"][0]["count"])
    );
    assert_eq!(
        rows(&browser, "#distribution").await?.len(),
        listed(&distribution, "segments")
    );
    assert_eq!(
        rows(&browser, "#association").await?.len(),
        listed(&association, "rules")
    );
    assert_eq!(
        rows(&browser, "#trends").await?.len(),
        listed(&trends, "periods")
    );
    let predicted = browser
        .eval(
            "return document.querySelector('[data-card=predict-matched] .value').textContent;",
            vec![],
        )
        .await?;
    assert_eq!(
        predicted,
        json!(overview["total_actors"].as_i64().unwrap_or(-1).to_string()),
        "nothing given: every actor"
    );

    // One actor, found by name.
    let actor = &s.data.actors[0];
    browser.fill("#insights-name", &actor.name).await?;
    browser.click("#insights-form button[type=submit]").await?;
    browser
        .wait_for("document.querySelector('[data-card=insight-name]')", WAIT)
        .await?;
    let insights = get(format!("{a}/insights?actor_uuid={}&size=5", actor.uuid)).await?;
    assert_eq!(card(&browser, "insight-name").await?, actor.name);
    assert_eq!(
        card(&browser, "insight-movies").await?,
        insights["movie_period_counts"]["year"]["total"].to_string()
    );
    assert_eq!(
        rows(&browser, "#insights-genres").await?.len(),
        listed(&insights, "actor_genres")
    );
    assert!(!browser.overflows().await?);
    assert_eq!(browser.clipped_cells().await?, Vec::<String>::new());
    browser.screenshot("actors-1440").await?;
    browser.check_phone_width("actors", "#timeline").await?;
    browser.close().await
}

/// Clicks the CSV button `key` names and returns the file the page made
/// (the test page's `URL.createObjectURL` keeps it in `window.downloaded`).
async fn download(browser: &Browser, key: &str) -> anyhow::Result<String> {
    browser.eval("window.downloaded = null;", vec![]).await?;
    browser.click(&format!("[data-csv='{key}']")).await?;
    let csv = browser.wait_for("window.downloaded", WAIT).await?;
    Ok(csv.as_str().unwrap_or_default().to_string())
}

/// `text/csv` with a header row, as rows of (header → field).
fn parse_csv(text: &str) -> Vec<Vec<(String, String)>> {
    let mut lines = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect::<Vec<_>>());
    let header = lines.next().unwrap_or_default();
    lines
        .map(|fields| header.iter().cloned().zip(fields).collect())
        .collect()
}

/// Each CSV field equals the JSON item's value of the same name.
fn csv_matches(csv: &str, items: &[Value]) {
    let rows = parse_csv(csv);
    assert_eq!(rows.len(), items.len(), "{csv}");
    for (row, item) in rows.iter().zip(items) {
        for (name, field) in row {
            let equal = match &item[name] {
                Value::Number(n) => field.parse::<f64>().ok() == n.as_f64(),
                Value::String(t) => field == t,
                Value::Null => field.is_empty(),
                other => field == &other.to_string(),
            };
            assert!(equal, "{name}: CSV {field:?}, JSON {}", item[name]);
        }
    }
}

#[tokio::test]
async fn a_live_event_shows_within_seconds_and_a_csv_download_equals_the_json() -> anyhow::Result<()>
{
    let s = seeded().await?;
    let browser = dashboard(&s, 1280).await?;
    browser
        .wait_for(
            "document.getElementById('live-state').textContent === 'live'",
            WAIT,
        )
        .await?;
    let before = card(&browser, "live-viewers").await?;
    let sent = Instant::now();
    let mut n = 1000;
    let (status, _) = s
        .ingest
        .post_json_to(
            "/api/v1/analytics/events",
            &event(&mut n, "start", "m-live", json!({"user_id": "u-live"})),
        )
        .await?;
    assert_eq!(status, 202);
    // The new viewer is counted among those watching now, and the event is
    // among the latest.
    let watching = format!(
        "document.querySelector('[data-card=live-viewers] .value').textContent === '{}'",
        before.parse::<i64>()? + 1
    );
    browser.wait_for(&watching, WAIT).await?;
    let metric = sent.elapsed();
    browser
        .wait_for(
            "document.getElementById('live-events').textContent.includes('m-live')",
            WAIT,
        )
        .await?;
    let listed = sent.elapsed();
    println!(
        "a new event on the dashboard: watching now changed after {} ms, listed after {} ms",
        metric.as_millis(),
        listed.as_millis()
    );
    browser.screenshot("dashboard-live").await?;

    // The server's CSV of a table, downloaded as a user would, is its JSON.
    browser
        .eval(
            "window.downloaded = null; const make = URL.createObjectURL; \
             URL.createObjectURL = (blob) => { blob.text().then((t) => { window.downloaded = t; }); return make(blob); };",
            vec![],
        )
        .await?;
    let path = "/api/v1/analytics/content/popular?days=7&limit=10&sort=views";
    let csv = download(&browser, path).await?;
    let (_, json) = s.api.admin(path).await?;
    csv_matches(
        &csv,
        json["items"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
    );
    // And a table made in the page (the snapshot has no CSV route).
    let csv = download(&browser, "sources-7d.csv").await?;
    let (_, snap) = s
        .api
        .admin("/api/v1/admin/analytics/snapshot?days=7")
        .await?;
    csv_matches(
        &csv,
        snap["providerStats"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default(),
    );
    browser.close().await
}

#[tokio::test]
async fn the_live_feed_reconnects_after_read_api_restarts() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.migrate().await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    env.set("read_api.bind", format!("127.0.0.1:{port}"))
        .set("read_api.shutdown_timeout_seconds", "1");
    let api = env.spawn_read_api().await?;
    let browser = Browser::start(1024, 800).await?;
    browser.goto(&format!("{}/admin/", api.base)).await?;
    browser.fill("#token", ADMIN_TOKEN).await?;
    browser.click("#signin button[type=submit]").await?;
    let state =
        |text: &str| format!("document.getElementById('live-state').textContent === '{text}'");
    browser.wait_for(&state("live"), WAIT).await?;
    // The service goes away: the page says so, and comes back with it.
    api.stop().await;
    browser.wait_for(&state("reconnecting…"), WAIT).await?;
    let _again = env.spawn_read_api().await?;
    browser.wait_for(&state("live"), WAIT).await?;
    browser.close().await
}
