//! Handlers: job event ingest (producer token) and the operational endpoints.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::auth::Producer;
use crate::error::TelemetryError;
use crate::AppState;

/// POST /api/v1/telemetry/jobs/events
pub async fn record(
    _: Producer,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TelemetryError> {
    if !analytics_runtime::body::is_json(&req) {
        return Err(TelemetryError::UnsupportedMediaType);
    }
    let body = analytics_runtime::body::read(&req, payload, state.body).await?;
    let value: Value =
        serde_json::from_slice(&body).map_err(|e| TelemetryError::BadBody(e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(TelemetryError::BadBody("expected an object".into()));
    };
    let event = analytics_domain::job_event::validate(&fields, chrono::Utc::now())
        .map_err(TelemetryError::Validation)?;
    let duration = state
        .events
        .record(&event)
        .await
        .map_err(|e| state.store_error(e))?;
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
