//! `GET /api/v1/telemetry/pipeline`: the analytics pipeline's own health —
//! the last flush and parity runs, and what waits in Redis — with a verdict
//! an operator can read at a glance.

use actix_web::{web, HttpResponse};
use analytics_store::hot_counters::PartitionBacklog;
use analytics_store::rollups::{LoggedRun, PARITY_RUNS, RUNS};
use analytics_store::{HotCounters, StoreError};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::auth::Operator;
use crate::error::TelemetryError;
use crate::AppState;

pub const PIPELINE: &str = "/api/v1/telemetry/pipeline";

/// The page's body: a verdict, its problems in words, the last runs and
/// the backlog.
#[derive(Serialize, ToSchema)]
pub struct PipelineHealth {
    healthy: bool,
    /// Each in a sentence an operator can act on; empty when healthy.
    problems: Vec<String>,
    /// The last flush run as it logged itself, with `age_seconds`; null
    /// before the first.
    #[schema(value_type = Option<Object>)]
    last_flush: Option<Value>,
    /// The last parity check, the same way.
    #[schema(value_type = Option<Object>)]
    last_parity: Option<Value>,
    backlog: Backlog,
    generated_at: String,
}

/// What waits: in Redis (absent when Redis did not answer) and in the
/// document store (null when it did not answer).
#[derive(Serialize, ToSchema)]
pub struct Backlog {
    #[serde(skip_serializing_if = "Option::is_none")]
    dirty_keys: Option<u64>,
    /// Events counted and not yet flushed.
    #[serde(skip_serializing_if = "Option::is_none")]
    counts_waiting: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    open_batches: Option<usize>,
    /// Raw-log entries not yet copied to MySQL.
    #[serde(skip_serializing_if = "Option::is_none")]
    log_waiting: Option<u64>,
    leaderboard_changes: Option<u64>,
    replicas_waiting: Option<u64>,
    /// Films whose catalogue counts wait for `flush-worker cutover`.
    catalogue_unimported: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partitions: Option<Vec<PartitionBacklog>>,
}

impl Backlog {
    fn of(r: Readings) -> Self {
        let partitions = r.backlog;
        let sum = |f: fn(&PartitionBacklog) -> u64| {
            partitions.as_ref().map(|p| p.iter().map(f).sum::<u64>())
        };
        Backlog {
            dirty_keys: sum(|b| b.dirty_keys),
            counts_waiting: sum(|b| b.counts_waiting),
            open_batches: partitions
                .as_ref()
                .map(|p| p.iter().filter(|b| b.open_batch.is_some()).count()),
            log_waiting: sum(|b| b.log_waiting),
            leaderboard_changes: r.leaderboard_changes,
            replicas_waiting: r.replicas_waiting,
            catalogue_unimported: r.unimported,
            partitions,
        }
    }
}

/// The problem a flush that kept catalogue counts leaves until the cut-over.
pub const UNIMPORTED_PROBLEM: &str = "catalogue counts not imported — run flush-worker cutover";

/// A logged run as JSON, with its age in seconds.
fn run_json(run: LoggedRun, now: DateTime<Utc>) -> Value {
    let mut out = run.fields;
    if let Some(at) = run.at {
        out.insert("age_seconds".into(), json!((now - at).num_seconds().max(0)));
    }
    Value::Object(out)
}

/// What the page reads, each source on its own: one that does not answer is
/// `None` here and a problem in the verdict (the operator needs this page
/// most exactly then), never an error of the page.
struct Readings {
    /// `Some(None)`: no run yet.
    flush: Option<Option<LoggedRun>>,
    parity: Option<Option<LoggedRun>>,
    backlog: Option<Vec<PartitionBacklog>>,
    leaderboard_changes: Option<u64>,
    replicas_waiting: Option<u64>,
    unimported: Option<u64>,
}

