//! The optional fields of contract v2: who was watching in which session,
//! where the player was, what was searched, where a recommendation was
//! shown. Each is bounded, and each failure names its field, like the
//! required fields of [`crate::event`].

use serde_json::{Map, Value};

use crate::validation::{
    has_forbidden_chars, label, optional_int, optional_str, optional_text, IntRule, TextRule,
    ValidationErrors,
};
use crate::vocabulary::Action;

pub const MAX_SESSION_ID_CHARS: usize = 128;
/// Positions and durations: a film (or a day-long stream) fits in 24 h.
pub const MAX_SECONDS: u32 = 86_400;
pub const MAX_QUERY_CHARS: usize = 500;
pub const MAX_LABEL_CHARS: usize = 64;
/// `properties` and `filters`: at most this many entries…
pub const MAX_MAP_ENTRIES: usize = 16;
/// …with keys of at most this many characters…
pub const MAX_MAP_KEY_CHARS: usize = 40;
/// …and string values of at most this many.
pub const MAX_MAP_VALUE_CHARS: usize = 200;
pub const MAX_RESULT_COUNT: u32 = 1_000_000_000;

/// The v2 fields of one event; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Details {
    /// A guest's (or a player's) session: unique viewers count a guest by it.
    pub session_id: Option<String>,
    /// Where playback was when the event happened.
    pub position_seconds: Option<u32>,
    /// The length of the film being played.
    pub duration_seconds: Option<u32>,
    /// Seconds watched since the session's previous event.
    pub watched_seconds: Option<u32>,
    /// Free context: quality, device, browser… (scalars only).
    pub properties: Map<String, Value>,
    /// A search's text as typed, its filters and how many results it had.
    pub query: Option<String>,
    pub filters: Map<String, Value>,
    pub result_count: Option<u32>,
    /// Where a recommendation was shown and why it was chosen.
    pub placement: Option<String>,
    pub reason: Option<String>,
}

impl Details {
    /// Reads and checks every v2 field, recording each failure.
    pub fn validate(body: &Map<String, Value>, errors: &mut ValidationErrors) -> Details {
        let details = Details {
            session_id: text(body, "session_id", MAX_SESSION_ID_CHARS, errors),
            position_seconds: seconds(body, "position_seconds", 0, errors),
            duration_seconds: seconds(body, "duration_seconds", 1, errors),
            watched_seconds: seconds(body, "watched_seconds", 0, errors),
            properties: map(body, "properties", false, errors),
            query: query(body, errors),
            filters: map(body, "filters", true, errors),
            result_count: count(body, "result_count", 0, MAX_RESULT_COUNT, errors),
            placement: text(body, "placement", MAX_LABEL_CHARS, errors),
            reason: text(body, "reason", MAX_LABEL_CHARS, errors),
        };
        if let (Some(p), Some(d)) = (details.position_seconds, details.duration_seconds) {
            if p > d {
                errors.add(
                    "position_seconds",
                    "The position seconds field must not be greater than duration seconds.".into(),
                );
            }
        }
        details
    }

