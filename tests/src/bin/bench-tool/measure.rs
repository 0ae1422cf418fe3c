//! What the benchmark tools measure alike: process memory, Redis memory, a
//! flush run (time, output, peak memory), percentiles.

use std::path::Path;
use std::time::{Duration, Instant};

/// One flush run: how long it took, what it printed, its peak RSS.
pub struct FlushRun {
    pub seconds: f64,
    pub output: String,
    pub peak_rss_kb: u64,
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
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let pid = child.id().unwrap_or(0);
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
    Ok(FlushRun {
        seconds: started.elapsed().as_secs_f64(),
        output: output.trim().to_string(),
        peak_rss_kb: peak,
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
