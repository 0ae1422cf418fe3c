//! The one set of validation helpers: the 422 body every service answers
//! (the Laravel-style `{"message", "errors": {field: [...]}}` the replaced
//! system's producers already read), the id rules, and the field readers
//! the event, its optional details and the job events share. A reader
//! records its message under the field's name and gives `None` for a bad
//! value, so one pass reports every bad field at once.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

/// The 422 body: a summary message plus every failing field's messages.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidationErrors {
    pub message: String,
    pub errors: BTreeMap<&'static str, Vec<String>>,
}

impl ValidationErrors {
    pub fn add(&mut self, field: &'static str, message: String) {
        self.errors.entry(field).or_default().push(message);
    }

    /// Whether `field` has a message already.
    pub fn has(&self, field: &str) -> bool {
        self.errors.contains_key(field)
    }

    pub fn finish(mut self) -> Self {
        let total: usize = self.errors.values().map(Vec::len).sum();
        let first = self
            .errors
            .values()
            .flatten()
            .next()
            .cloned()
            .unwrap_or_default();
        self.message = match total {
            0 | 1 => first,
            2 => format!("{first} (and 1 more error)"),
            n => format!("{first} (and {} more errors)", n - 1),
        };
        self
    }
}

/// A field's name as the messages say it (`entity_id` → `entity id`).
pub fn label(field: &str) -> String {
    field.replace('_', " ")
}

/// Characters no id may contain: controls (NUL included), and the bidi
/// formatting marks that make an id display as something else in an admin
/// page or a log line.
pub fn has_forbidden_chars(s: &str) -> bool {
    s.chars().any(|c| {
        c.is_control()
            || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
    })
}

/// An id an operator gives (a path segment, a command's argument): 1 to
/// `max` characters as given, without control or bidirectional formatting
/// characters anywhere (a tab or a vertical tab is a control, though
/// `trim` would take it away: the OpenAPI documents refuse it too);
/// returned without surrounding blanks.
pub fn operator_id(raw: &str, max: usize) -> Option<&str> {
    let id = raw.trim();
    (!id.is_empty() && raw.chars().count() <= max && !has_forbidden_chars(raw)).then_some(id)
}

/// A string field as sent: `None` when absent or null, and when it is not
/// a string (recorded).
pub fn optional_str<'a>(
    body: &'a Map<String, Value>,
    field: &'static str,
    errors: &mut ValidationErrors,
) -> Option<&'a str> {
    match body.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(_) => {
            errors.add(
                field,
                format!("The {} field must be a string.", label(field)),
            );
            None
        }
    }
}

/// A required string the way the legacy stack read it: trimmed, and an
/// empty or blank string counts as missing.
pub fn required_str<'a>(
    body: &'a Map<String, Value>,
    field: &'static str,
    errors: &mut ValidationErrors,
) -> Option<&'a str> {
    match body.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim()),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            errors.add(field, format!("The {} field is required.", label(field)));
            None
        }
        Some(_) => {
            errors.add(
                field,
                format!("The {} field must be a string.", label(field)),
            );
            None
        }
    }
}

/// A required id: [`required_str`], at most `max` characters as sent
/// (padding included, so a schema's maxLength says exactly what is
/// accepted), without control or bidirectional formatting characters.
pub fn required_id<'a>(
    body: &'a Map<String, Value>,
    field: &'static str,
    max: usize,
    errors: &mut ValidationErrors,
) -> Option<&'a str> {
    let id = required_str(body, field, errors)?;
    let raw_chars = body
        .get(field)
        .and_then(Value::as_str)
        .map_or(0, |r| r.chars().count());
    if raw_chars > max {
        errors.add(
            field,
            format!(
                "The {} field must not be greater than {max} characters.",
                label(field)
            ),
        );
        return None;
    }
    if has_forbidden_chars(id) {
        errors.add(
            field,
            format!(
                "The {} field must not contain control or bidirectional formatting characters.",
                label(field)
            ),
        );
        return None;
    }
    Some(id)
}

