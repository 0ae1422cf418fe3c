//! An example for every operation, made from its schemas: a value for each
//! required parameter, each request body and each response. The `/docs`
//! page shows them and prefills "Try it out" with them. Written by hand
//! where a schema says too little (an ingest event must be recent to be
//! counted): an `example` already in the document is kept.
//!
//! Optional parameters get none on purpose: Swagger UI sends every example
//! it has, and some optional parameters exclude each other (`days` or
//! `from`/`to`); their defaults are in the schema.

use serde_json::{json, Map, Value};

/// How deep nested objects are followed (the schemas are not recursive;
/// this only bounds a mistake).
const MAX_DEPTH: usize = 8;

/// Fills in the missing examples of every operation of `doc`.
pub fn fill(doc: &mut Value) {
    let components = doc["components"]["schemas"].clone();
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_object_mut)
    {
        if let Some(parameters) = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
        {
            for p in parameters.iter_mut().filter(|p| p["required"] == true) {
                if p.get("example").is_none() {
                    let name = p["name"].as_str().unwrap_or_default().to_string();
                    p["example"] = example_of(&p["schema"], &name, &components, 0);
                }
            }
        }
        if let Some(content) = operation
            .get_mut("requestBody")
            .and_then(|b| b.get_mut("content"))
        {
            fill_content(content, &components);
        }
        if let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            for response in responses.values_mut() {
                if let Some(content) = response.get_mut("content") {
                    fill_content(content, &components);
                }
            }
        }
    }
}

fn fill_content(content: &mut Value, components: &Value) {
    let Some(media) = content.as_object_mut() else {
        return;
    };
    for (kind, body) in media.iter_mut() {
        // Protobuf and other binary forms have no JSON example to show.
        let textual = kind.contains("json") || kind.starts_with("text/");
        if textual && body.get("example").is_none() && body.get("schema").is_some() {
            body["example"] = example_of(&body["schema"], "", components, 0);
        }
    }
}

/// A value `schema` accepts, shaped by the field's `name` where the schema
/// alone would give a meaningless one.
pub fn example_of(schema: &Value, name: &str, components: &Value, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(e) = schema.get("example") {
        return e.clone();
    }
    if let Some(reference) = schema["$ref"].as_str() {
        let target = reference.rsplit('/').next().unwrap_or_default();
        return example_of(&components[target], name, components, depth + 1);
    }
    if let Some(first) = schema["enum"]
        .as_array()
        .and_then(|e| e.iter().find(|v| !v.is_null()))
    {
        return first.clone();
    }
    if let Some(default) = schema.get("default") {
        return default.clone();
    }
    // The first alternative that is not just null (an optional field's
    // example shows the value it may hold).
    for alternatives in ["anyOf", "oneOf"] {
        if let Some(first) = schema[alternatives]
            .as_array()
            .and_then(|a| a.iter().find(|s| s["type"] != "null"))
        {
            return example_of(first, name, components, depth + 1);
        }
    }
    if let Some(parts) = schema["allOf"].as_array() {
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(o) = example_of(part, name, components, depth + 1) {
                merged.extend(o);
            }
        }
        return Value::Object(merged);
    }
    // OpenAPI 3.1 spells a nullable type as a list (`["string", "null"]`).
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null"),
        kind => kind.as_str(),
    };
    match kind {
        Some("string") => string_example(schema, name),
        Some("integer") => {
            let low = schema["minimum"].as_i64().unwrap_or(0);
            let high = schema["maximum"].as_i64().unwrap_or(i64::MAX);
            json!(integer_for(name).clamp(low, high))
        }
        Some("number") => {
            let low = schema["minimum"].as_f64().unwrap_or(0.0);
            let high = schema["maximum"].as_f64().unwrap_or(f64::MAX);
            json!(0.75_f64.clamp(low, high))
        }
        Some("boolean") => json!(false),
        Some("array") => {
            let item = example_of(&schema["items"], singular(name), components, depth + 1);
            let count = schema["minItems"].as_u64().unwrap_or(1).max(1);
            Value::Array(vec![item; usize::try_from(count).unwrap_or(1)])
        }
        _ => object_example(schema, components, depth),
    }
}

fn object_example(schema: &Value, components: &Value, depth: usize) -> Value {
    let mut out = Map::new();
    if let Some(properties) = schema["properties"].as_object() {
        for (key, property) in properties {
            out.insert(
                key.clone(),
                example_of(property, key, components, depth + 1),
            );
        }
    } else if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        out.insert("key".into(), example_of(values, "", components, depth + 1));
    }
    Value::Object(out)
}