impl Readings {
    async fn read(state: &AppState, counters: &HotCounters, problems: &mut Vec<String>) -> Self {
        let rollups = &state.rollups;
        let (
            flush,
            parity,
            backlog,
            leaderboard_changes,
            replicas_waiting,
            unimported,
            writable,
            holding_back,
        ) = tokio::join!(
            rollups.last_run(RUNS),
            rollups.last_run(PARITY_RUNS),
            counters.backlog(),
            rollups.leaderboards().pending_changes(),
            rollups.deferred_replica_count(),
            rollups.unimported_count(),
            counters.ping_writable(),
            counters.holding_back(),
        );
        // Redis answers reads while it refuses every event: said first.
        match writable {
            Err(e) if e.is_refusal() => {
                tracing::warn!(error = %e, "redis refuses writes");
                problems.push(format!(
                    "Redis refuses writes ({}): ingest answers 503 until it has room again",
                    e.redis_code().unwrap_or("refused")
                ));
            }
            _ => {}
        }
        if let Ok(Some(why)) = holding_back {
            problems.push(why);
        }
        let mut unreachable = |what: &str, e: StoreError| {
            tracing::warn!(error = %e, what, "pipeline source unavailable");
            problems.push(format!(
                "{what} could not be read: {} did not answer",
                e.store()
            ));
        };
        Readings {
            flush: flush.map_err(|e| unreachable("the flush runs", e)).ok(),
            parity: parity.map_err(|e| unreachable("the parity runs", e)).ok(),
            backlog: backlog
                .map_err(|e| unreachable("the Redis backlog", e))
                .ok(),
            leaderboard_changes: leaderboard_changes
                .map_err(|e| unreachable("the leaderboard changes", e))
                .ok(),
            replicas_waiting: replicas_waiting
                .map_err(|e| unreachable("the deferred replicas", e))
                .ok(),
            unimported: unimported
                .map_err(|e| unreachable("the films kept for the cut-over", e))
                .ok(),
        }
    }
}

/// The pipeline's health: a verdict, its problems in words, the last runs
/// and the backlog. Answers even when a store is down (the problem says
/// which).
#[utoipa::path(get, path = PIPELINE, security(("operator" = [])),
    responses((status = 200, description = "The verdict.", body = PipelineHealth)),
    extensions(("x-errors" = json!([401, 403, 500]))))]
pub async fn pipeline(
    _: Operator,
    state: web::Data<AppState>,
    counters: web::Data<HotCounters>,
) -> Result<HttpResponse, TelemetryError> {
    let now = Utc::now();
    let mut problems = Vec::new();
    let mut r = Readings::read(&state, &counters, &mut problems).await;
    let waiting_too_long = waiting_problems(&r);
    // `r.flush` is None when the runs could not be read (already a
    // problem), Some(None) when there is no run yet.
    let flush_runs_read = r.flush.is_some();
    let last_flush = r.flush.take().flatten().map(|run| run_json(run, now));
    match &last_flush {
        None if flush_runs_read => problems.push("no flush run has been recorded".to_string()),
        None => {}
        Some(run) => problems.extend(flush_problems(run, state.config.flush_stale_seconds)),
    }
    let last_parity = r.parity.take().flatten().map(|run| run_json(run, now));
    if let Some(m) = last_parity
        .as_ref()
        .and_then(|p| p["mismatches"].as_i64())
        .filter(|m| *m > 0)
    {
        problems.push(format!("the last parity check found {m} mismatches"));
    }
    problems.extend(waiting_too_long);
    Ok(HttpResponse::Ok().json(PipelineHealth {
        healthy: problems.is_empty(),
        problems,
        last_flush,
        last_parity,
        backlog: Backlog::of(r),
        generated_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
    }))
}

fn flush_problems(run: &Value, stale_seconds: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let age = run["age_seconds"].as_i64().unwrap_or(i64::MAX);
    if age > i64::try_from(stale_seconds).unwrap_or(i64::MAX) {
        problems.push(format!(
            "the last flush finished {age} s ago (more than {stale_seconds} s)"
        ));
    }
    if let Some(errors) = run["errors"].as_i64().filter(|e| *e > 0) {
        problems.push(format!("the last flush had {errors} errors"));
    }
    if run["log_deferred"] == json!(true) {
        problems.push(
            "the last flush could not copy the raw event log to MySQL; the entries wait in Redis"
                .to_string(),
        );
    }
    problems
}

/// What waits that should not: batches a stopped flush left, replicas
/// MySQL has not taken, films the cut-over has not imported.
fn waiting_problems(r: &Readings) -> Vec<String> {
    let mut problems = Vec::new();
    let stranded: Vec<u16> = r
        .backlog
        .iter()
        .flatten()
        .filter(|b| b.open_batch.is_some() && !b.leased)
        .map(|b| b.partition)
        .collect();
    if !stranded.is_empty() {
        problems.push(format!(
            "a stopped flush left open batches on partitions {stranded:?}; the next run resumes them"
        ));
    }
    if let Some(n) = r.replicas_waiting.filter(|n| *n > 0) {
        problems.push(format!(
            "{n} movie replicas wait for MySQL (jav.views / jav.downloads lag the rollups)"
        ));
    }
    if let Some(n) = r.unimported.filter(|n| *n > 0) {
        problems.push(format!(
            "{UNIMPORTED_PROBLEM} ({n} films keep catalogue counts the rollups do not hold; \
             their jav.views / jav.downloads are not written until then)"
        ));
    }
    problems
}
