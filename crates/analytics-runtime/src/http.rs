//! HTTP endpoints every service answers the same way.

use actix_web::middleware::Condition;
use actix_web::HttpResponse;
use analytics_store::StoreError;
use prometheus_client::registry::Registry;
use serde_json::json;
use tracing_actix_web::{DefaultRootSpanBuilder, TracingLogger};

/// One span per request (method, route, status; a caller's `traceparent`
/// continues its trace) when traces are exported; otherwise no middleware at
/// all, so the hot path pays nothing for spans nobody collects.
pub fn request_traces() -> Condition<TracingLogger<DefaultRootSpanBuilder>> {
    Condition::new(
        crate::logging::traces_configured(),
        TracingLogger::default(),
    )
}

/// `GET /health`: the process is alive (readiness is per service).
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /metrics` body of a service's registry.
pub fn metrics(registry: &Registry) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(crate::metrics::render(registry))
}

/// Any unknown route: a JSON 404 like every other error.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"message": "Not Found."}))
}

/// `GET /ready`: 200 when every named store check passed, else 503 with
/// `Retry-After`; the body names each check's outcome.
pub fn readiness(checks: &[(&str, Result<(), StoreError>)], retry_after: u64) -> HttpResponse {
    let outcome: serde_json::Map<String, serde_json::Value> = checks
        .iter()
        .map(|(name, r)| {
            (
                name.to_string(),
                json!(r.as_ref().map_or_else(|e| e.to_string(), |_| "ok".into())),
            )
        })
        .collect();
    if checks.iter().all(|(_, r)| r.is_ok()) {
        HttpResponse::Ok().json(json!({"status": "ready", "checks": outcome}))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", retry_after))
            .json(json!({"status": "unavailable", "checks": outcome}))
    }
}
