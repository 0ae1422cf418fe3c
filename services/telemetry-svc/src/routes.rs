//! Handlers: job event ingest (producer token) and the operational endpoints.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use analytics_store::HotCounters;

use crate::auth::Producer;
use crate::error::TelemetryError;
use crate::{signals, AppState};

/// POST /api/v1/telemetry/jobs/events
pub async fn record(
    _: Producer,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    counters: web::Data<HotCounters>,
) -> Result<HttpResponse, TelemetryError> {
    if !analytics_runtime::body::is_json(&req) {
        return Err(TelemetryError::UnsupportedMediaType);
    }
    let body = analytics_runtime::body::read(&req, payload, state.body).await?;
    let value = analytics_runtime::json::parse(&body)
        .map_err(|e| TelemetryError::BadBody(e.to_string()))?;
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
    let mut answer = json!({"status": "accepted", "site": event.site, "duration_ms": duration});
    if let (Value::Object(answer), Value::Object(more)) = (
        &mut answer,
        signals::after_record(&state, &counters, &event).await,
    ) {
        answer.extend(more);
    }
    Ok(HttpResponse::Accepted().json(answer))
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    analytics_runtime::http::readiness(
        &[(
            "mongo",
            analytics_runtime::http::ready_check("mongodb", state.rollups.ping()).await,
        )],
        state.config.retry_after_seconds,
    )
}