/// What an optional text may hold, and so what its message says.
#[derive(Debug, Clone, Copy)]
pub enum TextRule {
    /// At most this many characters as sent, none of them a control or a
    /// bidi mark (the contract's v2 details).
    Printable(usize),
    /// At most this many characters as sent (the job events' legacy rule).
    Chars(usize),
}

/// An optional text, trimmed; blank is absent. Over its limit (counted as
/// sent) it is refused whatever it holds.
pub fn optional_text(
    body: &Map<String, Value>,
    field: &'static str,
    rule: TextRule,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let raw = optional_str(body, field, errors)?;
    let trimmed = raw.trim();
    let chars = raw.chars().count();
    let refusal = match rule {
        TextRule::Printable(max) if chars > max || has_forbidden_chars(trimmed) => Some(format!(
            "The {} field must be at most {max} printable characters.",
            label(field)
        )),
        TextRule::Chars(max) if chars > max => Some(format!(
            "The {} field must not be greater than {max} characters.",
            label(field)
        )),
        _ => None,
    };
    if let Some(message) = refusal {
        errors.add(field, message);
        return None;
    }
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// Which integers an optional integer field takes, and so its message.
#[derive(Debug, Clone, Copy)]
pub enum IntRule {
    /// `min` or more; anything else "must be an integer of at least min"
    /// (the job events' legacy message).
    AtLeast(i64),
    /// `min..=max`: "must be an integer", then "must be between".
    Between(i64, i64),
}

/// An optional JSON integer (`"5"` and 1.5 are refused); `None` when
/// absent, null or refused (recorded).
pub fn optional_int(
    body: &Map<String, Value>,
    field: &'static str,
    rule: IntRule,
    errors: &mut ValidationErrors,
) -> Option<i64> {
    let value = body.get(field).filter(|v| !v.is_null())?;
    let n = value.as_i64();
    let refusal = match (rule, n) {
        (IntRule::AtLeast(min), Some(n)) if n >= min => None,
        (IntRule::AtLeast(min), _) => Some(format!(
            "The {} field must be an integer of at least {min}.",
            label(field)
        )),
        (IntRule::Between(min, max), Some(n)) if (min..=max).contains(&n) => None,
        (IntRule::Between(min, max), Some(_)) => Some(format!(
            "The {} field must be between {min} and {max}.",
            label(field)
        )),
        (IntRule::Between(..), None) => {
            Some(format!("The {} field must be an integer.", label(field)))
        }
    };
    match refusal {
        Some(message) => {
            errors.add(field, message);
            None
        }
        None => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read<T>(
        body: Value,
        reader: impl FnOnce(&Map<String, Value>, &mut ValidationErrors) -> Option<T>,
    ) -> (Option<T>, Vec<String>) {
        let mut errors = ValidationErrors::default();
        let got = reader(body.as_object().expect("object"), &mut errors);
        (got, errors.errors.into_values().flatten().collect())
    }

    #[test]
    fn an_operator_id_is_trimmed_of_blanks_but_never_of_controls() {
        assert_eq!(operator_id(" m-1 ", 64), Some("m-1"));
        assert_eq!(operator_id("\u{b}m-1", 64), None, "a vertical tab");
        assert_eq!(operator_id("m-1\t", 64), None, "a tab");
        assert_eq!(operator_id("m\u{202e}1", 64), None, "a bidi override");
        assert_eq!(operator_id("   ", 64), None);
        assert_eq!(operator_id("abcd", 3), None);
    }

    #[test]
    fn a_required_string_is_trimmed_and_blank_is_missing() {
        let f = |b: &Map<String, Value>, e: &mut ValidationErrors| {
            required_str(b, "entity_id", e).map(str::to_string)
        };
        assert_eq!(
            read(json!({"entity_id": " m-1 "}), f),
            (Some("m-1".into()), vec![])
        );
        for missing in [
            json!({}),
            json!({"entity_id": null}),
            json!({"entity_id": "  "}),
        ] {
            assert_eq!(
                read(missing, f),
                (None, vec!["The entity id field is required.".to_string()])
            );
        }
        assert_eq!(
            read(json!({"entity_id": 7}), f),
            (
                None,
                vec!["The entity id field must be a string.".to_string()]
            )
        );
    }

    #[test]
    fn a_required_id_counts_its_padding_and_refuses_controls() {
        let f = |b: &Map<String, Value>, e: &mut ValidationErrors| {
            required_id(b, "event_id", 4, e).map(str::to_string)
        };
        assert_eq!(
            read(json!({"event_id": "abcd"}), f),
            (Some("abcd".into()), vec![])
        );
        assert_eq!(
            read(json!({"event_id": " abcd"}), f),
            (
                None,
                vec!["The event id field must not be greater than 4 characters.".into()]
            )
        );
        assert_eq!(
            read(json!({"event_id": "a\u{202e}b"}), f),
            (
                None,
                vec![
                    "The event id field must not contain control or bidirectional formatting characters."
                        .into()
                ]
            )
        );
    }

    #[test]
    fn texts_follow_their_rule_and_blank_is_absent() {
        let printable = |b: &Map<String, Value>, e: &mut ValidationErrors| {
            optional_text(b, "title", TextRule::Printable(3), e)
        };
        let chars = |b: &Map<String, Value>, e: &mut ValidationErrors| {
            optional_text(b, "queue", TextRule::Chars(3), e)
        };
        assert_eq!(
            read(json!({"title": " ab"}), printable),
            (Some("ab".into()), vec![])
        );
        assert_eq!(read(json!({"title": "  "}), printable), (None, vec![]));
        assert_eq!(
            read(json!({"title": "a\u{7}"}), printable),
            (
                None,
                vec!["The title field must be at most 3 printable characters.".into()]
            )
        );
        assert_eq!(
            read(json!({"queue": "a\u{7}"}), chars),
            (Some("a\u{7}".into()), vec![])
        );
        assert_eq!(
            read(json!({"queue": "abcd"}), chars),
            (
                None,
                vec!["The queue field must not be greater than 3 characters.".into()]
            )
        );
    }

    #[test]
    fn integers_follow_their_rule() {
        let at_least = |b: &Map<String, Value>, e: &mut ValidationErrors| {
            optional_int(b, "attempt", IntRule::AtLeast(1), e)
        };
        let between = |b: &Map<String, Value>, e: &mut ValidationErrors| {
            optional_int(b, "season", IntRule::Between(0, 9), e)
        };
        assert_eq!(read(json!({"attempt": 2}), at_least), (Some(2), vec![]));
        assert_eq!(read(json!({"attempt": null}), at_least), (None, vec![]));
        for bad in [
            json!({"attempt": 0}),
            json!({"attempt": "2"}),
            json!({"attempt": 1.5}),
        ] {
            assert_eq!(
                read(bad, at_least),
                (
                    None,
                    vec!["The attempt field must be an integer of at least 1.".into()]
                )
            );
        }
        assert_eq!(
            read(json!({"season": 10}), between),
            (
                None,
                vec!["The season field must be between 0 and 9.".into()]
            )
        );
        assert_eq!(
            read(json!({"season": "1"}), between),
            (None, vec!["The season field must be an integer.".into()])
        );
    }

    #[test]
    fn the_summary_names_the_first_message_and_counts_the_rest() {
        let mut errors = ValidationErrors::default();
        errors.add("a", "A is bad.".into());
        errors.add("b", "B is bad.".into());
        errors.add("b", "B is worse.".into());
        assert_eq!(errors.finish().message, "A is bad. (and 2 more errors)");
    }
}
