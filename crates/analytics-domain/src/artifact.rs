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

/// What the product serves where the cut-over's rollback plan looks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackArtifact {
    pub schema_version: String,
    pub artifact_type: String,
    pub generated_at: String,
    pub ingest_route_present: bool,
    pub legacy_movie_view_route_present: bool,
    pub notes: Vec<String>,
}

impl RollbackArtifact {
    pub fn new(
        generated_at: String,
        ingest_route_present: bool,
        legacy_movie_view_route_present: bool,
        notes: Vec<String>,
    ) -> Self {
        RollbackArtifact {
            schema_version: SCHEMA_VERSION.into(),
            artifact_type: "rollback".into(),
            generated_at,
            ingest_route_present,
            legacy_movie_view_route_present,
            notes,
        }
    }
}

/// The manifest every evidence archive carries: each file's SHA-256.
pub const MANIFEST_NAME: &str = "manifest.json";
pub const MANIFEST_VERSION: &str = "analytics-evidence-manifest.v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub path: String,
    /// Lower-case hex.
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: String,
    pub generated_at: String,
    pub files: Vec<ManifestEntry>,
}

/// Why an archive entry's name is refused: absolute, or climbing out of
/// the archive (`..`), or empty. Checked before anything is read from it.
pub fn unsafe_entry_name(name: &str) -> Option<&'static str> {
    let normalised = name.replace('\\', "/");
    if normalised.trim().is_empty() {
        return Some("an empty name");
    }
    let drive = normalised.as_bytes().get(1) == Some(&b':');
    if normalised.starts_with('/') || drive {
        return Some("an absolute path");
    }
    if normalised.split('/').any(|part| part == "..") {
        return Some("a path climbing out of the archive (..)");
    }
    None
}

/// The legacy checks plus what they let through: a date that is not a
/// date, a time that is not a time, a mismatch count that is not the
/// number of rows listed.
pub fn validate_strict(payload: &Value) -> Vec<String> {
    let mut errors = validate_payload(payload);
    if !errors.is_empty() {
        return errors;
    }
    let text = |k: &str| payload.get(k).and_then(Value::as_str).unwrap_or_default();
    if chrono::DateTime::parse_from_rfc3339(text("generated_at")).is_err() {
        errors.push("generated_at must be an ISO-8601 time with an offset".to_string());
    }
    if payload.get("artifact_type").and_then(Value::as_str) == Some("parity") {
        if chrono::NaiveDate::parse_from_str(text("artifact_date"), "%Y-%m-%d").is_err() {
            errors.push("artifact_date must be a YYYY-MM-DD date".to_string());
        }
        let rows = payload.get("rows").and_then(Value::as_array).map(Vec::len);
        let mismatches = payload.get("mismatches").and_then(Value::as_u64);
        if rows.map(|r| r as u64) != mismatches {
            errors.push("mismatches must equal the number of rows".to_string());
        }
    }
    errors
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
    fn strict_validation_catches_what_the_legacy_checks_let_through() {
        let good = json!({
            "schema_version": SCHEMA_VERSION, "artifact_type": "parity",
            "artifact_date": "2026-02-21", "generated_at": "2026-02-21T10:00:00+00:00",
            "limit": 5, "checked": 5, "mismatches": 0, "rows": []
        });
        assert!(validate_strict(&good).is_empty());
        let mut bad = good.clone();
        bad["artifact_date"] = json!("Feb 21");
        bad["generated_at"] = json!("yesterday");
        bad["mismatches"] = json!(2);
        assert_eq!(
            validate_strict(&bad),
            [
                "generated_at must be an ISO-8601 time with an offset",
                "artifact_date must be a YYYY-MM-DD date",
                "mismatches must equal the number of rows"
            ]
        );
        let rollback = serde_json::to_value(RollbackArtifact::new(
            "2026-02-21T10:00:00+00:00".into(),
            true,
            false,
            vec![],
        ))
        .expect("value");
        assert!(validate_strict(&rollback).is_empty());
    }

    #[test]
    fn entry_names_outside_the_archive_are_refused() {
        for (name, why) in [
            ("/etc/passwd", Some("an absolute path")),
            ("C:\\evil.json", Some("an absolute path")),
            (
                "parity/../../x.json",
                Some("a path climbing out of the archive (..)"),
            ),
            (
                "..\\x.json",
                Some("a path climbing out of the archive (..)"),
            ),
            ("", Some("an empty name")),
            ("parity/parity-2026-02-21.json", None),
            ("notes..json", None),
        ] {
            assert_eq!(unsafe_entry_name(name), why, "{name}");
        }
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
