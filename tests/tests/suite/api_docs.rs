//! Each service's interactive API page (`/docs`, Swagger UI vendored) in
//! headless Chromium: it loads the service's own `/openapi.json`, shows
//! every operation, breaks no rule of the page's Content-Security-Policy,
//! and "Try it out" on its example counts an event.

use std::time::Duration;

use analytics_tests::browser::Browser;
use analytics_tests::{Telemetry, TestEnv};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

fn operation_count(doc: &Value) -> usize {
    doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, item)| item.as_object().map_or(0, |o| o.len()))
        .sum()
}

#[tokio::test]
async fn every_service_serves_its_api_page_on_its_own_document() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let api = env.spawn_read_api().await?;
    let telemetry = Telemetry::spawn(&env).await?;
    let browser = Browser::start(1280, 900).await?;
    for (name, base, title) in [
        ("ingest", ingest.base.clone(), "analytics ingest-svc"),
        ("read-api", api.base.clone(), "analytics read-api"),
        (
            "telemetry",
            telemetry.base.clone(),
            "analytics telemetry-svc",
        ),
    ] {
        let doc: Value = reqwest::get(format!("{base}/openapi.json"))
            .await?
            .json()
            .await?;
        // Without the slash: redirected to the page.
        browser.goto(&format!("{base}/docs")).await?;
        browser
            .wait_for(
                "document.documentElement.dataset.state === 'ready' && document.querySelectorAll('.opblock').length > 0",
                WAIT,
            )
            .await?;
        let shown = browser
            .eval(
                "return [document.querySelector('.info .title')?.childNodes[0]?.textContent.trim(), \
                         document.querySelectorAll('.opblock').length, window.cspViolations];",
                vec![],
            )
            .await?;
        assert_eq!(
            shown,
            json!([title, operation_count(&doc), []]),
            "{name}'s page"
        );
        browser.screenshot(&format!("docs-{name}")).await?;
    }

    // "Try it out" on ingest's example event, as a reader would.
    browser.goto(&format!("{}/docs/", ingest.base)).await?;
    browser
        .wait_for("document.querySelectorAll('.opblock').length > 0", WAIT)
        .await?;
    browser
        .click("#operations-default-ingest_event .opblock-summary")
        .await?;
    browser
        .wait_for("document.querySelector('.try-out__btn')", WAIT)
        .await?;
    browser.click(".try-out__btn").await?;
    browser.click(".execute").await?;
    let status = browser
        .wait_for(
            "document.querySelector('.live-responses-table tbody .response-col_status')?.textContent.trim()",
            WAIT,
        )
        .await?;
    assert_eq!(status, json!("202"));
    assert_eq!(env.counts_waiting().await?, 1);
    browser.close().await
}
