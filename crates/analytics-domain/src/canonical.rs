//! The canonical form of a JSON body, which the dedupe fingerprint hashes.

use serde_json::{Map, Value};

/// JSON with every object's keys sorted, so two bodies that differ only
/// in key order (a retry re-serialised by another client) read the same.
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => canonical_object(map),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// [`canonical_json`] of an object.
pub fn canonical_object(map: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    let fields: Vec<String> = keys
        .into_iter()
        .map(|k| format!("{}:{}", Value::String(k.clone()), canonical_json(&map[k])))
        .collect();
    format!("{{{}}}", fields.join(","))
}
