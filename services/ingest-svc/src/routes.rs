//! HTTP handlers: one event, a batch, the dry run, and readiness.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::{EventRules, ValidationErrors, ValueLimits};
use analytics_runtime::auth::{bearer_token, check_bearer};
use analytics_store::hot_counters::{IngestItem, IngestOutcome};
use analytics_store::HotCounters;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::accept::{prepare, Prepared, Provenance};
use crate::contract::{
    Batch, BatchAnswer, BatchResult, BeaconBatch, BeaconEvent, DryRun, Event, EventAccepted,
    EventBatchMessage, EventMessage, ItemResult, ItemStatus,
};
use crate::decode::{self, BodyForm};
use crate::error::IngestError;
use crate::AppState;

pub const EVENTS: &str = "/api/v1/analytics/events";
pub const PLAYER_EVENTS: &str = "/api/events";
pub const BATCH: &str = "/api/v1/analytics/events/batch";
pub const VALIDATE: &str = "/api/v1/analytics/events/validate";

/// The 202 body the existing producers expect, byte for byte (what
/// [`Accepted`] serializes to, written once).
pub(crate) const ACCEPTED_BODY: &str = r#"{"status":"accepted"}"#;

/// Counts one event exactly once, in any accepted shape and form.
#[utoipa::path(post, path = EVENTS, operation_id = "ingest_event",
    security((), ("producer" = [])),
    request_body(content(
        (Event = "application/json"),
        (BeaconEvent = "text/plain"),
        (EventMessage = "application/x-protobuf"))),
    responses(EventAccepted),
    extensions(("x-errors" = json!([400, 403, 408, 409, 413, 415, 422, 429, 500, 503]))))]
pub async fn ingest(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    counters: web::Data<HotCounters>,
) -> Result<HttpResponse, IngestError> {
    let result = ingest_one(&req, payload, &state, &counters).await;
    match &result {
        // The script's answer: already in the realtime tally.
        Err(IngestError::Conflict) => {
            state.metrics.rejected("conflict").inc();
        }
        Err(e) => state.rejected(e.reason(), 1),
        Ok(_) => {}
    }
    result
}

async fn ingest_one(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    counters: &HotCounters,
) -> Result<HttpResponse, IngestError> {
    let provenance = provenance(req, state);
    let prepared = read_one(req, payload, state, &provenance).await?;
    let mut response = HttpResponse::Accepted();
    response.content_type("application/json");
    if let Some(reason) = provenance.filtered {
        filter(state, counters, reason, &[&prepared]).await?;
        response.insert_header((FILTERED_HEADER, reason));
        return Ok(response.body(ACCEPTED_BODY));
    }
    // One event is one script call: Redis ran it, or the call failed.
    let outcome = count(state, counters, &[&prepared])
        .await?
        .first()
        .copied()
        .flatten();
    match outcome {
        Some(IngestOutcome::Counted) => {}
        Some(IngestOutcome::Duplicate) => {
            response.insert_header(("X-Analytics-Duplicate", "true"));
        }
        Some(IngestOutcome::Conflict) => return Err(IngestError::Conflict),
        None => return Err(state.store_error(no_reply())),
    }
    Ok(response.body(ACCEPTED_BODY))
}

/// Dry run: the normalised event, or the 422 the same body would get.
/// Counts nothing.
#[utoipa::path(post, path = VALIDATE, operation_id = "validate_event",
    security((), ("producer" = [])),
    request_body(content(
        (Event = "application/json"),
        (BeaconEvent = "text/plain"),
        (EventMessage = "application/x-protobuf"))),
    responses((status = 200, body = DryRun, description = "The body is a valid event.")),
    extensions(("x-errors" = json!([400, 403, 408, 413, 415, 422, 429, 500]))))]
pub async fn validate(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, IngestError> {
    let prepared = read_one(&req, payload, &state, &provenance(&req, &state)).await?;
    Ok(HttpResponse::Ok().json(DryRun {
        valid: true,
        shape: prepared.shape,
        event: prepared.event.to_json(&prepared.mode),
    }))
}

async fn read_one(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    provenance: &Provenance,
) -> Result<Prepared, IngestError> {
    let limits = limits_of(req, state)?;
    let form = BodyForm::of(req)?;
    let body = analytics_runtime::body::read(req, payload, state.body).await?;
    let fields = decode::single(form, &body)?;
    prepare(&state.rules, limits, fields, chrono::Utc::now(), provenance)
        .map_err(IngestError::Validation)
}

/// Counts up to the configured number of events; each item gets its
/// result, in order (invalid items do not stop the others).
#[utoipa::path(post, path = BATCH, operation_id = "ingest_batch",
    security((), ("producer" = [])),
    request_body(content(
        (Batch = "application/json"),
        (BeaconBatch = "text/plain"),
        (EventBatchMessage = "application/x-protobuf"))),
    responses(BatchAnswer),
    extensions(("x-errors" = json!([400, 403, 408, 413, 415, 422, 429, 500, 503]))))]
