//! POST /api/v1/analytics/events/import: the lane for old events (a
//! producer that was offline, a site importing its past). The batch route's
//! body and answer, for events of any age within the raw event log's
//! retention.
//!
//! Exactly once without the 48 h limit: the raw log in MySQL is the durable
//! dedupe. An id already logged is a repeat (or, carrying another event, a
//! conflict); the rest go through the live path's ingest script, whose
//! Redis marker covers the minutes until the flush has copied the event to
//! the log. The flush then applies the events to every rollup by their own
//! dates, as it does any event.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use analytics_runtime::auth::{check_bearer, BearerError};
use analytics_store::event_log::LoggedEvent;
use analytics_store::hot_counters::{IngestItem, IngestOutcome};
use analytics_store::{CatalogueStore, HotCounters};
use secrecy::ExposeSecret;

use crate::accept::Prepared;
use crate::contract::{Batch, BatchAnswer, BeaconBatch, EventBatchMessage};
use crate::error::IngestError;
use crate::routes::{batch_response, prepare_batch, provenance, read_batch};
use crate::AppState;

pub const IMPORT: &str = "/api/v1/analytics/events/import";

/// Imports old events (the producer token only): the batch route's body and
/// answer, for events of any age within the raw event log's retention
/// (retention.raw_log_days), each counted exactly once however often it is
/// sent, by its own date.
#[utoipa::path(post, path = IMPORT, operation_id = "import_events",
    security(("producer" = [])),
    request_body(content(
        (Batch = "application/json"),
        (BeaconBatch = "text/plain"),
        (EventBatchMessage = "application/x-protobuf"))),
    responses(BatchAnswer),
    extensions(("x-errors" = json!([400, 401, 403, 408, 409, 413, 415, 422, 429, 500, 503]))))]
pub async fn import(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    counters: web::Data<HotCounters>,
    log: web::Data<CatalogueStore>,
) -> Result<HttpResponse, IngestError> {
    let result = import_batch(&req, payload, &state, &counters, &log).await;
    if let Err(e) = &result {
        state.rejected(e.reason(), 1);
    }
    result
}

async fn import_batch(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    counters: &HotCounters,
    log: &CatalogueStore,
) -> Result<HttpResponse, IngestError> {
    require_producer(req, state)?;
    if !state.raw_log {
        return Err(IngestError::ImportNeedsRawLog);
    }
    let items = read_batch(req, payload, state).await?;
    let oldest = state
        .retention
        .raw_log_since(chrono::Utc::now().date_naive());
    let rules = state.rules.for_import(oldest);
    // A token holder's events are never a bot's (see `provenance`).
    let checked = prepare_batch(
        &rules,
        &state.producer_limits,
        items,
        &provenance(req, state),
    );
    let valid: Vec<&Prepared> = checked.iter().filter_map(|c| c.as_ref().ok()).collect();
    let outcomes = if valid.is_empty() {
        Vec::new()
    } else {
        count_once(state, counters, log, &valid).await?
    };
    Ok(batch_response(state, &checked, outcomes, None))
}

/// The route is the producer's alone: old events carry the contract's
/// values and would rewrite history, so no anonymous client may send them.
fn require_producer(req: &HttpRequest, state: &AppState) -> Result<(), IngestError> {
    let Some(expected) = state.producer_token.as_ref() else {
        return Err(IngestError::ImportsOff);
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    check_bearer(presented, expected.expose_secret()).map_err(|e| match e {
        BearerError::Missing => IngestError::ProducerTokenRequired,
        BearerError::Wrong => IngestError::WrongProducerToken,
    })
}

/// The outcomes of valid events: the logged ones from the log, the rest
/// from the ingest script (which also catches a repeat inside the batch or
/// one still on its way to the log).
async fn count_once(
    state: &AppState,
    counters: &HotCounters,
    log: &CatalogueStore,
    valid: &[&Prepared],
) -> Result<Vec<Option<IngestOutcome>>, IngestError> {
    state.check_backpressure()?;
    let ids: Vec<&str> = valid.iter().map(|p| p.event.event_id.as_str()).collect();
    let logged = log
        .find_logged(&ids)
        .await
        .map_err(|source| state.store_error(source))?;
    let mut outcomes = vec![Some(IngestOutcome::Duplicate); valid.len()];
    let mut fresh = Vec::new();
    for (i, p) in valid.iter().enumerate() {
        match logged.get(p.event.event_id.as_str()) {
            Some(seen) if is_repeat(seen, p) => {}
            Some(_) => outcomes[i] = Some(IngestOutcome::Conflict),
            None => fresh.push(i),
        }
    }
    let items: Vec<IngestItem> = fresh
        .iter()
        .map(|&i| IngestItem {
            event: &valid[i].event,
            increments: &valid[i].increments,
            log_entry: &valid[i].log_entry,
        })
        .collect();
    if !items.is_empty() {
        let counted = counters
            .ingest(&items, true)
            .await
            .map_err(|source| state.store_error(source))?;
        state.refused(counted.refused.as_ref(), &counted.outcomes);
        for (&i, outcome) in fresh.iter().zip(counted.outcomes) {
            outcomes[i] = outcome;
        }
    }
    for outcome in &outcomes {
        state.metrics.imported(*outcome).inc();
    }
    Ok(outcomes)
}

fn is_repeat(seen: &LoggedEvent, p: &Prepared) -> bool {
    let e = &p.event;
    seen.domain == e.entity.domain.as_str()
        && seen.entity_type == e.entity.entity_type.as_str()
        && seen.entity_id == e.entity.entity_id
        && seen.action == e.action.as_str()
        && seen.value == e.value
}
