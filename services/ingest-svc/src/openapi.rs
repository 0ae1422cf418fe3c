//! The OpenAPI description of ingest-svc: every route, every accepted
//! shape (the contract and the video player's, viewing service's and
//! stream-message bodies) and every body form (JSON, JSON as text/plain,
//! protobuf).

use analytics_domain::details::{
    MAX_LABEL_CHARS, MAX_MAP_ENTRIES, MAX_QUERY_CHARS, MAX_RESULT_COUNT, MAX_SECONDS,
    MAX_SESSION_ID_CHARS,
};
use analytics_domain::event::{MAX_ID_CHARS, MAX_USER_ID_CHARS, MAX_VALUE};
use analytics_domain::vocabulary::ALIASES;
use analytics_domain::{Action, EntityType};
use analytics_runtime::openapi::{
    document as build, id_schema, operational_paths, responses, ID_PATTERN,
};
use serde_json::{json, Map, Value};

/// The optional fields every shape may carry.
fn optional_fields() -> Map<String, Value> {
    let seconds = |min: u32| json!({"type": "integer", "minimum": min, "maximum": MAX_SECONDS, "nullable": true});
    let label = json!({"type": "string", "maxLength": MAX_LABEL_CHARS, "nullable": true});
    let scalar = json!({"nullable": true, "oneOf": [
        {"type": "string", "maxLength": 200}, {"type": "number"}, {"type": "boolean"}]});
    let map = |values: Value| {
        json!({"type": "object", "nullable": true, "maxProperties": MAX_MAP_ENTRIES,
               "additionalProperties": values})
    };
    let fields = json!({
        "user_id": {"nullable": true, "oneOf": [
            {"type": "integer", "minimum": i64::MIN, "maximum": i64::MAX},
            {"type": "string", "maxLength": MAX_USER_ID_CHARS, "pattern": ID_PATTERN}
        ]},
        "session_id": {"type": "string", "maxLength": MAX_SESSION_ID_CHARS, "nullable": true,
            "description": "Counts a guest in unique viewers."},
        "position_seconds": seconds(0),
        "duration_seconds": seconds(1),
        "watched_seconds": seconds(0),
        "properties": map(scalar.clone()),
        "query": {"type": "string", "maxLength": MAX_QUERY_CHARS, "nullable": true},
        "filters": map(json!({"nullable": true, "oneOf": [scalar.clone(),
            {"type": "array", "maxItems": MAX_MAP_ENTRIES, "items": scalar}]})),
        "result_count": {"type": "integer", "minimum": 0, "maximum": MAX_RESULT_COUNT, "nullable": true},
        "placement": label.clone(),
        "reason": label,
    });
    fields.as_object().cloned().unwrap_or_default()
}

fn with_optional(mut required: Value) -> Value {
    if let Some(props) = required["properties"].as_object_mut() {
        for (k, v) in optional_fields() {
            props.entry(k).or_insert(v);
        }
    }
    required
}

fn event_schema(domains: &[&str]) -> Value {
    let actions: Vec<&str> = Action::ALL
        .iter()
        .map(|a| a.as_str())
        .chain(ALIASES.iter().map(|(alias, ..)| *alias))
        .collect();
    let types: Vec<&str> = EntityType::ALL
        .iter()
        .filter(|t| **t != EntityType::Site)
        .map(|t| t.as_str())
        .collect();
    let occurred_at = json!({"type": "string", "format": "date-time",
        "description": "RFC 3339 with an offset, at most 5 minutes ahead and at most 47 hours old (older events: the import route)."});
    let contract = with_optional(json!({
        "title": "Contract event",
        "type": "object",
        "required": ["event_id", "domain", "action", "occurred_at"],
        "properties": {
            "event_id": id_schema(MAX_ID_CHARS),
            "domain": {"type": "string", "enum": domains},
            "entity_type": {"type": "string", "enum": types,
                "description": "Required unless the action is an alias that implies it (actor.viewed)."},
            "entity_id": id_schema(MAX_ID_CHARS),
            "action": {"type": "string", "enum": actions,
                "description": "An action of the vocabulary or an alias; it must apply to the entity type (the vocabulary: docs/events.md)."},
            "value": {"type": "integer", "minimum": 1, "maximum": MAX_VALUE, "nullable": true,
                "description": "Times it happened (default 1; without the producer token each action's public maximum applies), or a rating's stars (1..5, required for rate)."},
            "occurred_at": occurred_at.clone(),
        }
    }));
    let player = with_optional(json!({
        "title": "Video player event",
        "type": "object",
        "required": ["event_type", "video_id"],
        "properties": {
            "event_type": {"type": "string", "enum": actions},
            "video_id": id_schema(MAX_ID_CHARS),
            "timestamp": occurred_at.clone(),
        }
    }));
    let viewing = with_optional(json!({
        "title": "Viewing service event",
        "type": "object",
        "required": ["movie_id", "event_type"],
        "properties": {
            "movie_id": id_schema(MAX_ID_CHARS),
            "event_type": {"type": "string", "enum": actions},
            "metadata": {"type": "object", "nullable": true, "maxProperties": MAX_MAP_ENTRIES},
        }
    }));
    let stream = with_optional(json!({
        "title": "Stream message",
        "type": "object",
        "required": ["movie_id", "action"],
        "properties": {
            "movie_id": id_schema(MAX_ID_CHARS),
            "action": {"type": "string", "enum": actions},
            "timestamp": occurred_at,
        }
    }));
    json!({"anyOf": [contract, player, viewing, stream]})
}