pub async fn batch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    counters: web::Data<HotCounters>,
) -> Result<HttpResponse, IngestError> {
    let result = ingest_batch(&req, payload, &state, &counters).await;
    if let Err(e) = &result {
        state.rejected(e.reason(), 1);
    }
    result
}

async fn ingest_batch(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    counters: &HotCounters,
) -> Result<HttpResponse, IngestError> {
    let limits = limits_of(req, state)?;
    let items = read_batch(req, payload, state).await?;
    let provenance = provenance(req, state);
    let checked = prepare_batch(&state.rules, limits, items, &provenance);
    let valid: Vec<&Prepared> = checked.iter().filter_map(|c| c.as_ref().ok()).collect();
    let outcomes = if valid.is_empty() {
        Vec::new()
    } else if let Some(reason) = provenance.filtered {
        filter(state, counters, reason, &valid).await?;
        Vec::new()
    } else {
        count(state, counters, &valid).await?
    };
    Ok(batch_response(
        state,
        &checked,
        outcomes,
        provenance.filtered,
    ))
}

/// A batch body's items (a JSON array, an object with `events`, or the
/// protobuf batch), 1 to `ingest.max_batch_events` of them.
pub(crate) async fn read_batch(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Vec<Value>, IngestError> {
    let form = BodyForm::of(req)?;
    let body = analytics_runtime::body::read(req, payload, state.batch_body).await?;
    let items = decode::batch(form, &body)?;
    if items.is_empty() || items.len() > state.max_batch_events {
        return Err(IngestError::BatchSize {
            max: state.max_batch_events,
        });
    }
    Ok(items)
}

/// Each item of a batch validated on its own, in order.
pub(crate) fn prepare_batch(
    rules: &EventRules,
    limits: &ValueLimits,
    items: Vec<Value>,
    provenance: &Provenance,
) -> Vec<Result<Prepared, ValidationErrors>> {
    let now = chrono::Utc::now();
    items
        .into_iter()
        .map(|item| match item {
            Value::Object(fields) => prepare(rules, limits, fields, now, provenance),
            _ => {
                let mut e = ValidationErrors::default();
                e.add("event", "Each event must be a JSON object.".into());
                Err(e.finish())
            }
        })
        .collect()
}

/// The batch answer: each item's result in order and the tally; 207 with
/// `Retry-After` when some items are `unavailable` (Redis refused them
/// while it stored the others: only those are to be sent again).
/// `outcomes` are the valid items' (none when `filtered`).
pub(crate) fn batch_response(
    state: &AppState,
    checked: &[Result<Prepared, ValidationErrors>],
    outcomes: Vec<Option<IngestOutcome>>,
    filtered: Option<&'static str>,
) -> HttpResponse {
    let mut outcomes = outcomes.into_iter();
    let mut tally = [0u64; 6];
    let results: Vec<ItemResult> = checked
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let mut result = ItemResult {
                index,
                event_id: None,
                status: ItemStatus::Invalid,
                message: None,
                errors: None,
            };
            result.status = match item {
                Ok(p) if filtered.is_some() => {
                    result.event_id = Some(p.event.event_id.as_str().to_string());
                    ItemStatus::Filtered
                }
                Ok(p) => {
                    result.event_id = Some(p.event.event_id.as_str().to_string());
                    match outcomes.next().flatten() {
                        Some(IngestOutcome::Counted) => ItemStatus::Accepted,
                        Some(IngestOutcome::Duplicate) => ItemStatus::Duplicate,
                        Some(IngestOutcome::Conflict) => {
                            result.message = Some(IngestError::Conflict.to_string());
                            ItemStatus::Conflict
                        }
                        None => {
                            result.message = Some(UNAVAILABLE_ITEM.to_string());
                            ItemStatus::Unavailable
                        }
                    }
                }
                Err(e) => {
                    state.rejected("validation", 1);
                    result.message = Some(e.message.clone());
                    result.errors = Some(e.errors.clone());
                    ItemStatus::Invalid
                }
            };
            tally[result.status as usize] += 1;
            result
        })
        .collect();
    let unavailable = tally[ItemStatus::Unavailable as usize];
    let mut response = if unavailable > 0 {
        let mut r = HttpResponse::MultiStatus();
        r.insert_header((header::RETRY_AFTER, state.retry_after.to_string()));
        r
    } else {
        HttpResponse::Ok()
    };
    if let Some(reason) = filtered {
        response.insert_header((FILTERED_HEADER, reason));
    }
    response.json(BatchResult {
        accepted: tally[ItemStatus::Accepted as usize],
        duplicates: tally[ItemStatus::Duplicate as usize],
        conflicts: tally[ItemStatus::Conflict as usize],
        invalid: tally[ItemStatus::Invalid as usize],
        filtered: tally[ItemStatus::Filtered as usize],
        unavailable,
        results,
    })
}

