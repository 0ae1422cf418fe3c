//! Job telemetry contract (the fields the existing queue workers send): one queue job attempt's
//! lifecycle event, validated with every failing field named.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::validation::{
    has_forbidden_chars, label, optional_int, optional_str, optional_text, IntRule, TextRule,
    ValidationErrors,
};

pub const MAX_ERROR_MESSAGE_CHARS: usize = 500;
/// At most this many `payload_meta` properties.
pub const MAX_PAYLOAD_META: usize = 50;
/// At most this many characters in a job event's text fields.
pub const MAX_TEXT: usize = 255;
/// At most this many bytes in a job event's URL.
pub const MAX_URL_BYTES: usize = 2048;

/// The `event_type` of the rate alerts telemetry records (one document per
/// site, second and level reached): stored beside the job events, not one
/// a producer sends.
pub const RATE_ALERT_EVENT_TYPE: &str = "rate_limit_exceeded";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobEventType {
    Started,
    Completed,
    Failed,
    Retrying,
    RateLimited,
}

impl JobEventType {
    pub const ALL: [JobEventType; 5] = [
        JobEventType::Started,
        JobEventType::Completed,
        JobEventType::Failed,
        JobEventType::Retrying,
        JobEventType::RateLimited,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            JobEventType::Started => "started",
            JobEventType::Completed => "completed",
            JobEventType::Failed => "failed",
            JobEventType::Retrying => "retrying",
            JobEventType::RateLimited => "rate_limited",
        }
    }

    /// The legacy `status` of the event (failed jobs are `failed`, not
    /// `completed` + status as the PHP module stored them).
    pub fn status(self) -> &'static str {
        match self {
            JobEventType::Started => "running",
            JobEventType::Completed => "success",
            JobEventType::Failed => "failed",
            JobEventType::Retrying => "retrying",
            JobEventType::RateLimited => "rate_limited",
        }
    }

    /// Events that end an attempt and so carry its duration.
    pub fn ends_attempt(self) -> bool {
        matches!(self, JobEventType::Completed | JobEventType::Failed)
    }
}

/// A validated job event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobEvent {
    pub event_type: JobEventType,
    pub job_uuid: String,
    pub job_name: String,
    pub queue: String,
    pub connection: Option<String>,
    pub attempt: u32,
    pub site: String,
    pub source: String,
    pub url: Option<String>,
    pub timestamp: DateTime<FixedOffset>,
    pub duration_ms: Option<i64>,
    pub error_class: Option<String>,
    pub error_code: Option<i64>,
    pub error_message_short: Option<String>,
    pub timeout_ms_observed: Option<i64>,
    pub worker_host: Option<String>,
    pub payload_meta: BTreeMap<String, Value>,
}

fn text(
    body: &Map<String, Value>,
    field: &'static str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    optional_text(body, field, TextRule::Chars(MAX_TEXT), errors)
}

/// A text the event cannot do without.
fn required_text(
    body: &Map<String, Value>,
    field: &'static str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let text = text(body, field, errors);
    if text.is_none() && !errors.has(field) {
        errors.add(field, format!("The {} field is required.", label(field)));
    }
    text
}

fn integer(
    body: &Map<String, Value>,
    field: &'static str,
    min: i64,
    errors: &mut ValidationErrors,
) -> Option<i64> {
    optional_int(body, field, IntRule::AtLeast(min), errors)
}

/// `after N milliseconds` in an error message (the legacy timeout probe).
pub fn timeout_in_message(message: &str) -> Option<i64> {
    let lower = message.to_ascii_lowercase();
    let at = lower.find(" milliseconds")?;
    let digits: String = lower[..at]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    let before = lower[..at].len().checked_sub(digits.len())?;
    if !lower[..before].ends_with("after ") {
        return None;
    }
    digits.chars().rev().collect::<String>().parse().ok()
}

