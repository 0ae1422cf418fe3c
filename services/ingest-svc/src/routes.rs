//! HTTP handlers: the ingest endpoint and the operational endpoints.

use std::time::Instant;

use actix_web::http::header;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use analytics_store::hot_counters::IngestOutcome;
use futures_util::StreamExt;
use serde_json::Value;

use crate::client_ip::client_ip;
use crate::error::IngestError;
use crate::AppState;

/// The legacy 202 body, byte for byte.
const ACCEPTED_BODY: &str = r#"{"status":"accepted"}"#;

pub async fn ingest(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, IngestError> {
    let started = Instant::now();
    let result = handle(&req, payload, &state).await;
    let status = match &result {
        Ok(_) => "202",
        Err(e) => {
            state
                .metrics
                .rejected
                .get_or_create(&vec![("reason", e.reason())])
                .inc();
            status_label(e)
        }
    };
    state
        .metrics
        .latency
        .get_or_create(&vec![("status", status)])
        .observe(started.elapsed().as_secs_f64());
    result
}

fn status_label(e: &IngestError) -> &'static str {
    use actix_web::ResponseError;
    match e.status_code().as_u16() {
        400 => "400",
        409 => "409",
        413 => "413",
        415 => "415",
        422 => "422",
        429 => "429",
        503 => "503",
        _ => "other",
    }
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<HttpResponse, IngestError> {
    // Throttle first, like the legacy middleware: invalid requests spend quota too.
    if let Some(peer) = req.peer_addr() {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let client = client_ip(peer.ip(), forwarded, &state.trusted_proxies);
        let decision = state.limiter.check(client, Instant::now());
        if !decision.allowed {
            return Err(IngestError::RateLimited(decision));
        }
    }

    let is_json = matches!(req.mime_type(), Ok(Some(m))
        if m.type_() == "application" && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json")));
    if !is_json {
        return Err(IngestError::UnsupportedMediaType);
    }

    let body = read_body(req, payload, state.body_limit).await?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| IngestError::MalformedJson(e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(IngestError::NotAnObject);
    };

    let event = state
        .rules
        .validate(&fields, chrono::Utc::now())
        .map_err(IngestError::Validation)?;
    let field = event.counter_field(&state.rules.bucket_mode(&event.entity.domain));

    let outcome = state
        .counters
        .ingest(&event, &field)
        .await
        .map_err(|source| {
            if source.is_unavailable() {
                tracing::warn!(error = %source, "redis unavailable");
            } else {
                tracing::error!(error = %source, "redis ingest failed");
            }
            IngestError::StoreUnavailable {
                retry_after: state.retry_after,
                source,
            }
        })?;

    let mut response = HttpResponse::Accepted();
    response.content_type("application/json");
    match outcome {
        IngestOutcome::Counted => {
            state
                .metrics
                .accepted
                .get_or_create(&vec![("action", event.action.as_str())])
                .inc();
        }
        IngestOutcome::Duplicate => {
            state.metrics.duplicates.inc();
            response.insert_header(("X-Analytics-Duplicate", "true"));
        }
        IngestOutcome::Conflict => {
            state.metrics.conflicts.inc();
            return Err(IngestError::Conflict);
        }
    }
    Ok(response.body(ACCEPTED_BODY))
}

async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::BytesMut, IngestError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(IngestError::PayloadTooLarge { limit });
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(512).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| IngestError::UnreadableBody(e.to_string()))?;
        if body.len() + chunk.len() > limit {
            return Err(IngestError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    analytics_runtime::http::readiness(&[("redis", state.counters.ping().await)], state.retry_after)
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    analytics_runtime::http::metrics(&state.registry)
}