/// The message of an `unavailable` batch item.
const UNAVAILABLE_ITEM: &str =
    "The event store refused this event for now (the others were stored); send it again after Retry-After.";

/// A reply with no outcome for an event Redis ran (never expected).
fn no_reply() -> analytics_store::StoreError {
    analytics_store::StoreError::Protocol {
        store: "redis",
        detail: "no outcome for the event".into(),
    }
}

/// Says that a request's events were filtered, and why (`bot`).
const FILTERED_HEADER: &str = "X-Analytics-Filtered";

/// A bot's valid events: counted nowhere; with `events.log_filtered`, kept
/// in the raw log flagged with `reason` (their lines carry it).
async fn filter(
    state: &AppState,
    counters: &HotCounters,
    reason: &'static str,
    prepared: &[&Prepared],
) -> Result<(), IngestError> {
    if state.log_filtered {
        let lines: Vec<(&str, &str)> = prepared
            .iter()
            .map(|p| (p.event.event_id.as_str(), p.log_entry.as_str()))
            .collect();
        counters
            .log_filtered(&lines)
            .await
            .map_err(|source| state.store_error(source))?;
    }
    state.metrics.filtered(reason).inc_by(prepared.len() as u64);
    Ok(())
}

/// Counts prepared events (one pipelined round trip) and the metrics of
/// what happened to each.
async fn count(
    state: &AppState,
    counters: &HotCounters,
    prepared: &[&Prepared],
) -> Result<Vec<Option<IngestOutcome>>, IngestError> {
    state.check_backpressure()?;
    let items: Vec<IngestItem> = prepared
        .iter()
        .map(|p| IngestItem {
            event: &p.event,
            increments: &p.increments,
            log_entry: &p.log_entry,
        })
        .collect();
    let started = std::time::Instant::now();
    let reply = counters
        .ingest(&items, state.raw_log)
        .await
        .map_err(|source| state.store_error(source))?;
    state
        .metrics
        .processing
        .observe(started.elapsed().as_secs_f64());
    state.refused(reply.refused.as_ref(), &reply.outcomes);
    for (p, outcome) in prepared.iter().zip(&reply.outcomes) {
        let Some(outcome) = outcome else { continue };
        state.live.counted(p, *outcome);
        state.metrics.processed.inc();
        match outcome {
            IngestOutcome::Counted => state
                .metrics
                .accepted
                .get_or_create(&vec![("action", p.event.action.as_str())])
                .inc(),
            IngestOutcome::Duplicate => state.metrics.duplicates.inc(),
            IngestOutcome::Conflict => state.metrics.conflicts.inc(),
        };
    }
    Ok(reply.outcomes)
}

/// The `value` limits of whoever sent the request: anonymous producers get
/// the public ones; a request carrying a bearer token must carry the
/// producer token, and gets the contract's.
fn limits_of<'a>(req: &HttpRequest, state: &'a AppState) -> Result<&'a ValueLimits, IngestError> {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if bearer_token(presented).is_none() {
        return Ok(&state.public_limits);
    }
    let expected = state
        .producer_token
        .as_ref()
        .map(|t| t.expose_secret())
        .unwrap_or_default();
    check_bearer(presented, expected)?;
    Ok(&state.producer_limits)
}

/// Where the request came from, and whether its events are a bot's. A
/// request with a bearer token is a server-side producer's: its user agent
/// is the server's own, never the visitor's, so it is not filtered.
pub(crate) fn provenance(req: &HttpRequest, state: &AppState) -> Provenance {
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let anonymous = bearer_token(
        req.headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    )
    .is_none();
    Provenance {
        client_ip: req.peer_addr().map(|peer| {
            analytics_runtime::client_ip::client_ip(peer.ip(), forwarded, &state.trusted_proxies)
        }),
        user_agent: user_agent.map(str::to_string),
        filtered: (anonymous && state.bots.is_bot(user_agent)).then_some(crate::bots::BOT),
    }
}

pub async fn ready(state: web::Data<AppState>, counters: web::Data<HotCounters>) -> HttpResponse {
    let redis = analytics_runtime::http::ready_check("redis", counters.ping_writable()).await;
    analytics_runtime::http::readiness(&[("redis", redis)], state.retry_after)
}