/// Validates a decoded JSON object at time `now`.
pub fn validate(
    body: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<JobEvent, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let event_type = event_type(body, &mut errors);
    let job_uuid = required_text(body, "job_uuid", &mut errors);
    let job_name = required_text(body, "job_name", &mut errors);
    let queue = text(body, "queue", &mut errors).unwrap_or_else(|| "default".into());
    let connection = text(body, "connection", &mut errors);
    let attempt = integer(body, "attempt", 1, &mut errors).unwrap_or(1);
    let sent_site = text(body, "site", &mut errors);
    let sent_source = text(body, "source", &mut errors);
    let url = url(body, &mut errors);
    let timestamp = timestamp(body, now, &mut errors);
    let duration_ms = integer(body, "duration_ms", 0, &mut errors);
    let error_class = text(body, "error_class", &mut errors);
    let error_code = error_code(body, &mut errors);
    // `error_message_short`, else the full `error_message`; both must be
    // strings (or absent) whichever is used.
    let short = error_message(body, "error_message_short", &mut errors);
    let full = error_message(body, "error_message", &mut errors);
    let error_message_short = short.or(full);
    let timeout_ms_observed = integer(body, "timeout_ms_observed", 0, &mut errors)
        .or_else(|| error_message_short.as_deref().and_then(timeout_in_message));
    let worker_host = text(body, "worker_host", &mut errors);
    let payload_meta = payload_meta(body, &mut errors);
    match (event_type, job_uuid, job_name, timestamp) {
        (Some(event_type), Some(job_uuid), Some(job_name), Some(timestamp))
            if errors.errors.is_empty() =>
        {
            let site = crate::job_signals::resolve_site(
                sent_site.as_deref().or(sent_source.as_deref()),
                url.as_deref(),
                &payload_meta,
                &job_name,
            );
            Ok(JobEvent {
                source: sent_source.unwrap_or_else(|| site.clone()),
                event_type,
                job_uuid,
                job_name,
                queue,
                connection,
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                site,
                url,
                timestamp,
                duration_ms,
                error_class,
                error_code,
                error_message_short,
                timeout_ms_observed,
                worker_host,
                payload_meta,
            })
        }
        _ => Err(errors.finish()),
    }
}

