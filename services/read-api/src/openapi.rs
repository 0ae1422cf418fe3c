//! The OpenAPI description of every read-api endpoint.

use analytics_domain::event::MAX_ID_CHARS;
use analytics_runtime::openapi::{
    document as build, id_schema, operational_paths, path, query, responses,
};
use serde_json::{json, Value};

/// Every action's count, as each response carries them.
fn counts(mut schema: Value) -> Value {
    for action in ["view", "download"] {
        schema["properties"][action] = json!({"type": "integer", "minimum": 0});
        if let Some(required) = schema["required"].as_array_mut() {
            required.push(json!(action));
        }
    }
    schema
}

pub fn document(domains: &[&str]) -> Value {
    let entity_type = json!({"type": "string", "enum": ["movie", "actor", "tag"]});
    let action = json!({"type": "string", "enum": ["view", "download"], "default": "view"});
    let domain = query(
        "domain",
        json!({"type": "string", "enum": domains, "default": "jav"}),
        "A configured domain.",
    );
    let date =
        json!({"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"});
    let admin = json!([{"admin": []}]);
    let top_item = counts(
        json!({"type": "object", "required": ["rank", "entity_id"], "properties": {
        "rank": {"type": "integer", "minimum": 1},
        "entity_id": {"type": "string"},
        "code": {"type": "string", "nullable": true},
        "title": {"type": "string", "nullable": true}}}),
    );
    let top = json!({"type": "object", "required": ["domain", "entity_type", "action", "period", "items"],
        "properties": {
            "domain": {"type": "string"}, "entity_type": entity_type, "action": action,
            "period": {"type": "string", "enum": ["day", "week", "month", "year", "all"]},
            "bucket": {"type": "string", "nullable": true},
            "items": {"type": "array", "items": top_item}}});
    let point = counts(
        json!({"type": "object", "required": ["bucket"], "properties": {"bucket": {"type": "string"}}}),
    );
    let entity = json!({"type": "object",
        "required": ["domain", "entity_type", "entity_id", "totals", "granularity", "from", "to", "series"],
        "properties": {
            "domain": {"type": "string"}, "entity_type": entity_type, "entity_id": {"type": "string"},
            "totals": counts(json!({"type": "object", "required": [], "properties": {}})),
            "granularity": {"type": "string", "enum": ["day", "week", "month", "year"]},
            "from": {"type": "string"}, "to": {"type": "string"},
            "series": {"type": "array", "items": point}}});
    let trends = json!({"type": "object", "required": ["domain", "days", "action", "labels", "values", "total"],
        "properties": {
            "domain": {"type": "string"}, "days": {"type": "integer"}, "action": action,
            "entity_type": {"type": "string", "nullable": true},
            "labels": {"type": "array", "items": {"type": "string"}},
            "values": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "total": {"type": "integer", "minimum": 0}}});
    let counted = counts(
        json!({"type": "object", "required": ["domain", "entity_type", "entity_id"],
        "properties": {"domain": {"type": "string"}, "entity_type": entity_type, "entity_id": {"type": "string"}}}),
    );

    let mut paths = operational_paths("Redis, MongoDB and MySQL reachable.");
    paths.insert("/api/v1/admin/analytics/top".into(), json!({"get": {
        "summary": "Top entities by an action in a day, ISO week, month, year or all time.",
        "security": admin,
        "parameters": [
            domain,
            query("entity_type", json!({"type": "string", "enum": ["movie", "actor", "tag"], "default": "movie"}), "Kind of entity."),
            query("action", action.clone(), "Ranking action."),
            query("period", json!({"type": "string", "enum": ["day", "week", "month", "year", "all"], "default": "day"}), "Rollup period."),
            query("bucket", json!({"type": "string", "pattern": "^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?|-W[0-9]{2})?$"}),
                "A label of the period's kind (2026-11-21, 2026-W47, 2026-11 or 2026; not with period all); default: the current one in the domain's zone."),
            query("limit", json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 10}), "How many.")
        ],
        "responses": responses(&[("200", "Ranked items with every action's count (movies carry code and title).", top)], &[401, 403, 422, 500, 503])
    }}));
    paths.insert("/api/v1/admin/analytics/entities/{entity_type}/{entity_id}".into(), json!({"get": {
        "summary": "An entity's totals and its zero-filled series.",
        "security": admin,
        "parameters": [
            path("entity_type", entity_type.clone()),
            path("entity_id", id_schema(MAX_ID_CHARS)),
            domain,
            query("from", date.clone(), "Default: 29 days before `to`; not after `to`."),
            query("to", date, "Default: today in the domain's zone."),
            query("granularity", json!({"type": "string", "enum": ["day", "week", "month", "year"], "default": "day"}),
                "Series buckets (at most read_api.max_series_points of them).")
        ],
        "responses": responses(&[("200", "Totals and series.", entity)], &[401, 403, 422, 500, 503])
    }}));
    paths.insert("/api/v1/admin/analytics/trends".into(), json!({"get": {
        "summary": "Site-wide daily series of one action.",
        "security": admin,
        "parameters": [
            domain,
            query("days", json!({"type": "integer", "enum": [7, 14, 30, 90], "default": 14}), "Window ending today."),
            query("action", action, "Counted action."),
            query("entity_type", entity_type.clone(), "Only this kind of entity (default: all).")
        ],
        "responses": responses(&[("200", "Labels (dates) and values.", trends)], &[401, 403, 422, 500, 503])
    }}));
    paths.insert("/api/v1/analytics/counts/{entity_type}/{entity_id}".into(), json!({"get": {
        "summary": "Public display counts, including increments not yet flushed (rate limited per client; up to a second old).",
        "parameters": [path("entity_type", entity_type), path("entity_id", id_schema(MAX_ID_CHARS)), domain],
        "responses": responses(&[("200", "Every action's count.", counted)], &[422, 429, 500, 503])
    }}));
    build(
        "analytics read-api",
        env!("CARGO_PKG_VERSION"),
        paths,
        &["admin"],
    )
}