/// The name of one item of a list field (`items` → `item`).
fn singular(name: &str) -> &str {
    name.strip_suffix('s').unwrap_or(name)
}

fn integer_for(name: &str) -> i64 {
    match name {
        "rank" | "value" | "attempt" | "limit" => 1,
        n if n.ends_with("_seconds") => 1_260,
        n if n.ends_with("_ms") => 120,
        n if n.ends_with("hour") => 20,
        _ => 42,
    }
}

fn string_example(schema: &Value, name: &str) -> Value {
    let text = match (schema["format"].as_str(), name) {
        (Some("date"), _) => "2026-11-21",
        (Some("date-time"), _) => "2026-11-21T20:15:00Z",
        (Some("uuid"), _) => "3c9d2b7e-1f0a-4c8e-9b5d-7a6e4f2c1d08",
        (_, "event_id" | "request_id") => "6b1f2d9e-3c1a-4f55-9a0e-2f8c5d7b4e10",
        (_, n) if n.ends_with("_at") || n == "timestamp" || n == "occurred_at" => {
            "2026-11-21T20:15:00Z"
        }
        (_, "entity_id" | "movie_id" | "video_id" | "id") => "f6f7163c-4c8c-4ce8-bfe5-7dbd7574d273",
        (_, "domain") => "jav",
        (_, "user_id") => "42",
        (_, "session_id") => "s-8f3a2c",
        (_, "query") => "space opera",
        (_, "genre") => "drama",
        (_, "segment_value") => "23-27",
        (_, "code") => "ABC-123",
        (_, "title") => "A film of the catalogue",
        (_, "bucket" | "date" | "from" | "to" | "first" | "last") => "2026-11-21",
        (_, "message") => "What happened, in a sentence.",
        (_, "site" | "source") => "onejav",
        (_, "job_name") => "OnejavJob",
        _ => "text",
    };
    let min = schema["minLength"].as_u64().unwrap_or(0);
    let max = schema["maxLength"].as_u64().unwrap_or(u64::MAX);
    let fits = (min..=max).contains(&(text.chars().count() as u64));
    let matches = schema["pattern"].as_str().is_none()
        || schema["pattern"].as_str() == Some(crate::openapi::ID_PATTERN);
    if fits && matches {
        return json!(text);
    }
    // A pattern this cannot read: the example says so rather than lie.
    json!("x".repeat(usize::try_from(min.max(1)).unwrap_or(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_follow_the_schema_and_the_field_names() {
        let components =
            json!({"Error": {"type": "object", "properties": {"message": {"type": "string"}}}});
        let schema = json!({"type": "object", "properties": {
            "domain": {"type": "string"},
            "period": {"type": "string", "enum": ["day", "week"]},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
            "items": {"type": "array", "items": {"type": "object", "properties": {
                "rank": {"type": "integer", "minimum": 1}, "view": {"type": "integer", "minimum": 0}}}},
            "error": {"$ref": "#/components/schemas/Error"},
            "rate": {"type": "number", "minimum": 0, "maximum": 1},
            "site": {"type": ["string", "null"]},
            "signal": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Error"}]},
        }});
        assert_eq!(
            example_of(&schema, "", &components, 0),
            json!({"domain": "jav", "period": "day", "limit": 10,
                   "items": [{"rank": 1, "view": 42}],
                   "error": {"message": "What happened, in a sentence."}, "rate": 0.75,
                   "site": "onejav", "signal": {"message": "What happened, in a sentence."}})
        );
    }

    #[test]
    fn every_operation_gets_its_examples_and_kept_ones_stay() {
        let mut doc = json!({"components": {"schemas": {}}, "paths": {"/x/{id}": {"get": {
            "parameters": [
                {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "days", "in": "query", "required": false, "schema": {"type": "integer"}}],
            "requestBody": {"content": {
                "application/json": {"schema": {"type": "object"}, "example": {"kept": true}},
                "application/x-protobuf": {"schema": {"type": "string"}}}},
            "responses": {"200": {"content": {"application/json": {"schema": {"type": "object",
                "properties": {"count": {"type": "integer"}}}}}}}}}}});
        fill(&mut doc);
        let op = &doc["paths"]["/x/{id}"]["get"];
        assert_eq!(
            op["parameters"][0]["example"],
            "f6f7163c-4c8c-4ce8-bfe5-7dbd7574d273"
        );
        assert!(op["parameters"][1].get("example").is_none());
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["example"],
            json!({"kept": true})
        );
        assert!(op["requestBody"]["content"]["application/x-protobuf"]
            .get("example")
            .is_none());
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["example"],
            json!({"count": 42})
        );
    }
}
