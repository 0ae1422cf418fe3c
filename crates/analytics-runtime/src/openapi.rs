//! What every service's OpenAPI document shares, added to the one utoipa
//! derives from its handlers and types: the errors, the operational routes,
//! the bearer schemes and the examples. The documents are as strict as the
//! servers where JSON Schema can say it (enums, patterns, lengths, ranges);
//! rules it cannot say (time windows, one field depending on another) are
//! in descriptions, and the server answers them with a 422 naming the
//! field.

use serde_json::{json, Map, Value};

pub mod examples;

/// The characters no id may contain (controls, bidi formatting marks), as
/// a JSON Schema pattern: the same set as `has_forbidden_chars`.
pub const ID_PATTERN: &str =
    "^[^\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069]*$";

fn error_body() -> Value {
    json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}})
}

/// The responses of an operation: `ok` (status → (description, schema)),
/// then the error statuses it can answer with, each with the one error body.
fn responses(ok: &[(&str, &str, Value)], errors: &[u16]) -> Value {
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
fn operational_paths(ready: &str) -> Map<String, Value> {
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

/// A whole document from the one utoipa derives from a service's handlers
/// and their request and response types: the operational routes (`ready`
/// says what `/ready` checks), the error schema and responses, a bearer
/// scheme for each name in `bearer`, and examples.
///
/// An operation lists the error statuses it can answer in an `x-errors`
/// extension (`extensions(("x-errors" = json!([401, 422])))`); each becomes
/// a response with the one error body, described once here. `configured`
/// sets what only the configuration knows (a service's domains, its batch
/// size) at JSON pointers into the document, before the examples are made
/// from it.
pub fn derived(
    api: &utoipa::openapi::OpenApi,
    ready: &str,
    bearer: &[&str],
    configured: &[(&str, Value)],
) -> Value {
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| json!({"paths": {}}));
    for (pointer, value) in configured {
        if !set_at(&mut doc, pointer, value.clone()) {
            tracing::warn!(pointer, "no such object in the OpenAPI document");
        }
    }
    let mut paths = operational_paths(ready);
    if let Some(Value::Object(derived)) = doc.get_mut("paths").map(Value::take) {
        paths.extend(derived);
    }
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_object_mut)
    {
        // utoipa tags each operation with its handler's module; the pages
        // list operations by path, as the hand-written documents do.
        operation.remove("tags");
        let errors: Vec<u16> = operation
            .remove("x-errors")
            .and_then(|e| serde_json::from_value(e).ok())
            .unwrap_or_default();
        // An error the operation lists itself keeps its own description
        // and gets the one error body.
        if let (Some(Value::Object(listed)), Value::Object(errors)) =
            (operation.get_mut("responses"), responses(&[], &errors))
        {
            for (status, mut error) in errors {
                if let Some(own) = listed.get(&status).and_then(|r| r.get("description")) {
                    error["description"] = own.clone();
                }
                listed.insert(status, error);
            }
        }
    }
    doc["paths"] = Value::Object(paths);
    let schemas = doc["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    finish(doc, schemas, bearer)
}

/// Sets the member a JSON pointer names (the object holding it must
/// exist; the member itself need not). False when there is no such object.
fn set_at(doc: &mut Value, pointer: &str, value: Value) -> bool {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return false;
    };
    let key = key.replace("~1", "/").replace("~0", "~");
    match doc.pointer_mut(parent) {
        Some(Value::Object(members)) => {
            members.insert(key, value);
            true
        }
        _ => false,
    }
}

/// What every document ends with: the error schema beside `schemas`, the
/// bearer schemes, the description and the examples.
fn finish(mut doc: Value, mut schemas: Map<String, Value>, bearer: &[&str]) -> Value {
    let schemes: Map<String, Value> = bearer
        .iter()
        .map(|name| {
            (
                name.to_string(),
                json!({"type": "http", "scheme": "bearer"}),
            )
        })
        .collect();
    schemas.insert(
        "Error".into(),
        json!({
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
        }),
    );
    doc["components"] = json!({"securitySchemes": schemes, "schemas": schemas});
    doc["info"]["description"] = json!("Every operation carries an example request and response; this service's `/docs/` page shows them and tries them out.");
    examples::fill(&mut doc);
    doc
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use utoipa::OpenApi;

    use super::derived;

    #[derive(serde::Serialize, utoipa::ToSchema)]
    struct Answer {
        count: u32,
    }

    #[utoipa::path(get, path = "/things/{id}", params(("id" = String, Path)),
        responses((status = 200, description = "The thing.", body = Answer),
            (status = 404, description = "No such thing.")),
        extensions(("x-errors" = json!([404, 503]))))]
    #[allow(dead_code)]
    fn thing() {}

    #[derive(OpenApi)]
    #[openapi(paths(thing))]
    struct Api;

    #[test]
    fn a_derived_document_gets_its_error_responses_the_operational_routes_and_examples() {
        let configured = [
            (
                "/components/schemas/Answer/properties/count/maximum",
                json!(9),
            ),
            ("/components/schemas/Nowhere/maximum", json!(9)),
        ];
        let doc = derived(&Api::openapi(), "Redis reachable.", &["admin"], &configured);
        let op = &doc["paths"]["/things/{id}"]["get"];
        assert_eq!(op.get("x-errors"), None);
        assert_eq!(op.get("tags"), None);
        let statuses: Vec<&str> = op["responses"]
            .as_object()
            .into_iter()
            .flat_map(|r| r.keys().map(String::as_str))
            .collect();
        assert_eq!(statuses, ["200", "404", "503"]);
        assert_eq!(
            op["responses"]["503"]["description"],
            "A store is unavailable; see Retry-After."
        );
        assert_eq!(
            op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error"
        );
        assert_eq!(
            op["parameters"][0]["example"],
            "f6f7163c-4c8c-4ce8-bfe5-7dbd7574d273"
        );
        assert_eq!(doc["paths"]["/ready"]["get"]["summary"], "Redis reachable.");
        assert_eq!(
            doc["components"]["securitySchemes"]["admin"]["scheme"],
            "bearer"
        );
        assert_eq!(
            doc["components"]["schemas"]["Answer"]["required"],
            json!(["count"])
        );
        // The configured maximum is in place before the example is made.
        assert_eq!(
            doc["components"]["schemas"]["Answer"]["properties"]["count"]["maximum"],
            9
        );
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["example"],
            json!({"count": 9})
        );
        assert!(doc["components"]["schemas"]["Error"].is_object());
    }
}
