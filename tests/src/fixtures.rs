//! Events, parsed answers and waiting: the small helpers every test uses.

use super::*;

/// What a job printed for its operator on stderr, without its JSON log
/// lines: a warning logged meanwhile (sqlx logs a statement slower than a
/// second) is not part of the message a test compares exactly.
pub fn job_messages(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|line| serde_json::from_str::<serde_json::Map<String, Value>>(line).is_err())
        .fold(String::new(), |mut out, line| {
            out.push_str(line);
            out.push('\n');
            out
        })
}

/// The value of one series (`name` or `name{labels}`) in a Prometheus text
/// page.
pub fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// An entity of the `jav` domain.
pub fn jav_entity(
    entity_type: analytics_domain::EntityType,
    id: &str,
) -> analytics_domain::EntityKey {
    analytics_domain::EntityKey {
        domain: analytics_domain::Domain::new("jav").expect("jav is a valid domain name"),
        entity_type,
        entity_id: id.into(),
    }
}

/// Counts an event straight into Redis with the real ingest script (UTC
/// buckets), as ingest-svc would, for events the HTTP contract would refuse
/// (an `occurred_at` far from now) or volumes HTTP would make slow.
pub async fn count_in_redis(
    counters: &analytics_store::HotCounters,
    event: &analytics_domain::Event,
) -> anyhow::Result<analytics_store::hot_counters::IngestOutcome> {
    Ok(counters
        .ingest_event(event, &analytics_domain::BucketMode::default(), true)
        .await?)
}

/// The fields a 422 body names, in order.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// A valid event occurring now.
pub fn event(
    event_id: &str,
    entity_type: &str,
    entity_id: &str,
    action: &str,
    value: i64,
) -> Value {
    json!({
        "event_id": event_id,
        "domain": "jav",
        "entity_type": entity_type,
        "entity_id": entity_id,
        "action": action,
        "value": value,
        "occurred_at": chrono::Utc::now().to_rfc3339(),
    })
}

/// A workspace binary built next to the test executable (`cargo build
/// --workspace --bins` first; scripts/test.sh does).
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("test executable has no target dir")?;
    let path = dir.join(name);
    anyhow::ensure!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins`",
        path.display()
    );
    Ok(path)
}

/// Polls `check` until it returns `Some`, or fails after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