    /// The fields that are set, as JSON (the normalised event's v2 part).
    pub fn to_json(&self, into: &mut Map<String, Value>) {
        let mut put = |k: &str, v: Value| {
            into.insert(k.to_string(), v);
        };
        if let Some(s) = &self.session_id {
            put("session_id", s.as_str().into());
        }
        for (k, v) in [
            ("position_seconds", self.position_seconds),
            ("duration_seconds", self.duration_seconds),
            ("watched_seconds", self.watched_seconds),
            ("result_count", self.result_count),
        ] {
            if let Some(n) = v {
                put(k, n.into());
            }
        }
        if !self.properties.is_empty() {
            put("properties", Value::Object(self.properties.clone()));
        }
        if let Some(q) = &self.query {
            put("query", q.as_str().into());
        }
        if !self.filters.is_empty() {
            put("filters", Value::Object(self.filters.clone()));
        }
        if let Some(p) = &self.placement {
            put("placement", p.as_str().into());
        }
        if let Some(r) = &self.reason {
            put("reason", r.as_str().into());
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Details::default()
    }

    /// How far through the film an ending event was, in whole percent,
    /// when the film's length is known (`complete` without a position
    /// means the end).
    pub fn watch_percent(&self, action: Action) -> Option<i64> {
        let duration = i64::from(self.duration_seconds?);
        let position = match (self.position_seconds, action) {
            (Some(p), _) => i64::from(p),
            (None, Action::Complete) => duration,
            (None, _) => return None,
        };
        Some((position.min(duration) * 100 + duration / 2) / duration)
    }
}

/// The search text as the query entity's id: trimmed, lower-case, runs of
/// white space as one space, at most 255 characters; an empty search (only
/// filters) is `(empty)`.
pub fn query_entity_id(query: &str) -> String {
    let folded: String = query
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    let id: String = folded.chars().take(crate::event::MAX_ID_CHARS).collect();
    if id.is_empty() {
        "(empty)".to_string()
    } else {
        id
    }
}

fn text(
    body: &Map<String, Value>,
    field: &'static str,
    max: usize,
    errors: &mut ValidationErrors,
) -> Option<String> {
    optional_text(body, field, TextRule::Printable(max), errors)
}

fn count(
    body: &Map<String, Value>,
    field: &'static str,
    min: u32,
    max: u32,
    errors: &mut ValidationErrors,
) -> Option<u32> {
    let rule = IntRule::Between(i64::from(min), i64::from(max));
    optional_int(body, field, rule, errors).and_then(|n| u32::try_from(n).ok())
}

fn seconds(
    body: &Map<String, Value>,
    field: &'static str,
    min: u32,
    errors: &mut ValidationErrors,
) -> Option<u32> {
    count(body, field, min, MAX_SECONDS, errors)
}

fn query(body: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<String> {
    let raw = optional_str(body, "query", errors)?;
    if raw.chars().count() > MAX_QUERY_CHARS || raw.chars().any(char::is_control) {
        errors.add(
            "query",
            format!(
                "The query field must be at most {MAX_QUERY_CHARS} characters without control characters."
            ),
        );
        return None;
    }
    Some(raw.trim().to_string())
}

/// A small flat object: scalar values (and, where `lists`, arrays of
/// scalars), bounded in entries and lengths, so a producer cannot make a
/// log row or a live-feed message arbitrarily large.
fn map(
    body: &Map<String, Value>,
    field: &'static str,
    lists: bool,
    errors: &mut ValidationErrors,
) -> Map<String, Value> {
    let object = match body.get(field) {
        None | Some(Value::Null) => return Map::new(),
        Some(Value::Object(o)) => o,
        Some(_) => {
            errors.add(
                field,
                format!("The {} field must be an object.", label(field)),
            );
            return Map::new();
        }
    };
    let scalar_ok = |v: &Value| match v {
        Value::String(s) => s.chars().count() <= MAX_MAP_VALUE_CHARS,
        Value::Number(_) | Value::Bool(_) | Value::Null => true,
        _ => false,
    };
    let value_ok = |v: &Value| match v {
        Value::Array(items) if lists => {
            items.len() <= MAX_MAP_ENTRIES && items.iter().all(scalar_ok)
        }
        other => scalar_ok(other),
    };
    let keys_ok = object
        .keys()
        .all(|k| (1..=MAX_MAP_KEY_CHARS).contains(&k.chars().count()) && !has_forbidden_chars(k));
    if object.len() > MAX_MAP_ENTRIES || !keys_ok || !object.values().all(value_ok) {
        let values = if lists {
            "scalars or short lists of scalars"
        } else {
            "scalars"
        };
        errors.add(
            field,
            format!(
                "The {} field must have at most {MAX_MAP_ENTRIES} entries with keys of 1..{MAX_MAP_KEY_CHARS} printable characters and values that are {values} (strings up to {MAX_MAP_VALUE_CHARS} characters).",
                label(field)
            ),
        );
        return Map::new();
    }
    object.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(body: Value) -> (Details, Vec<&'static str>) {
        let mut errors = ValidationErrors::default();
        let d = Details::validate(body.as_object().expect("object"), &mut errors);
        (d, errors.errors.keys().copied().collect())
    }

    #[test]
    fn absent_fields_are_none_and_present_ones_are_kept() {
        assert_eq!(check(json!({})), (Details::default(), vec![]));
        let (d, bad) = check(json!({
            "session_id": " s-1 ", "position_seconds": 30, "duration_seconds": 60,
            "watched_seconds": 30, "properties": {"quality": "720p", "muted": false},
            "query": "  Space  Opera ", "filters": {"tags": ["a", "b"]}, "result_count": 0,
            "placement": "home_row", "reason": "similar"
        }));
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(d.session_id.as_deref(), Some("s-1"));
        assert_eq!(d.query.as_deref(), Some("Space  Opera"));
        assert_eq!(d.result_count, Some(0));
        let mut out = Map::new();
        d.to_json(&mut out);
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn each_bad_field_is_named() {
        for (field, bad) in [
            ("session_id", json!(5)),
            ("session_id", json!("x".repeat(129))),
            ("session_id", json!("a\u{202E}b")),
            ("position_seconds", json!(-1)),
            ("position_seconds", json!(86_401)),
            ("position_seconds", json!("10")),
            ("duration_seconds", json!(0)),
            ("watched_seconds", json!(1.5)),
            ("properties", json!([1])),
            ("properties", json!({"nested": {"a": 1}})),
            ("properties", json!({"list": [1]})),
            ("properties", json!({"": 1})),
            ("properties", json!({"k": "v".repeat(201)})),
            ("filters", json!({"k": [[1]]})),
            ("query", json!("q".repeat(501))),
            ("query", json!("a\nb")),
            ("result_count", json!(-3)),
            ("placement", json!("p".repeat(65))),
            ("reason", json!(true)),
        ] {
            assert_eq!(
                check(json!({ field: bad.clone() })).1,
                vec![field],
                "{field} = {bad}"
            );
        }
        let many: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(check(json!({"properties": many})).1, vec!["properties"]);
        assert_eq!(
            check(json!({"position_seconds": 61, "duration_seconds": 60})).1,
            vec!["position_seconds"]
        );
    }

    #[test]
    fn watch_percent_needs_a_duration_and_is_capped() {
        let d = |p: Option<u32>, len: Option<u32>| Details {
            position_seconds: p,
            duration_seconds: len,
            ..Details::default()
        };
        assert_eq!(
            d(Some(45), Some(60)).watch_percent(Action::Finish),
            Some(75)
        );
        assert_eq!(d(Some(1), Some(3)).watch_percent(Action::Finish), Some(33));
        assert_eq!(d(None, Some(60)).watch_percent(Action::Complete), Some(100));
        assert_eq!(d(None, Some(60)).watch_percent(Action::Finish), None);
        assert_eq!(d(Some(45), None).watch_percent(Action::Finish), None);
    }

    #[test]
    fn query_ids_fold_case_and_space() {
        assert_eq!(query_entity_id("  Space   OPERA\t2 "), "space opera 2");
        assert_eq!(query_entity_id("   "), "(empty)");
        assert_eq!(query_entity_id(&"é".repeat(400)).chars().count(), 255);
    }
}
