//! The `analytics-artifact.v1` evidence schema, field order kept (existing tooling reads it).

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const SCHEMA_VERSION: &str = "analytics-artifact.v1";

/// One movie whose MySQL replica disagrees with the Mongo totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParityRow {
    /// The catalogue code, or the uuid when the code is null.
    pub code: String,
    pub mysql_views: i64,
    pub mysql_downloads: i64,
    pub mongo_views: i64,
    pub mongo_downloads: i64,
}

/// A Mongo totals document with no catalogue row (reported by `--all`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanRow {
    pub entity_id: String,
    pub mongo_views: i64,
    pub mongo_downloads: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParityArtifact {
    pub schema_version: String,
    pub artifact_type: String,
    pub artifact_date: String,
    pub generated_at: String,
    pub limit: i64,
    pub checked: i64,
    pub mismatches: i64,
    pub rows: Vec<ParityRow>,
    /// Extra key (the schema allows them): only present with `--all`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub orphans: Option<Vec<OrphanRow>>,
}

impl ParityArtifact {
    pub fn new(
        artifact_date: String,
        generated_at: String,
        limit: i64,
        checked: i64,
        rows: Vec<ParityRow>,
    ) -> Self {
        ParityArtifact {
            schema_version: SCHEMA_VERSION.into(),
            artifact_type: "parity".into(),
            artifact_date,
            generated_at,
            limit,
            checked,
            mismatches: rows.len() as i64,
            rows,
            orphans: None,
        }
    }
}

/// `(field, predicate, type name)` of one type check.
type FieldCheck = (&'static str, fn(Option<&Value>) -> bool, &'static str);

/// The legacy validator: the exact error strings, an empty list when valid.
pub fn validate_payload(payload: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let field = |k: &str| payload.get(k);
    if field("schema_version").and_then(Value::as_str) != Some(SCHEMA_VERSION) {
        errors.push("schema_version is missing or unsupported".to_string());
    }
    let kind = field("artifact_type").and_then(Value::as_str);
    if !matches!(kind, Some("parity" | "rollback")) {
        errors.push("artifact_type must be parity or rollback".to_string());
        return errors;
    }
    if !field("generated_at").is_some_and(Value::is_string) {
        errors.push("generated_at must be string".to_string());
    }
    let checks: &[FieldCheck] = if kind == Some("parity") {
        &[
            (
                "artifact_date",
                |v| v.is_some_and(Value::is_string),
                "string",
            ),
            ("limit", is_int, "int"),
            ("checked", is_int, "int"),
            ("mismatches", is_int, "int"),
            ("rows", |v| v.is_some_and(Value::is_array), "array"),
        ]
    } else {
        &[
            (
                "ingest_route_present",
                |v| v.is_some_and(Value::is_boolean),
                "bool",
            ),
            (
                "legacy_movie_view_route_present",
                |v| v.is_some_and(Value::is_boolean),
                "bool",
            ),
            ("notes", |v| v.is_some_and(Value::is_array), "array"),
        ]
    };
    for (key, ok, kind) in checks {
        if !ok(field(key)) {
            errors.push(format!("{key} must be {kind}"));
        }
    }
    errors
}

/// Real JSON integers only: "5" and 1.5 are not ints (legacy PHP `is_int`).
fn is_int(v: Option<&Value>) -> bool {
    v.is_some_and(|v| v.is_i64() || v.is_u64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_parity_artifact_serializes_in_schema_order_and_validates() {
        let a = ParityArtifact::new(
            "2026-02-21".into(),
            "2026-02-21T10:00:00+00:00".into(),
            100,
            2,
            vec![ParityRow {
                code: "ABC-123".into(),
                mysql_views: 10,
                mysql_downloads: 3,
                mongo_views: 9,
                mongo_downloads: 3,
            }],
        );
        let text = serde_json::to_string(&a).expect("json");
        assert!(text.starts_with(
            r#"{"schema_version":"analytics-artifact.v1","artifact_type":"parity","artifact_date":"2026-02-21","generated_at":"2026-02-21T10:00:00+00:00","limit":100,"checked":2,"mismatches":1,"rows":[{"code":"ABC-123""#
        ));
        assert!(validate_payload(&serde_json::to_value(&a).expect("value")).is_empty());
    }

    #[test]
    fn the_validator_reports_the_legacy_messages() {
        assert_eq!(
            validate_payload(&json!({"artifact_type": "other"})),
            [
                "schema_version is missing or unsupported",
                "artifact_type must be parity or rollback"
            ]
        );
        assert_eq!(
            validate_payload(&json!({
                "schema_version": SCHEMA_VERSION, "artifact_type": "parity",
                "generated_at": 1, "artifact_date": "d", "limit": "5",
                "checked": 1.5, "mismatches": 0, "rows": {}
            })),
            [
                "generated_at must be string",
                "limit must be int",
                "checked must be int",
                "rows must be array"
            ]
        );
        assert_eq!(
            validate_payload(&json!({
                "schema_version": SCHEMA_VERSION, "artifact_type": "rollback",
                "generated_at": "x", "ingest_route_present": 1, "notes": []
            })),
            [
                "ingest_route_present must be bool",
                "legacy_movie_view_route_present must be bool"
            ]
        );
    }
}
