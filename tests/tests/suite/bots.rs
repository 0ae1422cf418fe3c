//! Crawlers, monitors and headless browsers are answered and counted nowhere;
//! people are counted; a server-side producer is never taken for a bot.

use analytics_domain::Action;
use analytics_tests::{event, TestEnv, INGEST_PRODUCER_TOKEN};
use serde_json::{json, Value};

const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const HEADLESS: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                        HeadlessChrome/131.0.0.0 Safari/537.36";
const PERSON: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

async fn post(
    base: &str,
    path: &str,
    user_agent: &str,
    token: Option<&str>,
    body: &Value,
) -> anyhow::Result<reqwest::Response> {
    let mut req = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("user-agent", user_agent)
        .json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    Ok(req.send().await?)
}

#[tokio::test]
async fn bots_are_answered_and_counted_nowhere_people_are_counted() -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("events.log_filtered", "true");
    env.migrate().await?;
    env.insert_movies(&[("m-1", "BOT-1", 0, 0)]).await?;
    let app = env.spawn_ingest().await?;
    let single = "/api/v1/analytics/events";

    let crawled = post(
        &app.base,
        single,
        GOOGLEBOT,
        None,
        &event("g1", "movie", "m-1", "view", 1),
    )
    .await?;
    assert_eq!(crawled.status().as_u16(), 202);
    assert_eq!(crawled.headers()["x-analytics-filtered"], "bot");
    assert_eq!(crawled.text().await?, r#"{"status":"accepted"}"#);
    // A bot's invalid event is still refused: a broken page stays visible.
    let invalid = post(
        &app.base,
        single,
        GOOGLEBOT,
        None,
        &json!({"event_id": "g2", "domain": "jav"}),
    )
    .await?;
    assert_eq!(invalid.status().as_u16(), 422);

    let batch = post(
        &app.base,
        "/api/v1/analytics/events/batch",
        HEADLESS,
        None,
        &json!([
            event("h1", "movie", "m-1", "view", 1),
            event("h2", "movie", "m-1", "view", 1),
            {"event_id": "h3"},
        ]),
    )
    .await?;
    assert_eq!(batch.status().as_u16(), 200);
    assert_eq!(batch.headers()["x-analytics-filtered"], "bot");
    let body: Value = batch.json().await?;
    assert_eq!(
        (
            &body["accepted"],
            &body["filtered"],
            &body["invalid"],
            &body["results"][1]["status"]
        ),
        (&json!(0), &json!(2), &json!(1), &json!("filtered"))
    );

    let person = post(
        &app.base,
        single,
        PERSON,
        None,
        &event("p1", "movie", "m-1", "view", 1),
    )
    .await?;
    assert_eq!(person.status().as_u16(), 202);
    assert!(person.headers().get("x-analytics-filtered").is_none());
    // The download tracker sends its own user agent with the producer
    // token: counted, whatever its user agent looks like.
    let server = post(
        &app.base,
        single,
        "curl/8.5.0",
        Some(INGEST_PRODUCER_TOKEN),
        &event("s1", "movie", "m-1", "download", 1),
    )
    .await?;
    assert_eq!(server.status().as_u16(), 202);
    assert!(server.headers().get("x-analytics-filtered").is_none());

    let metrics = app.get("/metrics").await?.text().await?;
    assert!(
        metrics.contains(r#"analytics_events_filtered_total{reason="bot"} 3"#),
        "{metrics}"
    );

    let out = env.flush_worker(&["flush"], &[]).await?;
    assert!(out.status.success());
    let totals = env.totals("movie", "m-1").await?;
    assert_eq!(
        (totals.get(Action::View), totals.get(Action::Download)),
        (1, 1)
    );
    assert_eq!(env.replica("m-1").await?, Some((1, 1)));
    // The raw log holds people's events; the bots' are kept apart, flagged.
    assert_eq!(env.logged_events().await?, 2);
    let mut conn = env.mysql().await?;
    let kept: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT CONVERT(event_id USING utf8mb4), CONVERT(filter_reason USING utf8mb4), \
         CONVERT(user_agent USING utf8mb4) FROM analytics_events_filtered ORDER BY event_id",
    )
    .fetch_all(&mut conn)
    .await?;
    assert_eq!(
        kept,
        vec![
            ("g1".into(), "bot".into(), Some(GOOGLEBOT.into())),
            ("h1".into(), "bot".into(), Some(HEADLESS.into())),
            ("h2".into(), "bot".into(), Some(HEADLESS.into())),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn without_the_filter_a_bot_counts_and_without_log_filtered_nothing_is_kept(
) -> anyhow::Result<()> {
    let mut env = TestEnv::new().await?;
    env.set("events.filter_bots", "false");
    env.migrate().await?;
    let app = env.spawn_ingest().await?;
    let resp = post(
        &app.base,
        "/api/v1/analytics/events",
        GOOGLEBOT,
        None,
        &event("g1", "movie", "m-1", "view", 1),
    )
    .await?;
    assert!(resp.headers().get("x-analytics-filtered").is_none());
    app.stop().await;

    // Filter on (the default), log_filtered off (the default).
    let env2 = TestEnv::new().await?;
    env2.migrate().await?;
    let app2 = env2.spawn_ingest().await?;
    let resp = post(
        &app2.base,
        "/api/v1/analytics/events",
        GOOGLEBOT,
        None,
        &event("g1", "movie", "m-1", "view", 1),
    )
    .await?;
    assert_eq!(resp.headers()["x-analytics-filtered"], "bot");
    for e in [&env, &env2] {
        let out = e.flush_worker(&["flush"], &[]).await?;
        assert!(out.status.success());
    }
    assert_eq!(env.totals("movie", "m-1").await?.get(Action::View), 1);
    assert_eq!(env2.totals("movie", "m-1").await?.get(Action::View), 0);
    assert_eq!(env2.logged_events().await?, 0);
    let mut conn = env2.mysql().await?;
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM analytics_events_filtered")
        .fetch_one(&mut conn)
        .await?;
    assert_eq!(kept, 0);
    Ok(())
}
