//! What the benchmark tools measure alike: process memory, Redis memory, a
//! flush run (time, output, peak memory), percentiles.

use std::path::Path;
use std::time::{Duration, Instant};

/// One flush run: how long it took, what it printed, its peak RSS.
pub struct FlushRun {
    pub seconds: f64,
    pub output: String,
    pub peak_rss_kb: u64,
    /// Where the run's time went, from its "flush finished" log line
    /// (`redis 3.1 s, mongo 4.0 s, …`; empty if it had none).
    pub steps: String,
}

/// The step times of a "flush finished" log line, in seconds.
fn step_times(log: &str) -> String {
    let Some(line) = log.lines().rev().find(|l| l.contains("flush finished")) else {
        return String::new();
    };
    let ms = |name: &str| -> Option<f64> {
        let at = line.find(&format!("\"{name}\":"))? + name.len() + 3;
        let digits: String = line[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<f64>().ok().map(|n| n / 1000.0)
    };
    [
        ("redis", "redis_ms"),
        ("mongo", "mongo_ms"),
        ("replicas", "replica_ms"),
        ("boards", "leaderboard_ms"),
        ("log copy", "log_copy_ms"),
    ]
    .iter()
    .filter_map(|(label, field)| Some(format!("{label} {:.1} s", ms(field)?)))
    .collect::<Vec<_>>()
    .join(", ")
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A process's peak resident memory so far.
pub fn peak_rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmHWM:")
}

/// A process's resident memory now.
pub fn rss_kb(pid: u32) -> u64 {
    status_kb(pid, "VmRSS:")
}

pub async fn redis_used_memory(url: &str) -> anyhow::Result<i64> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await?;
    Ok(info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0))
}

/// Runs `flush-worker flush` to the end, sampling its peak RSS (VmHWM)
/// while it runs.
pub async fn flush_once(bin: &Path) -> anyhow::Result<FlushRun> {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(bin)
        .arg("flush")
        .env("RUST_LOG", "warn,flush_worker=info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    // Read as it comes, so a chatty run never fills the pipe and stalls.
    let log = child.stderr.take().map(|mut err| {
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut log = String::new();
            let _ = err.read_to_string(&mut log).await;
            log
        })
    });
    let mut peak = 0;
    let status = loop {
        peak = peak.max(peak_rss_kb(pid));
        if let Some(status) = child.try_wait()? {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut output = String::new();
    if let Some(mut out) = child.stdout.take() {
        use tokio::io::AsyncReadExt;
        out.read_to_string(&mut output).await?;
    }
    anyhow::ensure!(
        status.success() || output.contains("Flushed"),
        "flush failed: {status}"
    );
    let log = match log {
        Some(task) => task.await.unwrap_or_default(),
        None => String::new(),
    };
    Ok(FlushRun {
        seconds: started.elapsed().as_secs_f64(),
        output: output.trim().to_string(),
        peak_rss_kb: peak,
        steps: step_times(&log),
    })
}

/// Nearest-rank percentile of microsecond samples, in milliseconds.
pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

/// Flushes until nothing waits (a run under way first finishes: it holds
/// the leases), within `limit`; returns the runs it took.
pub async fn drain(
    counters: &analytics_store::HotCounters,
    flush_bin: &Path,
    limit: std::time::Duration,
) -> anyhow::Result<u32> {
    let deadline = std::time::Instant::now() + limit;
    let mut drains = 0;
    loop {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the backlog never drained"
        );
        let backlog = counters.backlog().await?;
        if backlog
            .iter()
            .all(|b| b.dirty_keys == 0 && b.open_batch.is_none())
        {
            return Ok(drains);
        }
        if backlog.iter().any(|b| b.leased) {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        flush_once(flush_bin).await?;
        drains += 1;
    }
}
