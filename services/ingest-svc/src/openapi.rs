//! The OpenAPI description of ingest-svc.

use analytics_domain::event::{MAX_ID_CHARS, MAX_USER_ID_CHARS, MAX_VALUE};
use analytics_runtime::openapi::{
    document as build, id_schema, operational_paths, responses, ID_PATTERN,
};
use serde_json::{json, Value};

pub fn document(domains: &[&str]) -> Value {
    let event = json!({
        "type": "object",
        "required": ["event_id", "domain", "entity_type", "entity_id", "action", "occurred_at"],
        "properties": {
            "event_id": id_schema(MAX_ID_CHARS),
            "domain": {"type": "string", "enum": domains},
            "entity_type": {"type": "string", "enum": ["movie", "actor", "tag"]},
            "entity_id": id_schema(MAX_ID_CHARS),
            "action": {"type": "string", "enum": ["view", "download"],
                "description": "download applies to movies only."},
            "value": {"type": "integer", "minimum": 1, "maximum": MAX_VALUE, "nullable": true,
                "description": "Default 1. Without the producer token each action's public maximum applies (1 by default)."},
            "occurred_at": {"type": "string", "format": "date-time",
                "description": "RFC 3339 with an offset, at most 5 minutes ahead and at most 47 hours old."},
            "user_id": {"nullable": true, "oneOf": [
                {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX},
                {"type": "string", "maxLength": MAX_USER_ID_CHARS, "pattern": ID_PATTERN}
            ]}
        }
    });
    let accepted = json!({"type": "object", "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["accepted"]}}});
    let mut paths = operational_paths("Redis reachable.");
    paths.insert("/api/v1/analytics/events".into(), json!({"post": {
        "summary": "Counts one event exactly once (a retry of the same event is a duplicate: 202 with X-Analytics-Duplicate).",
        "security": [{}, {"producer": []}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": event}}},
        "responses": responses(
            &[("202", "Accepted (new or duplicate).", accepted)],
            &[400, 403, 408, 409, 413, 415, 422, 429, 500, 503]
        )
    }}));
    build(
        "analytics ingest-svc",
        env!("CARGO_PKG_VERSION"),
        paths,
        &["producer"],
    )
}
