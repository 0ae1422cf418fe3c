//! HTTP handlers: the ingest endpoint and the operational endpoints.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::ValueLimits;
use analytics_runtime::auth::{bearer_token, check_bearer};
use analytics_store::hot_counters::IngestOutcome;
use analytics_store::HotCounters;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::error::IngestError;
use crate::AppState;

/// The 202 body the existing producers expect, byte for byte.
const ACCEPTED_BODY: &str = r#"{"status":"accepted"}"#;

/// POST /api/v1/analytics/events (rate limited per client before this).
pub async fn ingest(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    counters: web::Data<HotCounters>,
) -> Result<HttpResponse, IngestError> {
    let result = handle(&req, payload, &state, &counters).await;
    if let Err(e) = &result {
        state.metrics.rejected(e.reason()).inc();
    }
    result
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

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    counters: &HotCounters,
) -> Result<HttpResponse, IngestError> {
    let limits = limits_of(req, state)?;
    if !analytics_runtime::body::is_json(req) {
        return Err(IngestError::UnsupportedMediaType);
    }

    let body = analytics_runtime::body::read(req, payload, state.body).await?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| IngestError::MalformedJson(e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(IngestError::NotAnObject);
    };

    let event = state
        .rules
        .validate(&fields, chrono::Utc::now(), limits)
        .map_err(IngestError::Validation)?;
    let field = event.counter_field(&state.rules.bucket_mode(&event.entity.domain));

    let outcome = counters
        .ingest(&event, &field)
        .await
        .map_err(|source| IngestError::Store {
            retry_after: state.retry_after,
            source,
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

pub async fn ready(state: web::Data<AppState>, counters: web::Data<HotCounters>) -> HttpResponse {
    analytics_runtime::http::readiness(&[("redis", counters.ping().await)], state.retry_after)
}