/// An event the route counts as it is: its time is when the service
/// started, so "Try it out" on the docs page sends one ingest accepts (a
/// second try is a duplicate, answered and not counted again).
fn example_event(domain: &str) -> Value {
    json!({"event_id": "6b1f2d9e-3c1a-4f55-9a0e-2f8c5d7b4e10", "domain": domain,
           "entity_type": "movie", "entity_id": "f6f7163c-4c8c-4ce8-bfe5-7dbd7574d273",
           "action": "view", "user_id": "42",
           "occurred_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
}

fn bodies(json_schema: Value, proto_message: &str, example: Value) -> Value {
    json!({
        "application/json": {"schema": json_schema, "example": example},
        "text/plain": {"schema": {"type": "string",
            "description": "The same JSON, as navigator.sendBeacon sends it."},
            "example": example.to_string()},
        "application/x-protobuf": {"schema": {"type": "string", "format": "binary",
            "description": format!("An analytics.v1.{proto_message} (proto/analytics/v1/event.proto).")}}
    })
}

pub fn document(domains: &[&str], max_batch_events: usize) -> Value {
    let event = event_schema(domains);
    let one = example_event(domains.first().copied().unwrap_or("jav"));
    let many = json!({"events": [one.clone()]});
    let accepted = json!({"type": "object", "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["accepted"]}}});
    let batch = json!({"oneOf": [
        {"type": "array", "minItems": 1, "maxItems": max_batch_events, "items": event.clone()},
        {"type": "object", "required": ["events"], "properties": {"events":
            {"type": "array", "minItems": 1, "maxItems": max_batch_events, "items": event.clone()}}}
    ]});
    let item_result = json!({"type": "object", "required": ["index", "status"], "properties": {
        "index": {"type": "integer"},
        "event_id": {"type": "string"},
        "status": {"type": "string", "enum": ["accepted", "duplicate", "conflict", "invalid", "filtered", "unavailable"]},
        "message": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
    }});
    let batch_result = json!({"type": "object",
    "required": ["accepted", "duplicates", "conflicts", "invalid", "results"],
    "properties": {
        "accepted": {"type": "integer"}, "duplicates": {"type": "integer"},
        "conflicts": {"type": "integer"}, "invalid": {"type": "integer"},
        "filtered": {"type": "integer", "description": "Events of a crawler, monitor or headless browser (by the request's User-Agent): answered, counted nowhere."},
        "unavailable": {"type": "integer", "description": "Events Redis refused for now while it stored the others (answered 207 with Retry-After): send only these again."},
        "results": {"type": "array", "items": item_result}
    }});
    let dry_run = json!({"type": "object", "required": ["valid", "shape", "event"], "properties": {
        "valid": {"type": "boolean"},
        "shape": {"type": "string", "enum": ["contract", "video_player", "viewing_service", "stream_message"]},
        "event": {"type": "object", "description": "The normalised event: aliases resolved, defaults filled, UTC time and the domain's local date and hour."}
    }});
    let single_errors = [400, 403, 408, 409, 413, 415, 422, 429, 500, 503];
    let single = |summary: &str| {
        json!({"post": {
            "summary": summary,
            "security": [{}, {"producer": []}],
            "requestBody": {"required": true, "content": bodies(event.clone(), "Event", one.clone())},
            "responses": responses(
                &[("202", "Accepted (new, a duplicate with X-Analytics-Duplicate: true, or a bot's event with X-Analytics-Filtered: bot, counted nowhere).", accepted.clone())],
                &single_errors
            )
        }})
    };
    let mut paths = operational_paths("Redis reachable.");
    paths.insert(
        "/api/v1/analytics/events".into(),
        single("Counts one event exactly once, in any accepted shape and form."),
    );
    paths.insert(
        "/api/events".into(),
        single("The video player's route: the same as /api/v1/analytics/events."),
    );
    paths.insert("/api/v1/analytics/events/batch".into(), json!({"post": {
        "summary": "Counts up to the configured number of events; each item gets its result, in order (invalid items do not stop the others).",
        "security": [{}, {"producer": []}],
        "requestBody": {"required": true, "content": bodies(batch.clone(), "EventBatch", many.clone())},
        "responses": responses(
            &[
                ("200", "Every item's result.", batch_result.clone()),
                ("207", "Every item's result; some are unavailable (Redis refused them for now and stored the others): send those again after Retry-After.", batch_result.clone()),
            ],
            &[400, 403, 408, 413, 415, 422, 429, 500, 503]
        )
    }}));
    paths.insert("/api/v1/analytics/events/import".into(), json!({"post": {
        "summary": "Imports old events (the producer token only): the batch route's body and answer, for events of any age within the raw event log's retention (retention.raw_log_days), each counted exactly once however often it is sent, by its own date.",
        "security": [{"producer": []}],
        "requestBody": {"required": true, "content": bodies(batch.clone(), "EventBatch", many.clone())},
        "responses": responses(
            &[
                ("200", "Every item's result.", batch_result.clone()),
                ("207", "Every item's result; some are unavailable (Redis refused them for now and stored the others): send those again after Retry-After.", batch_result.clone()),
            ],
            &[400, 401, 403, 408, 409, 413, 415, 422, 429, 500, 503]
        )
    }}));
    paths.insert("/api/v1/analytics/events/validate".into(), json!({"post": {
        "summary": "Dry run: the normalised event, or the 422 the same body would get. Counts nothing.",
        "security": [{}, {"producer": []}],
        "requestBody": {"required": true, "content": bodies(event.clone(), "Event", one.clone())},
        "responses": responses(
            &[("200", "The body is a valid event.", dry_run)],
            &[400, 403, 408, 413, 415, 422, 429, 500]
        )
    }}));
    build(
        "analytics ingest-svc",
        env!("CARGO_PKG_VERSION"),
        paths,
        &["producer"],
    )
}
