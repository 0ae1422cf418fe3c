//! The browser SDK in headless Chromium, loaded from the real ingest-svc by
//! a page of another origin (as a site would), its events checked in the
//! rollups after a real flush.

use std::time::Duration;

use analytics_domain::{Action, Sum};
use analytics_tests::browser::{serve_pages, Browser};
use analytics_tests::{Ingest, TestEnv};
use serde_json::{json, Value};

/// A page that loads the SDK from `ingest` and offers `makeClient` and a
/// WAV file of silence to play in its `<video>`.
fn sdk_page(ingest: &str) -> String {
    format!(
        r#"<!doctype html><meta charset="utf-8"><title>SDK test page</title>
<video id="film" muted playsinline></video>
<script type="module">
import {{ createAnalytics, VERSION }} from "{ingest}/sdk/v1/analytics.js";
// Every batch the page sent, by action, as the SDK handed it to fetch.
window.sentActions = [];
function recordingFetch(url, init) {{
  for (const e of JSON.parse(init.body).events) window.sentActions.push(e.action);
  return fetch(url, init);
}}
window.makeClient = (options) =>
  createAnalytics({{ endpoint: "{ingest}", fetch: recordingFetch, ...options }});
// `seconds` of 8 kHz 8-bit mono silence.
window.wavUrl = (seconds) => {{
  const n = 8000 * seconds, buf = new DataView(new ArrayBuffer(44 + n));
  const text = (at, s) => [...s].forEach((c, i) => buf.setUint8(at + i, c.charCodeAt(0)));
  text(0, "RIFF"); buf.setUint32(4, 36 + n, true); text(8, "WAVEfmt ");
  buf.setUint32(16, 16, true); buf.setUint16(20, 1, true); buf.setUint16(22, 1, true);
  buf.setUint32(24, 8000, true); buf.setUint32(28, 8000, true); buf.setUint16(32, 1, true);
  buf.setUint16(34, 8, true); text(36, "data"); buf.setUint32(40, n, true);
  for (let i = 0; i < n; i++) buf.setUint8(44 + i, 128);
  return URL.createObjectURL(new Blob([buf], {{ type: "audio/wav" }}));
}};
window.sdkVersion = VERSION;
</script>"#
    )
}

/// ingest-svc answering CORS for the page's origin, the page, a browser.
async fn stack(env: &TestEnv) -> anyhow::Result<(Ingest, String, Browser)> {
    // The page names ingest's address and ingest allows the page's origin:
    // the page server's socket is bound first.
    let pages = std::net::TcpListener::bind("127.0.0.1:0")?;
    let page_origin = format!("http://127.0.0.1:{}", pages.local_addr()?.port());
    let mut settings = env.ingest_settings()?;
    settings.ingest.cors_allowed_origins = vec![page_origin.clone()];
    let ingest = env.spawn_ingest_with(settings).await?;
    let origin = serve_pages(pages, vec![("/", sdk_page(&ingest.base))]).await?;
    let browser = Browser::start(1280, 800).await?;
    browser.goto(&format!("{origin}/")).await?;
    browser
        .wait_for("window.sdkVersion", Duration::from_secs(10))
        .await?;
    Ok((ingest, origin, browser))
}

#[tokio::test]
async fn the_sdk_is_served_as_written_with_the_documented_integrity_hash() -> anyhow::Result<()> {
    use base64::Engine;
    use sha2::Digest;
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    let answer = ingest.get("/sdk/v1/analytics.js").await?;
    assert_eq!(answer.status(), 200);
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(header("access-control-allow-origin"), "*");
    assert_eq!(header("cache-control"), "public, max-age=604800");
    let etag = header("etag");
    let body = answer.bytes().await?;
    assert_eq!(&body[..], ingest_svc::SDK.body);
    let again = ingest
        .client
        .get(format!("{}/sdk/v1/analytics.js", ingest.base))
        .header("if-none-match", etag)
        .send()
        .await?;
    assert_eq!(again.status(), 304);
    // The API reference's <script integrity> value must be this file's.
    let integrity = format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(&body))
    );
    let reference =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md"))?;
    assert!(
        reference.contains(&integrity),
        "docs/api.md must give the SDK's integrity as {integrity} (scripts/sdk-size.sh prints it)"
    );
    Ok(())
}

async fn movie_totals(env: &TestEnv, id: &str) -> anyhow::Result<analytics_domain::rollup::Counts> {
    env.flush_until_clean().await?;
    env.totals("movie", id).await
}

