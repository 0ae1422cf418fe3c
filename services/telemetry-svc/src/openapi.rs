//! The OpenAPI description of telemetry-svc (producers write job events,
//! operators read the summary and the pipeline's health), derived from the
//! handlers' `#[utoipa::path]` and their request and response types.

use serde_json::Value;
use utoipa::OpenApi;

use crate::{pipeline, routes, signals, summary};

#[derive(OpenApi)]
#[openapi(
    info(title = "analytics telemetry-svc"),
    paths(
        routes::record,
        summary::summary,
        signals::list,
        signals::cooldown,
        pipeline::pipeline
    )
)]
struct TelemetryApi;

pub fn document() -> Value {
    analytics_runtime::openapi::derived(
        &TelemetryApi::openapi(),
        "MongoDB reachable.",
        &["producer", "operator"],
        &[],
    )
}
