//! Pieces every service's OpenAPI document is built from, so the three
//! documents describe errors, ids, parameters and the operational routes
//! the same way. The documents are as strict as the servers where JSON
//! Schema can say it (enums, patterns, lengths, ranges); rules it cannot
//! say (time windows, one field depending on another) are in descriptions,
//! and the server answers them with a 422 naming the field.

use serde_json::{json, Map, Value};

pub mod examples;

/// The characters no id may contain (controls, bidi formatting marks), as
/// a JSON Schema pattern: the same set as `has_forbidden_chars`.
pub const ID_PATTERN: &str =
    "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$";

/// A string id of 1..`max` characters without forbidden characters (the
/// server trims surrounding blanks and refuses what is blank).
pub fn id_schema(max: usize) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": ID_PATTERN})
}

/// A query parameter.
pub fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema,
           "description": description, "allowEmptyValue": false})
}

/// A path parameter.
pub fn path(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": schema})
}

fn error_body() -> Value {
    json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}})
}

/// The responses of an operation: `ok` (status → (description, schema)),
/// then the error statuses it can answer with, each with the one error body.
pub fn responses(ok: &[(&str, &str, Value)], errors: &[u16]) -> Value {
    let mut out = Map::new();
    for (status, description, schema) in ok {
        out.insert(
            status.to_string(),
            json!({"description": description, "content": {"application/json": {"schema": schema}}}),
        );
    }
    for status in errors {
        let description = match status {
            400 => "The body is not valid JSON (or not an object, or not valid gzip).",
            401 => "No bearer token.",
            403 => "A wrong bearer token.",
            404 => "Not found.",
            405 => "Another method is needed; see Allow.",
            408 => "The body did not arrive in time.",
            409 => "The event id was used by a different event.",
            413 => "The body is too large (before or after gzip).",
            415 => "Not JSON, or a Content-Encoding other than gzip.",
            422 => "A field or parameter is invalid; `errors` names it.",
            429 => "Over the client's rate limit; see Retry-After.",
            500 => "Internal error; the body carries the request id of the log entry.",
            503 => "A store is unavailable; see Retry-After.",
            _ => "Error.",
        };
        out.insert(
            status.to_string(),
            json!({"description": description, "content": error_body()}),
        );
    }
    Value::Object(out)
}

/// `/health`, `/ready`, `/metrics` and `/openapi.json`, which every
/// service answers the same way.
pub fn operational_paths(ready: &str) -> Map<String, Value> {
    let text = |d: &str| {
        json!({"200": {"description": d,
            "content": {"application/openmetrics-text": {"schema": {"type": "string"}}}}})
    };
    let checks = json!({"type": "object", "required": ["status", "checks"], "properties": {
        "status": {"type": "string", "enum": ["ready", "unavailable"]},
        "checks": {"type": "object", "additionalProperties":
            {"type": "string", "enum": ["ok", "unavailable", "failing"]}}}});
    let mut paths = Map::new();
    paths.insert(
        "/health".into(),
        json!({"get": {"summary": "The process is alive.",
        "responses": responses(&[("200", "alive", json!({"type": "object",
            "properties": {"status": {"type": "string", "enum": ["ok"]}}}))], &[])}}),
    );
    paths.insert(
        "/ready".into(),
        json!({"get": {"summary": ready,
        "responses": {
            "200": {"description": "ready", "content": {"application/json": {"schema": checks}}},
            "503": {"description": "a store is down; the body names it",
                    "content": {"application/json": {"schema": checks}}}}}}),
    );
    paths.insert(
        "/metrics".into(),
        json!({"get": {"summary": "Prometheus metrics.",
        "responses": text("OpenMetrics text")}}),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {"summary": "This document.",
        "responses": {"200": {"description": "OpenAPI 3",
            "content": {"application/json": {"schema": {"type": "object"}}}}}}}),
    );
    paths
}

/// A whole document: `paths` plus the operational routes, the error
/// schema, and a bearer security scheme for each name in `bearer`.
pub fn document(title: &str, version: &str, paths: Map<String, Value>, bearer: &[&str]) -> Value {
    let schemes: Map<String, Value> = bearer
        .iter()
        .map(|name| {
            (
                name.to_string(),
                json!({"type": "http", "scheme": "bearer"}),
            )
        })
        .collect();
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {"title": title, "version": version,
            "description": "Every operation carries an example request and response; this service's `/docs/` page shows them and tries them out."},
        "components": {
            "securitySchemes": schemes,
            "schemas": {"Error": {
                "type": "object",
                "example": {"message": "A field or parameter is invalid.",
                    "errors": {"days": ["must be one of 7, 14, 30, 90"]},
                    "request_id": "6b1f2d9e-3c1a-4f55-9a0e-2f8c5d7b4e10"},
                "required": ["message"],
                "properties": {
                    "message": {"type": "string"},
                    "errors": {"type": "object", "additionalProperties":
                        {"type": "array", "items": {"type": "string"}}},
                    "request_id": {"type": "string"}
                }
            }}
        },
        "paths": paths,
    });
    examples::fill(&mut doc);
    doc
}
