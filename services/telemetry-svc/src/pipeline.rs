//! `GET /api/v1/telemetry/pipeline`: the analytics pipeline's own health —
//! the last flush and parity runs, and what waits in Redis — with a verdict
//! an operator can read at a glance.

use actix_web::{web, HttpResponse};
use analytics_store::rollups::{PARITY_RUNS, RUNS};
use chrono::{DateTime, SecondsFormat, Utc};
use mongodb::bson::{Bson, Document};
use serde_json::{json, Map, Value};

use crate::auth::Operator;
use crate::error::TelemetryError;
use crate::AppState;

fn chrono_of(t: &mongodb::bson::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or_default()
}

/// A run document as JSON: dates as RFC 3339, plus its age in seconds.
fn run_json(doc: &Document, now: DateTime<Utc>) -> Value {
    let mut out = Map::new();
    for (k, v) in doc {
        let value = match v {
            Bson::DateTime(t) => json!(chrono_of(t).to_rfc3339_opts(SecondsFormat::Secs, true)),
            Bson::Int64(n) => json!(n),
            Bson::Int32(n) => json!(n),
            Bson::String(s) => json!(s),
            _ => continue,
        };
        out.insert(
            if k == "_id" {
                "run_id".into()
            } else {
                k.clone()
            },
            value,
        );
    }
    if let Ok(t) = doc
        .get_datetime("finished_at")
        .or_else(|_| doc.get_datetime("started_at"))
    {
        out.insert(
            "age_seconds".into(),
            json!((now - chrono_of(t)).num_seconds().max(0)),
        );
    }
    Value::Object(out)
}

pub async fn pipeline(
    _: Operator,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TelemetryError> {
    let unavailable = |source| state.unavailable(source);
    let now = Utc::now();
    let flush = state.rollups.last_run(RUNS).await.map_err(unavailable)?;
    let parity = state
        .rollups
        .last_run(PARITY_RUNS)
        .await
        .map_err(unavailable)?;
    let backlog = state.counters.backlog().await.map_err(unavailable)?;
    let leaderboard_changes = state
        .rollups
        .pending_leaderboard_changes()
        .await
        .map_err(unavailable)?;

    let mut problems = Vec::new();
    let last_flush = flush.as_ref().map(|d| run_json(d, now));
    match &last_flush {
        None => problems.push("no flush run has been recorded".to_string()),
        Some(run) => {
            let age = run["age_seconds"].as_i64().unwrap_or(i64::MAX);
            if age > state.config.flush_stale_seconds as i64 {
                problems.push(format!(
                    "the last flush finished {age} s ago (more than {} s)",
                    state.config.flush_stale_seconds
                ));
            }
            if let Some(errors) = run["errors"].as_i64().filter(|e| *e > 0) {
                problems.push(format!("the last flush had {errors} errors"));
            }
        }
    }
    let last_parity = parity.as_ref().map(|d| run_json(d, now));
    if let Some(m) = last_parity
        .as_ref()
        .and_then(|p| p["mismatches"].as_i64())
        .filter(|m| *m > 0)
    {
        problems.push(format!("the last parity check found {m} mismatches"));
    }

    let dirty_total: u64 = backlog.iter().map(|b| b.dirty_keys).sum();
    let counts_waiting: u64 = backlog.iter().map(|b| b.counts_waiting).sum();
    let open_batches = backlog.iter().filter(|b| b.open_batch.is_some()).count();
    Ok(HttpResponse::Ok().json(json!({
        "healthy": problems.is_empty(),
        "problems": problems,
        "last_flush": last_flush,
        "last_parity": last_parity,
        "backlog": {
            "dirty_keys": dirty_total,
            "counts_waiting": counts_waiting,
            "open_batches": open_batches,
            "leaderboard_changes": leaderboard_changes,
            "partitions": backlog,
        },
        "generated_at": now.to_rfc3339_opts(SecondsFormat::Secs, true),
    })))
}
