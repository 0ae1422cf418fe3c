//! The operator page (`/ops/` of telemetry-svc) in headless Chromium: a
//! failed job, a host that blocked us and the pipeline's health, at phone
//! and desktop widths.

use std::time::Duration;

use analytics_tests::browser::Browser;
use analytics_tests::{Telemetry, TestEnv, OPERATOR_TOKEN};
use chrono::Utc;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

async fn signed_in(t: &Telemetry, width: u32) -> anyhow::Result<Browser> {
    let browser = Browser::start(width, 900).await?;
    browser.goto(&format!("{}/ops/", t.base)).await?;
    browser.fill("#token", OPERATOR_TOKEN).await?;
    browser.click("#signin button[type=submit]").await?;
    Ok(browser)
}

#[tokio::test]
async fn the_operator_page_shows_a_failed_job_a_blocked_host_and_the_pipeline() -> anyhow::Result<()>
{
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let t = Telemetry::spawn(&env).await?;
    let now = Utc::now();
    for (kind, uuid) in [("started", "j-1"), ("started", "j-2"), ("completed", "j-1")] {
        t.post(
            json!({"event_type": kind, "job_uuid": uuid, "job_name": "OnejavJob",
                      "site": "onejav", "timestamp": now.to_rfc3339(), "duration_ms": 120}),
        )
        .await?;
    }
    t.post(
        json!({"event_type": "failed", "job_uuid": "j-2", "job_name": "OnejavJob",
                  "site": "onejav", "timestamp": now.to_rfc3339(), "duration_ms": 80,
                  "error_class": "GuzzleHttp\\Exception\\ClientException", "error_code": 403,
                  "error_message": "403 Forbidden", "url": "https://onejav.com/new"}),
    )
    .await?;
    // A flush run on record: the pipeline is healthy.
    env.flush_until_clean().await?;

    let browser = signed_in(&t, 1440).await?;
    // The flush reports its own run as a job: every site shows it too.
    browser
        .wait_for(
            "document.querySelector('[data-card=started] .value')?.textContent === '3'",
            WAIT,
        )
        .await?;
    let sites = browser
        .eval(
            "return [...document.querySelectorAll('#site option')].map((o) => o.value);",
            vec![],
        )
        .await?;
    assert_eq!(sites, json!(["", "analytics", "onejav"]));
    browser
        .eval("document.getElementById('site').value = 'onejav';", vec![])
        .await?;
    browser.click("#filters button[type=submit]").await?;
    browser
        .wait_for(
            "document.querySelector('[data-card=started] .value')?.textContent === '2'",
            WAIT,
        )
        .await?;
    assert_eq!(browser.text("[data-card=completed] .value").await?, "2");
    assert_eq!(
        browser.text("[data-card=completed]").await?,
        "Finished\n2\n1 succeeded · 0.001 / s"
    );
    assert_eq!(browser.text("[data-card=failed] .value").await?, "1");
    assert_eq!(
        browser.text("[data-card=success-rate] .value").await?,
        "50 %"
    );
    assert_eq!(browser.text("[data-card=p99] .value").await?, "120 ms");
    assert!(browser.text("#status").await?.starts_with("Updated"));
    let failures = browser.text("#failures tbody").await?;
    assert!(
        failures.contains("OnejavJob")
            && failures.contains("ClientException")
            && failures.contains("403"),
        "{failures}"
    );
    let blocks = browser.text("#blocks tbody").await?;
    assert!(blocks.starts_with("onejav forbidden (403) 1"), "{blocks}");
    assert!(
        blocks.contains("in "),
        "the cooldown's end is shown: {blocks}"
    );
    let banner = browser.text("#pipeline-banner").await?;
    assert!(banner.starts_with("Healthy"), "{banner}");
    // The throughput chart is drawn, and readable as a table.
    assert_eq!(
        browser
            .eval(
                "return document.querySelectorAll('#throughput canvas').length;",
                vec![]
            )
            .await?,
        json!(1)
    );
    let chart_table = browser
        .eval(
            "return document.querySelector('#throughput details table').textContent;",
            vec![],
        )
        .await?;
    assert!(
        chart_table.as_str().unwrap_or_default().contains("onejav"),
        "{chart_table}"
    );
    assert!(!browser.overflows().await?);
    assert_eq!(browser.clipped_cells().await?, Vec::<String>::new());
    browser.screenshot("ops-1440").await?;

    browser.check_phone_width("ops", "#throughput").await?;
    browser.close().await
}

#[tokio::test]
async fn the_operator_page_names_its_problems_and_refuses_a_wrong_token() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let t = Telemetry::spawn(&env).await?;
    let browser = Browser::start(1024, 800).await?;
    browser.goto(&format!("{}/ops", t.base)).await?;
    browser.fill("#token", "not-the-token").await?;
    browser.click("#signin button[type=submit]").await?;
    browser
        .wait_for("document.getElementById('signin-error').textContent", WAIT)
        .await?;
    assert_eq!(
        browser.text("#signin-error").await?,
        "The token was refused."
    );
    // Nothing is said to be loading behind the sign-in form.
    assert_eq!(
        browser
            .eval(
                "return document.getElementById('status').textContent;",
                vec![]
            )
            .await?,
        json!("")
    );
    browser.fill("#token", OPERATOR_TOKEN).await?;
    browser.click("#signin button[type=submit]").await?;
    // No flush has ever run for this test's stores.
    let banner = browser
        .wait_for(
            "document.getElementById('pipeline-banner').textContent.includes('problem') && document.getElementById('pipeline-banner').textContent",
            WAIT,
        )
        .await?;
    assert!(
        banner
            .as_str()
            .unwrap_or_default()
            .contains("no flush run has been recorded"),
        "{banner}"
    );
    assert_eq!(
        browser.text("[data-card=last-flush] .value").await?,
        "never"
    );
    browser.screenshot("ops-problems").await?;
    browser.close().await
}
