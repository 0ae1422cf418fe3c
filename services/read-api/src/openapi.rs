//! The OpenAPI description of every read-api endpoint.

use serde_json::{json, Value};

fn query(name: &str, schema: Value, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "schema": schema, "description": description})
}

fn path(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": schema})
}

fn errors(admin: bool) -> Value {
    let mut r = json!({
        "422": {"description": "A parameter is invalid; `errors` names it.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "503": {"description": "A store is unavailable; see Retry-After."}
    });
    if admin {
        r["401"] = json!({"description": "No bearer token."});
        r["403"] = json!({"description": "Wrong bearer token."});
    }
    r
}

fn ok(description: &str, mut others: Value) -> Value {
    others["200"] = json!({"description": description, "content": {"application/json": {}}});
    others
}

pub fn document() -> Value {
    let entity_type = json!({"type": "string", "enum": ["movie", "actor", "tag"]});
    let action = json!({"type": "string", "enum": ["view", "download"], "default": "view"});
    let domain = query(
        "domain",
        json!({"type": "string", "default": "jav"}),
        "A configured domain.",
    );
    let admin = json!([{"bearer": []}]);
    json!({
        "openapi": "3.0.3",
        "info": {"title": "analytics read-api", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "properties": {
                "message": {"type": "string"},
                "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
            }}}
        },
        "paths": {
            "/api/v1/admin/analytics/top": {"get": {
                "summary": "Top entities by an action in a day, ISO week, month, year or all time.",
                "security": admin,
                "parameters": [
                    domain,
                    query("entity_type", json!({"type": "string", "enum": ["movie", "actor", "tag"], "default": "movie"}), "Kind of entity."),
                    query("action", action.clone(), "Ranking action."),
                    query("period", json!({"type": "string", "enum": ["day", "week", "month", "year", "all"], "default": "day"}), "Rollup period."),
                    query("bucket", json!({"type": "string"}), "2026-11-21, 2026-W47, 2026-11 or 2026; default: the current one in the domain's zone."),
                    query("limit", json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 10}), "How many.")
                ],
                "responses": ok("Ranked items with both actions' counts (movies carry code and title).", errors(true))
            }},
            "/api/v1/admin/analytics/entities/{entity_type}/{entity_id}": {"get": {
                "summary": "An entity's totals and its zero-filled series.",
                "security": admin,
                "parameters": [
                    path("entity_type", entity_type.clone()),
                    path("entity_id", json!({"type": "string", "maxLength": 255})),
                    domain,
                    query("from", json!({"type": "string", "format": "date"}), "Default: 29 days before `to`."),
                    query("to", json!({"type": "string", "format": "date"}), "Default: today in the domain's zone."),
                    query("granularity", json!({"type": "string", "enum": ["day", "week", "month", "year"], "default": "day"}), "Series buckets.")
                ],
                "responses": ok("Totals and series.", errors(true))
            }},
            "/api/v1/admin/analytics/trends": {"get": {
                "summary": "Site-wide daily series of one action.",
                "security": admin,
                "parameters": [
                    domain,
                    query("days", json!({"type": "integer", "enum": [7, 14, 30, 90], "default": 14}), "Window ending today."),
                    query("action", action, "Counted action."),
                    query("entity_type", entity_type.clone(), "Only this kind of entity (default: all).")
                ],
                "responses": ok("Labels (dates) and values.", errors(true))
            }},
            "/api/v1/analytics/counts/{entity_type}/{entity_id}": {"get": {
                "summary": "Public display counts, including increments not yet flushed.",
                "parameters": [path("entity_type", entity_type), path("entity_id", json!({"type": "string", "maxLength": 255})), domain],
                "responses": ok("view and download counts.", errors(false))
            }},
            "/health": {"get": {"summary": "Alive.", "responses": {"200": {"description": "ok"}}}},
            "/ready": {"get": {"summary": "Redis, MongoDB and MySQL reachable.", "responses": {"200": {"description": "ready"}, "503": {"description": "a store is down"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics.", "responses": {"200": {"description": "OpenMetrics text"}}}},
            "/openapi.json": {"get": {"summary": "This document.", "responses": {"200": {"description": "OpenAPI 3"}}}}
        }
    })
}
