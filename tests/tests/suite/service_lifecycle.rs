//! The real ingest-svc binary: configuration errors name their key, and
//! SIGTERM drains and exits cleanly.

use std::process::Stdio;
use std::time::Duration;

use analytics_tests::{binary, event, eventually, TestEnv};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

fn ingest_command(env: &TestEnv, port: u16) -> anyhow::Result<Command> {
    let mut cmd = Command::new(binary("ingest-svc")?);
    for (k, v) in &env.settings {
        cmd.env(
            format!("ANALYTICS__{}", k.replace('.', "__").to_uppercase()),
            v,
        );
    }
    cmd.env("ANALYTICS__INGEST__BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    Ok(cmd)
}

/// Starts the real ingest-svc on a free port; returns it, its base URL and
/// a client, once `/ready` answers.
async fn start_ingest(
    env: &TestEnv,
) -> anyhow::Result<(tokio::process::Child, String, reqwest::Client)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = ingest_command(env, port)?.spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually(Duration::from_secs(10), || async {
        Ok(client
            .get(format!("{base}/ready"))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200))
    })
    .await?;
    Ok((child, base, client))
}

#[tokio::test]
async fn an_invalid_setting_stops_the_service_with_the_key_named() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let out = ingest_command(&env, 0)?
        .env("ANALYTICS__DOMAINS__JAV__ZONE", "Mars/Olympus")
        .output()
        .await?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("domains.jav.zone"), "{stderr}");
    Ok(())
}

#[tokio::test]
async fn sigterm_stops_the_service_cleanly() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let (mut child, base, client) = start_ingest(&env).await?;
    let accepted = client
        .post(format!("{base}/api/v1/analytics/events"))
        .json(&event("life-1", "movie", "m-1", "view", 1))
        .send()
        .await?;
    assert_eq!(accepted.status().as_u16(), 202);

    let pid = child.id().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await?;
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await??;
    assert!(status.success(), "{status}");
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout).await?;
    }
    assert!(stdout.contains("graceful shutdown"), "{stdout}");
    assert!(stdout.contains("ingest-svc stopped"), "{stdout}");
    // Logs are JSON, one object per line, each with a level and a message.
    for line in stdout.lines() {
        let log: serde_json::Value = serde_json::from_str(line)?;
        assert!(
            log["level"].is_string() && log["fields"]["message"].is_string(),
            "{line}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn requests_in_flight_at_sigterm_get_their_real_answer() -> anyhow::Result<()> {
    let env = TestEnv::new().await?;
    let (mut child, base, _) = start_ingest(&env).await?;
    // Many clients keep posting; SIGTERM lands while requests are in flight.
    let mut senders = Vec::new();
    for c in 0..48 {
        let base = base.clone();
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut statuses = Vec::new();
            for i in 0..10_000 {
                let sent = client
                    .post(format!("{base}/api/v1/analytics/events"))
                    .json(&event(&format!("drain-{c}-{i}"), "movie", "m-1", "view", 1))
                    .send()
                    .await;
                match sent {
                    Ok(resp) => statuses.push(resp.status().as_u16()),
                    // Refused once the listener is closed: never sent.
                    Err(_) => break,
                }
            }
            statuses
        }));
    }
    eventually(Duration::from_secs(10), || async {
        Ok((env.dirty_keys().await? > 0).then_some(()))
    })
    .await?;
    let pid = child.id().ok_or_else(|| anyhow::anyhow!("no pid"))?;
    assert!(Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await?
        .success());
    let mut accepted = 0i64;
    for sender in senders {
        for status in sender.await? {
            assert_eq!(
                status, 202,
                "an in-flight request was not answered with its outcome"
            );
            accepted += 1;
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await??;
    assert!(status.success(), "{status}");
    // Every 202 was counted, nothing else was.
    assert_eq!(env.counts_waiting().await?, accepted);
    Ok(())
}
