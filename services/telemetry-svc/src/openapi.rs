//! The OpenAPI description of telemetry-svc (producers write job events,
//! operators read the summary and the pipeline's health).

use analytics_domain::job_event::JobEventType;
use analytics_runtime::openapi::{document as build, operational_paths, query, responses};
use serde_json::{json, Value};

/// Free text of the job event fields: at most 255 characters.
fn text() -> Value {
    json!({"type": "string", "maxLength": 255, "nullable": true})
}

pub fn document() -> Value {
    let event_types: Vec<&str> = JobEventType::ALL.iter().map(|t| t.as_str()).collect();
    let job_event = json!({
        "type": "object",
        "required": ["event_type", "job_uuid", "job_name", "timestamp"],
        "properties": {
            "event_type": {"type": "string", "enum": event_types},
            "job_uuid": {"type": "string", "minLength": 1, "maxLength": 255},
            "job_name": {"type": "string", "minLength": 1, "maxLength": 255},
            "queue": text(), "connection": text(), "site": text(), "source": text(),
            "error_class": text(), "worker_host": text(),
            "attempt": {"type": "integer", "minimum": 1, "maximum": i64::MAX, "nullable": true},
            "url": {"type": "string", "maxLength": 2048, "nullable": true},
            "timestamp": {"type": "string", "format": "date-time",
                "description": "RFC 3339 with an offset, at most 5 minutes ahead."},
            "duration_ms": {"type": "integer", "minimum": 0, "maximum": i64::MAX, "nullable": true,
                "description": "Default for completed/failed: from the attempt's stored started event."},
            "error_code": {"nullable": true, "oneOf": [
                {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX},
                {"type": "string", "description": "A non-numeric code is recorded as none."}]},
            "error_message_short": {"type": "string", "nullable": true,
                "description": "Kept to its first 500 characters."},
            "error_message": {"type": "string", "nullable": true, "description": "Read when error_message_short is absent."},
            "timeout_ms_observed": {"type": "integer", "minimum": 0, "maximum": i64::MAX, "nullable": true},
            "payload_meta": {"type": "object", "nullable": true, "maxProperties": 50,
                "additionalProperties": {"nullable": true, "oneOf": [
                    {"type": "string"}, {"type": "number"}, {"type": "boolean"}]}}
        }
    });
    let recorded = json!({"type": "object", "required": ["status", "site"], "properties": {
        "status": {"type": "string", "enum": ["accepted"]},
        "site": {"type": "string", "description": "As sent, else from a payload property, the URL's host or the job class; else unknown."},
        "duration_ms": {"type": "integer", "nullable": true},
        "rate_alerts": {"type": "array", "items": {"type": "string", "enum": ["warning", "critical"]},
            "description": "started: the levels the site's starts in this second have reached."},
        "block_signal": {"type": "object", "nullable": true,
            "description": "failed with 403, 429 or 503: the signal recorded and its cooldown."}}});
    let time = json!({"type": "string", "format": "date-time"});
    let host = json!({"type": "object", "required": ["target_host", "signals", "last_signal_type", "last_status",
        "last_at", "cooldown_until", "cooling_down"], "properties": {
        "target_host": {"type": "string"}, "signals": {"type": "integer", "minimum": 1},
        "last_signal_type": {"type": "string", "enum": ["forbidden", "rate_limit", "service_unavailable"]},
        "last_status": {"type": "integer", "enum": [403, 429, 503]},
        "last_at": time, "cooldown_until": time, "cooling_down": {"type": "boolean"}}});
    let signals = json!({"type": "object", "required": ["filters", "window", "hosts", "signals", "generated_at"],
        "properties": {
            "filters": {"type": "object"}, "window": {"type": "object"},
            "hosts": {"type": "array", "items": host},
            "signals": {"type": "array", "items": {"type": "object"}},
            "generated_at": {"type": "string"}}});
    let cooldown = json!({"type": "object", "required": ["target_host", "allowed", "retry_after_seconds"],
        "properties": {
            "target_host": {"type": "string"}, "allowed": {"type": "boolean"},
            "cooldown_until": {"type": "string", "nullable": true},
            "signal_type": {"type": "string", "nullable": true},
            "status": {"type": "integer", "nullable": true},
            "retry_after_seconds": {"type": "integer", "minimum": 0}}});
    let summary = json!({"type": "object", "required": ["filters", "window", "overview", "job_performance",
        "throughput", "failures", "slow_jobs", "available_sites", "available_jobs", "generated_at"],
        "properties": {
            "filters": {"type": "object"}, "window": {"type": "object"}, "overview": {"type": "object"},
            "job_performance": {"type": "array"}, "throughput": {"type": "object"},
            "failures": {"type": "array"}, "slow_jobs": {"type": "array"},
            "available_sites": {"type": "array", "items": {"type": "string"}},
            "available_jobs": {"type": "array", "items": {"type": "string"}},
            "generated_at": {"type": "string"}}});
    let pipeline = json!({"type": "object", "required": ["healthy", "problems", "backlog", "generated_at"],
        "properties": {
            "healthy": {"type": "boolean"},
            "problems": {"type": "array", "items": {"type": "string"}},
            "last_flush": {"type": "object", "nullable": true},
            "last_parity": {"type": "object", "nullable": true},
            "backlog": {"type": "object"},
            "generated_at": {"type": "string"}}});
    let mut paths = operational_paths("MongoDB reachable.");
    paths.insert("/api/v1/telemetry/jobs/events".into(), json!({"post": {
        "summary": "Records one job lifecycle event.",
        "security": [{"producer": []}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": job_event}}},
        "responses": responses(&[("202", "Recorded.", recorded)], &[400, 401, 403, 408, 413, 415, 422, 500, 503])
    }}));
    paths.insert("/api/v1/telemetry/jobs/summary".into(), json!({"get": {
        "summary": "The job telemetry summary of a window.",
        "security": [{"operator": []}],
        "parameters": [
            query("window_minutes", json!({"type": "integer", "minimum": 5, "maximum": 1440, "default": 60}), "Minutes back from now."),
            query("site", json!({"type": "string", "maxLength": 255}), "Only this site (blank: all)."),
            query("job_name", json!({"type": "string", "maxLength": 255}), "Only this job (blank: all)."),
            query("limit", json!({"type": "integer", "minimum": 5, "maximum": 200, "default": 30}), "Rows per list.")
        ],
        "responses": responses(&[("200", "The summary.", summary)], &[401, 403, 422, 500, 503])
    }}));
    paths.insert("/api/v1/telemetry/block-signals".into(), json!({"get": {
        "summary": "Block signals (403 forbidden: 600 s, 429 rate limit: 300 s, 503 unavailable: 120 s cooldown) of a window: per host, cooling down first, and the latest signals.",
        "security": [{"operator": []}],
        "parameters": [
            query("window_minutes", json!({"type": "integer", "minimum": 5, "maximum": 1440, "default": 60}), "Minutes back from now."),
            query("host", json!({"type": "string", "maxLength": 255}), "Only this target host (blank: all)."),
            query("limit", json!({"type": "integer", "minimum": 5, "maximum": 200, "default": 30}), "Latest signals listed.")
        ],
        "responses": responses(&[("200", "Hosts and signals.", signals)], &[401, 403, 422, 500, 503])
    }}));
    paths.insert("/api/v1/telemetry/hosts/{host}/cooldown".into(), json!({"get": {
        "summary": "May a crawler hit this host now? Not while a block signal's cooldown runs.",
        "security": [{"producer": []}],
        "parameters": [{"name": "host", "in": "path", "required": true,
            "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
        "responses": responses(&[("200", "Allowed, or the cooldown's end.", cooldown)], &[401, 403, 422, 500, 503])
    }}));
    paths.insert("/api/v1/telemetry/pipeline".into(), json!({"get": {
        "summary": "The pipeline's health: a verdict, its problems in words, the last runs and the backlog. Answers even when a store is down (the problem says which).",
        "security": [{"operator": []}],
        "responses": responses(&[("200", "The verdict.", pipeline)], &[401, 403, 500])
    }}));
    build(
        "analytics telemetry-svc",
        env!("CARGO_PKG_VERSION"),
        paths,
        &["producer", "operator"],
    )
}
