//! Handlers: job event ingest (producer token) and the operational endpoints.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use analytics_runtime::auth::{check_bearer, BearerError};
use serde_json::{json, Value};

use crate::error::TelemetryError;
use crate::AppState;

pub fn require(req: &HttpRequest, token: &str) -> Result<(), TelemetryError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    check_bearer(header, token).map_err(|e| match e {
        BearerError::Missing => TelemetryError::Unauthorized,
        BearerError::Wrong => TelemetryError::Forbidden,
    })
}

/// POST /api/v1/telemetry/jobs/events
pub async fn record(
    req: HttpRequest,
    body: web::Json<Value>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TelemetryError> {
    require(&req, &state.producer_token)?;
    let Value::Object(fields) = body.into_inner() else {
        return Err(TelemetryError::BadBody("expected an object".into()));
    };
    let event = analytics_domain::job_event::validate(&fields, chrono::Utc::now())
        .map_err(TelemetryError::Validation)?;
    let duration = state.events.record(&event).await.map_err(|source| {
        tracing::warn!(error = %source, "job event not stored");
        TelemetryError::StoreUnavailable {
            retry_after: state.retry_after,
            source,
        }
    })?;
    state
        .recorded
        .get_or_create(&vec![("event_type", event.event_type.as_str())])
        .inc();
    Ok(HttpResponse::Accepted().json(json!({"status": "accepted", "duration_ms": duration})))
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    analytics_runtime::http::readiness(&[("mongo", state.rollups.ping().await)], state.retry_after)
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    analytics_runtime::http::metrics(&state.registry)
}
