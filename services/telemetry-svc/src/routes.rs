//! Handlers: job event ingest (producer token) and the operational endpoints.

use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

use crate::auth::Producer;
use crate::error::TelemetryError;
use crate::AppState;

/// POST /api/v1/telemetry/jobs/events
pub async fn record(
    _: Producer,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TelemetryError> {
    let Value::Object(fields) = body.into_inner() else {
        return Err(TelemetryError::BadBody("expected an object".into()));
    };
    let event = analytics_domain::job_event::validate(&fields, chrono::Utc::now())
        .map_err(TelemetryError::Validation)?;
    let duration = state
        .events
        .record(&event)
        .await
        .map_err(|e| state.unavailable(e))?;
    state
        .recorded
        .get_or_create(&vec![("event_type", event.event_type.as_str())])
        .inc();
    Ok(HttpResponse::Accepted().json(json!({"status": "accepted", "duration_ms": duration})))
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    analytics_runtime::http::readiness(
        &[("mongo", state.rollups.ping().await)],
        state.config.retry_after_seconds,
    )
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    analytics_runtime::http::metrics(&state.registry)
}
