//! A frozen MongoDB (the process stopped, its sockets open) is an outage:
//! every report route answers 503 with Retry-After within the configured
//! timeouts, never a 500, and `/ready` answers within a second. Uses its
//! own secantusd-rs, so freezing it cannot disturb other tests.

use std::time::{Duration, Instant};

use analytics_tests::private_servers::{free_port, start_mongo};
use analytics_tests::{TestEnv, ADMIN_TOKEN};

const ROUTES: [&str; 6] = [
    "/api/v1/admin/analytics/top?entity_type=movie&action=view&period=all",
    "/api/v1/admin/analytics/entities/movie/m-1",
    "/api/v1/admin/analytics/trends?days=7",
    "/api/v1/analytics/content/popular",
    "/api/v1/analytics/peak-hours",
    "/api/v1/analytics/counts/movie/m-1",
];

fn signal(pid: u32, sig: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()?;
    anyhow::ensure!(status.success(), "kill {sig} {pid}");
    // A signal is delivered asynchronously: wait until the process is in
    // the state it asked for (T stopped, else running or sleeping).
    let wanted_stopped = sig == "-STOP";
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|s| s.split_whitespace().next());
        if (state == Some("T")) == wanted_stopped {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{pid} not in the state {sig} asks for"
        );
        std::thread::yield_now();
    }
}

#[tokio::test]
async fn a_frozen_mongodb_is_a_prompt_503_on_every_report_route() -> anyhow::Result<()> {
    let port = free_port()?;
    let (mongo, dir) = start_mongo(port).await?;
    let pid = mongo.id().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    let mut env = TestEnv::new().await?;
    env.set("mongo.url", format!("mongodb://127.0.0.1:{port}/"))
        .set("mongo.connect_timeout_ms", "1000")
        .set("read_api.retry_after_seconds", "3")
        .set("read_api.query_timeout_ms", "2500");
    env.migrate().await?;
    let api = env.spawn_read_api().await?;
    let client = reqwest::Client::new();
    let get = |path: &'static str| {
        client
            .get(format!("{}{path}", api.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    for path in ROUTES {
        assert_eq!(get(path).await?.status().as_u16(), 200, "{path}");
    }

    signal(pid, "-STOP")?;
    let mut slowest = Duration::ZERO;
    for path in ROUTES {
        let started = Instant::now();
        let resp = get(path).await?;
        let took = started.elapsed();
        slowest = slowest.max(took);
        assert_eq!(resp.status().as_u16(), 503, "{path} after {took:?}");
        assert_eq!(resp.headers()["retry-after"], "3", "{path}");
    }
    let started = Instant::now();
    let ready = get("/ready").await?;
    let ready_took = started.elapsed();
    signal(pid, "-CONT")?;
    eprintln!("frozen MongoDB: slowest report answer {slowest:?}, /ready {ready_took:?}");
    assert_eq!(ready.status().as_u16(), 503);
    assert!(
        ready_took < Duration::from_secs(1),
        "/ready took {ready_took:?}"
    );
    // Bounded by the configured time (mongo.connect_timeout_ms and
    // read_api.query_timeout_ms), with room for a loaded machine.
    assert!(slowest < Duration::from_secs(4), "slowest {slowest:?}");

    // Thawed, it serves again.
    let status = analytics_tests::eventually(Duration::from_secs(20), || async {
        let s = get(ROUTES[0]).await?.status().as_u16();
        Ok((s == 200).then_some(s))
    })
    .await?;
    assert_eq!(status, 200);
    drop(mongo);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

/// A flush started while MongoDB is frozen says so at once and ends with
/// exit 1 within its step deadline, instead of waiting with no output (the
/// CronJob's next run then takes over).
#[tokio::test]
async fn a_flush_against_a_frozen_mongodb_ends_with_an_error_within_its_deadline(
) -> anyhow::Result<()> {
    let port = free_port()?;
    let (mongo, dir) = start_mongo(port).await?;
    let pid = mongo.id().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    let mut env = TestEnv::new().await?;
    env.set("mongo.url", format!("mongodb://127.0.0.1:{port}/"))
        .set("flush.step_timeout_seconds", "2");
    // The test's own reads go to this server too.
    env.mongo_url = format!("mongodb://127.0.0.1:{port}/");
    env.migrate().await?;
    let ingest = env.spawn_ingest().await?;
    ingest.send("f-1", "movie", "m-1", "view", 1).await?;

    signal(pid, "-STOP")?;
    let started = Instant::now();
    let out = env
        .flush_worker(&["flush"], &[("RUST_LOG", "info")])
        .await?;
    let took = started.elapsed();
    signal(pid, "-CONT")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "flush against a frozen MongoDB: exit {:?} after {took:?}",
        out.status.code()
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(r#""message":"flush-worker starting""#),
        "{stderr}"
    );
    assert!(stderr.contains("error: "), "{stderr}");
    assert!(took < Duration::from_secs(15), "took {took:?}: {stderr}");

    // Thawed, the next run counts the event.
    env.flush_until_clean().await?;
    assert_eq!(
        env.totals("movie", "m-1")
            .await?
            .get(analytics_domain::Action::View),
        1
    );
    drop(mongo);
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}
