//! Headless Chromium for the page tests, driven over WebDriver
//! (chromedriver, both from Debian; `scripts/test.sh` installs them). Each
//! test gets its own browser with a fresh profile; screenshots go to the
//! run's output folder for review.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The user agent the pages see: a desktop Chromium's.
pub const PERSON_USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
    (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// Where a run's screenshots go: `ANALYTICS_TEST_OUTPUT`, or
/// `target/test-output` of the workspace.
pub fn output_dir() -> PathBuf {
    std::env::var_os("ANALYTICS_TEST_OUTPUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("test-output")
        })
}

pub struct Browser {
    client: Client,
    driver: tokio::process::Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium `width` px wide.
    pub async fn start(width: u32, height: u32) -> anyhow::Result<Self> {
        for path in [CHROMIUM, CHROMEDRIVER] {
            if !std::path::Path::new(path).exists() {
                bail!("{path} is missing: install Debian's chromium and chromium-driver (scripts/test.sh does)");
            }
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start chromedriver")?;
        let base = format!("http://127.0.0.1:{port}");
        let status = reqwest::Client::new();
        crate::eventually(Duration::from_secs(20), || async {
            let Ok(answer) = status.get(format!("{base}/status")).send().await else {
                return Ok(None);
            };
            let body: Value = answer.json().await?;
            Ok((body["value"]["ready"] == true).then_some(()))
        })
        .await
        .context("chromedriver did not become ready")?;
        let profile =
            std::env::temp_dir().join(format!("analytics-chromium-{}", uuid::Uuid::new_v4()));
        // The flags this closed network needs (no background calls home)
        // and the ones a test needs (media plays without a gesture). The
        // page is a person's: headless Chromium names itself HeadlessChrome,
        // which ingest rightly counts nowhere, so it says what a desktop
        // Chromium says.
        let args = json!([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required",
            format!("--user-agent={PERSON_USER_AGENT}"),
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={width},{height}"),
        ]);
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&base)
            .await
            .context("open a Chromium session")?;
        // Below Chromium's minimum window width only a resize of the
        // running window gives the viewport asked for.
        client.set_window_size(width, height).await?;
        Ok(Browser {
            client,
            driver,
            profile,
        })
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        Ok(self.client.goto(url).await?)
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn eval(&self, script: &str, args: Vec<Value>) -> anyhow::Result<Value> {
        Ok(self.client.execute(script, args).await?)
    }

    /// Polls the expression `expr` until it is truthy; returns its value.
    pub async fn wait_for(&self, expr: &str, limit: Duration) -> anyhow::Result<Value> {
        let script = format!("return ({expr});");
        let deadline = Instant::now() + limit;
        loop {
            let value = self.eval(&script, vec![]).await?;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value != json!(0)
                && value != json!("");
            if truthy {
                return Ok(value);
            }
            if Instant::now() > deadline {
                bail!("`{expr}` still {value} after {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types `text` into the element `css` selects, as a user would.
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let field = self.client.find(Locator::Css(css)).await?;
        field.clear().await?;
        Ok(field.send_keys(text).await?)
    }

    /// Clicks the element `css` selects.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        Ok(self.client.find(Locator::Css(css)).await?.click().await?)
    }

    /// The visible text of the element `css` selects.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    /// Whether the page is wider than the window (a horizontal scrollbar).
    pub async fn overflows(&self) -> anyhow::Result<bool> {
        let wider = self
            .eval(
                "return document.documentElement.scrollWidth > window.innerWidth;",
                vec![],
            )
            .await?;
        Ok(wider == json!(true))
    }

    /// The table cells on screen that are not wholly visible across: cut
    /// by their table's scrolling box or by the window (`section: text`,
    /// at most ten). Cells not displayed (a closed `<details>`) are not on
    /// screen.
    pub async fn clipped_cells(&self) -> anyhow::Result<Vec<String>> {
        let cut = self
            .eval(
                "return [...document.querySelectorAll('td')].filter((td) => {                    const r = td.getBoundingClientRect();                    if (r.width === 0 || r.height === 0) return false;                    const box = (td.closest('.table-wrap') ?? document.documentElement).getBoundingClientRect();                    const right = Math.min(box.right, window.innerWidth), left = Math.max(box.left, 0);                    return r.left < left - 0.5 || r.right > right + 0.5;                  }).slice(0, 10).map((td) => `${td.closest('[id]')?.id}: ${td.innerText}`);",
                vec![],
            )
            .await?;
        Ok(serde_json::from_value(cut)?)
    }

    /// Narrows the window to a phone's 375 px, waits until the chart
    /// `chart` (a selector) has redrawn to fit, checks nothing scrolls
    /// sideways and every table cell is wholly on screen (the figures of a
    /// wide table included), and saves a screenshot as `<name>-375`.
    pub async fn check_phone_width(&self, name: &str, chart: &str) -> anyhow::Result<()> {
        self.set_width(375, 900).await?;
        self.wait_for(
            &format!("document.querySelector('{chart} canvas').width <= 375"),
            Duration::from_secs(15),
        )
        .await?;
        anyhow::ensure!(
            !self.overflows().await?,
            "{name} scrolls sideways at 375 px"
        );
        let clipped = self.clipped_cells().await?;
        anyhow::ensure!(
            clipped.is_empty(),
            "{name} at 375 px cuts these cells: {clipped:?}"
        );
        self.screenshot(&format!("{name}-375")).await?;
        Ok(())
    }

    pub async fn set_width(&self, width: u32, height: u32) -> anyhow::Result<()> {
        Ok(self.client.set_window_size(width, height).await?)
    }

    /// Saves a PNG of the whole page (the window is stretched to the
    /// page's height for the shot) as `<output>/screenshots/<name>.png`.
    /// Widths are the viewport's: a window narrower than Chromium's
    /// minimum (500 px) reports that as its outer width.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let size = self
            .eval(
                "return [window.innerWidth, window.outerHeight, \
                 window.outerHeight - window.innerHeight + document.documentElement.scrollHeight];",
                vec![],
            )
            .await?;
        let px = |i: usize| size[i].as_u64().and_then(|n| u32::try_from(n).ok());
        let (Some(width), Some(height), Some(page)) = (px(0), px(1), px(2)) else {
            bail!("no window size: {size}");
        };
        self.client
            .set_window_size(width, page.clamp(height, 6000))
            .await?;
        let png = self.client.screenshot().await;
        self.client.set_window_size(width, height).await?;
        let png = png?;
        let dir = output_dir().join("screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Ends the session (Chromium exits); the driver goes with `Drop`.
    pub async fn close(self) -> anyhow::Result<()> {
        Ok(self.client.clone().close().await?)
    }
}

impl Drop for Browser {
    /// A failed test never closes its session: stop its Chromium by its
    /// profile (chromedriver's children outlive a killed chromedriver).
    fn drop(&mut self) {
        let _ = self.driver.start_kill();
        let _ = std::process::Command::new("pkill")
            .arg("-f")
            .arg(self.profile.as_os_str())
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A page server for the tests on `listener`: serves `pages` (path →
/// HTML) from another origin than the services, as a real site would.
pub async fn serve_pages(
    listener: TcpListener,
    pages: Vec<(&'static str, String)>,
) -> anyhow::Result<String> {
    let port = listener.local_addr()?.port();
    let pages = std::sync::Arc::new(pages);
    let server = actix_web::HttpServer::new(move || {
        let pages = pages.clone();
        actix_web::App::new().default_service(actix_web::web::to(
            move |req: actix_web::HttpRequest| {
                let pages = pages.clone();
                async move {
                    match pages.iter().find(|(path, _)| *path == req.path()) {
                        Some((_, html)) => actix_web::HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .body(html.clone()),
                        None => actix_web::HttpResponse::NotFound().finish(),
                    }
                }
            },
        ))
    })
    .workers(1)
    .listen(listener)?
    .run();
    tokio::spawn(server);
    Ok(format!("http://127.0.0.1:{port}"))
}