fn event_type(body: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<JobEventType> {
    let Some(sent) = body.get("event_type").and_then(Value::as_str) else {
        errors.add("event_type", "The event type field is required.".into());
        return None;
    };
    let found = JobEventType::ALL.into_iter().find(|e| e.as_str() == sent);
    if found.is_none() {
        errors.add("event_type", "The selected event type is invalid.".into());
    }
    found
}

fn url(body: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<String> {
    let raw = optional_str(body, "url", errors)?;
    if raw.len() > MAX_URL_BYTES {
        errors.add(
            "url",
            "The url field must not be greater than 2048 characters.".into(),
        );
        return None;
    }
    Some(raw.trim().to_string()).filter(|u| !u.is_empty())
}

/// When the attempt's event happened: RFC 3339 with an offset, at most 5
/// minutes ahead of `now` (a worker's clock may run a little fast).
fn timestamp(
    body: &Map<String, Value>,
    now: DateTime<Utc>,
    errors: &mut ValidationErrors,
) -> Option<DateTime<FixedOffset>> {
    let Some(raw) = body.get("timestamp").and_then(Value::as_str) else {
        errors.add("timestamp", "The timestamp field is required.".into());
        return None;
    };
    let message = match DateTime::parse_from_rfc3339(raw) {
        Ok(t) if t.signed_duration_since(now) <= chrono::Duration::minutes(5) => return Some(t),
        Ok(_) => "The timestamp field must not be more than 5 minutes in the future.",
        Err(_) => "The timestamp field must be an RFC 3339 date-time with an offset.",
    };
    errors.add("timestamp", message.into());
    None
}

fn error_code(body: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<i64> {
    match body.get("error_code") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) if n.is_i64() => n.as_i64(),
        // Legacy: a non-numeric code is recorded as none, not refused.
        Some(Value::String(s)) => s.trim().parse().ok(),
        Some(_) => {
            errors.add(
                "error_code",
                "The error code field must be an integer.".into(),
            );
            None
        }
    }
}

/// An error message, cut to [`MAX_ERROR_MESSAGE_CHARS`]; empty is absent.
fn error_message(
    body: &Map<String, Value>,
    field: &'static str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let raw = optional_str(body, field, errors)?;
    (!raw.is_empty()).then(|| raw.chars().take(MAX_ERROR_MESSAGE_CHARS).collect())
}

fn payload_meta(
    body: &Map<String, Value>,
    errors: &mut ValidationErrors,
) -> BTreeMap<String, Value> {
    match body.get("payload_meta") {
        None | Some(Value::Null) => BTreeMap::new(),
        // A key is stored as a BSON name, which cannot hold a NUL; no
        // control characters at all, as in ids.
        Some(Value::Object(m))
            if m.values().all(|v| !v.is_object() && !v.is_array())
                && m.len() <= MAX_PAYLOAD_META
                && !m.keys().any(|k| has_forbidden_chars(k)) =>
        {
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        }
        Some(_) => {
            errors.add(
                "payload_meta",
                "The payload meta field must be an object of at most 50 scalar values, its keys without control characters.".into(),
            );
            BTreeMap::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Vec<&'static str> {
        match validate(v.as_object().expect("object"), Utc::now()) {
            Ok(_) => vec![],
            Err(e) => e.errors.keys().copied().collect(),
        }
    }

    #[test]
    fn a_failed_job_keeps_its_legacy_fields_and_derives_the_timeout() {
        let e = validate(
            json!({
                "event_type": "failed", "job_uuid": "j-1", "job_name": "OnejavJob", "attempt": 2,
                "site": "onejav", "timestamp": Utc::now().to_rfc3339(), "error_class": "ConnectException",
                "error_code": "429", "error_message": format!("cURL error 28: timed out after 30000 milliseconds {}", "x".repeat(600))
            })
            .as_object()
            .expect("object"),
            Utc::now(),
        )
        .expect("valid");
        assert_eq!(e.event_type.status(), "failed");
        assert_eq!(
            (e.attempt, e.error_code, e.timeout_ms_observed),
            (2, Some(429), Some(30000))
        );
        assert_eq!(
            e.error_message_short.map(|m| m.chars().count()),
            Some(MAX_ERROR_MESSAGE_CHARS)
        );
        assert_eq!((e.queue.as_str(), e.source.as_str()), ("default", "onejav"));
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(
            fields(json!({})),
            ["event_type", "job_name", "job_uuid", "timestamp"]
        );
        assert_eq!(
            fields(
                json!({"event_type": "exploded", "job_uuid": "j", "job_name": "n", "timestamp": "soon",
                          "attempt": 0, "duration_ms": -1, "payload_meta": {"a": [1]}})
            ),
            [
                "attempt",
                "duration_ms",
                "event_type",
                "payload_meta",
                "timestamp"
            ]
        );
        // A NUL cannot be stored in a BSON key.
        assert_eq!(
            fields(
                json!({"event_type": "exploded", "job_uuid": "j", "job_name": "n", "timestamp": "soon",
                          "attempt": 0, "duration_ms": -1, "payload_meta": {"Y\u{0}x": 1}})
            ),
            [
                "attempt",
                "duration_ms",
                "event_type",
                "payload_meta",
                "timestamp"
            ]
        );
    }

    #[test]
    fn the_timeout_probe_needs_after_n_milliseconds() {
        assert_eq!(
            timeout_in_message("Operation timed out After 1500 milliseconds"),
            Some(1500)
        );
        assert_eq!(timeout_in_message("took 1500 milliseconds"), None);
        assert_eq!(timeout_in_message("no timeout"), None);
    }
}