#[tokio::test]
async fn a_view_and_a_view_whose_answer_was_lost_count_once_each() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let (_ingest, _, browser) = stack(&env).await?;
    // The first answer is lost after the server counted the batch: the SDK
    // must send the same ids again, and the server must see a duplicate.
    browser
        .eval(
            r#"
            let lost = false;
            window.sentIds = [];
            window.a = makeClient({ flushIntervalMs: 50, backoffBaseMs: 50,
              fetch: async (url, init) => {
                window.sentIds.push(...JSON.parse(init.body).events.map((e) => e.event_id));
                const answer = await fetch(url, init);
                if (!lost) { lost = true; throw new TypeError("connection reset"); }
                return answer;
              } });
            window.a.track({ action: "view", entity_id: "m-retried" });
            "#,
            vec![],
        )
        .await?;
    browser
        .wait_for("a.pending === 0", Duration::from_secs(10))
        .await?;
    let sent = browser.eval("return window.sentIds;", vec![]).await?;
    let ids = sent.as_array().cloned().unwrap_or_default();
    assert_eq!(ids.len(), 2, "one send and one retry: {sent}");
    assert_eq!(ids[0], ids[1], "the retry keeps the event id");
    browser
        .eval(
            r#"window.b = makeClient({ flushIntervalMs: 50, storageKey: "second" });
               window.b.track({ action: "view", entity_id: "m-plain", user_id: 7 });"#,
            vec![],
        )
        .await?;
    browser
        .wait_for("b.pending === 0", Duration::from_secs(10))
        .await?;
    assert_eq!(movie_totals(&env, "m-retried").await?.get(Action::View), 1);
    assert_eq!(movie_totals(&env, "m-plain").await?.get(Action::View), 1);
    browser.screenshot("sdk-test-page").await?;
    browser.close().await
}

#[tokio::test]
async fn a_video_played_to_the_end_is_started_completed_and_timed() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let (_ingest, _, browser) = stack(&env).await?;
    browser
        .eval(
            r#"
            window.a = makeClient({ flushIntervalMs: 100 });
            const film = document.getElementById("film");
            window.a.trackVideo(film, { entityId: "m-film", progressEverySeconds: 1 });
            film.src = wavUrl(3);
            film.play();
            "#,
            vec![],
        )
        .await?;
    // `ended` is set before the SDK's ended handler queues `complete`: wait
    // for that event to have been sent, not only for the film to end.
    browser
        .wait_for(
            "document.getElementById('film').ended && window.sentActions.includes('complete') && a.pending === 0",
            Duration::from_secs(20),
        )
        .await?;
    let sent: Vec<String> =
        serde_json::from_value(browser.eval("return window.sentActions;", vec![]).await?)?;
    assert_eq!(sent.first().map(String::as_str), Some("start"));
    assert_eq!(sent.last().map(String::as_str), Some("complete"));
    let progress = sent.iter().filter(|a| *a == "progress").count() as i64;
    assert!(
        (1..=3).contains(&progress),
        "a progress about every second of 3: {sent:?}"
    );
    let totals = movie_totals(&env, "m-film").await?;
    assert_eq!(totals.get(Action::Start), 1);
    assert_eq!(totals.get(Action::Progress), progress);
    assert_eq!(totals.get(Action::Complete), 1);
    assert_eq!(totals.sum(Sum::Completions), 1);
    assert_eq!(totals.sum(Sum::WatchSeconds), 3, "the seconds played");
    assert_eq!(totals.sum(Sum::WatchPercentSum), 100);
    browser.close().await
}

#[tokio::test]
async fn what_is_queued_when_the_page_goes_away_arrives_by_beacon() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let (_ingest, _, browser) = stack(&env).await?;
    // A flush interval no test waits for: only the beacon can send it.
    browser
        .eval(
            r#"window.a = makeClient({ flushIntervalMs: 3600000 });
               window.a.track({ action: "download", entity_id: "m-beacon" });"#,
            vec![],
        )
        .await?;
    assert_eq!(
        browser
            .eval("return window.sentActions.length;", vec![])
            .await?,
        json!(0)
    );
    browser.goto("about:blank").await?;
    let totals = analytics_tests::eventually(Duration::from_secs(10), || async {
        let totals = movie_totals(&env, "m-beacon").await?;
        Ok((totals.get(Action::Download) > 0).then_some(totals))
    })
    .await?;
    assert_eq!(totals.get(Action::Download), 1);
    browser.close().await
}

#[tokio::test]
async fn do_not_track_sends_nothing() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    env.migrate().await?;
    let (_ingest, origin, browser) = stack(&env).await?;
    let tracked = browser
        .eval(
            r#"window.a = makeClient({ flushIntervalMs: 50, doNotTrack: true });
               return window.a.track({ action: "view", entity_id: "m-private" });"#,
            vec![],
        )
        .await?;
    assert_eq!(tracked, Value::Null);
    // Leaving would beacon anything queued; then a tracked page sends a
    // control event, which arrives after any beacon of the first page.
    browser.goto("about:blank").await?;
    browser.goto(&format!("{origin}/")).await?;
    browser
        .wait_for("window.sdkVersion", Duration::from_secs(10))
        .await?;
    browser
        .eval(
            r#"window.b = makeClient({ flushIntervalMs: 50, storageKey: "control" });
               window.b.track({ action: "view", entity_id: "m-control" });"#,
            vec![],
        )
        .await?;
    browser
        .wait_for("b.pending === 0", Duration::from_secs(10))
        .await?;
    assert_eq!(movie_totals(&env, "m-control").await?.get(Action::View), 1);
    assert_eq!(movie_totals(&env, "m-private").await?.get(Action::View), 0);
    browser.close().await
}
