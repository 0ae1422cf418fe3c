//! HTTP endpoints every service answers the same way.

use actix_web::HttpResponse;
use prometheus_client::registry::Registry;
use serde_json::json;

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
