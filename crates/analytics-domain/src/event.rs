//! The event contract: one validation pass that reports every bad field at
//! once, with the messages the existing producers already know (the
//! Laravel-style `{"message", "errors": {field: [...]}}` of the PHP system
//! this replaces). Contract v1 is the required fields below; v2 adds the
//! vocabulary of [`crate::vocabulary`], its producers' aliases, and the
//! optional fields of [`crate::details`].

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

pub use crate::canonical::{canonical_json, canonical_object};
use crate::details::{query_entity_id, Details};
use crate::hash::fnv1a64;
use crate::keys::EntityKey;
use crate::time::BucketMode;
use crate::validation::{has_forbidden_chars, required_id, required_str, ValidationErrors};
pub use crate::value_limits::{ValueLimits, MAX_VALUE};
use crate::vocabulary::{Action, Domain, EntityType, ValueRule};

pub const MAX_ID_CHARS: usize = 255;
pub const MAX_USER_ID_CHARS: usize = 64;

/// The user an event was attributed to by its producer. Stored, never trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum UserId {
    Int(i64),
    Text(String),
}

/// A validated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event_id: String,
    pub entity: EntityKey,
    pub action: Action,
    pub value: i64,
    pub occurred_at: DateTime<FixedOffset>,
    pub user_id: Option<UserId>,
    pub details: Details,
}

impl Event {
    /// What a retry of this same event must carry. A reused id with another
    /// fingerprint is a conflict, not a duplicate. The v2 fields join the
    /// fingerprint only when present, so a v1 event's is what it always was.
    pub fn fingerprint(&self) -> String {
        format!("{:016x}", self.fingerprint_hash())
    }

    /// [`Event::fingerprint`] as 8 bytes, as the dedupe entries keep it.
    pub fn fingerprint_bytes(&self) -> [u8; 8] {
        self.fingerprint_hash().to_be_bytes()
    }

    fn fingerprint_hash(&self) -> u64 {
        let value = self.value.to_string();
        let mut extra = Map::new();
        self.details.to_json(&mut extra);
        let extra = if extra.is_empty() {
            String::new()
        } else {
            canonical_object(&extra)
        };
        let mut parts: Vec<&[u8]> = vec![
            self.entity.domain.as_str().as_bytes(),
            self.entity.entity_type.as_str().as_bytes(),
            self.entity.entity_id.as_bytes(),
            self.action.as_str().as_bytes(),
            value.as_bytes(),
        ];
        if !extra.is_empty() {
            parts.push(extra.as_bytes());
        }
        fnv1a64(&parts)
    }

    /// Who this event makes a unique viewer: the user, or for a guest the
    /// session; `None` for an action that does not count viewers or an
    /// event with neither id.
    pub fn viewer(&self) -> Option<String> {
        if !self.action.spec().viewer {
            return None;
        }
        match (&self.user_id, &self.details.session_id) {
            (Some(UserId::Int(i)), _) => Some(format!("u:{i}")),
            (Some(UserId::Text(t)), _) => Some(format!("u:{t}")),
            (None, Some(s)) => Some(format!("s:{s}")),
            (None, None) => None,
        }
    }

    /// The normalised event (aliases resolved, defaults filled, strings
    /// trimmed): what the dry run answers and the raw event log stores.
    pub fn to_json(&self, mode: &BucketMode) -> Map<String, Value> {
        let mut out = Map::new();
        let hour = mode.local_hour(&self.occurred_at);
        out.insert("event_id".into(), self.event_id.as_str().into());
        out.insert("domain".into(), self.entity.domain.as_str().into());
        out.insert(
            "entity_type".into(),
            self.entity.entity_type.as_str().into(),
        );
        out.insert("entity_id".into(), self.entity.entity_id.as_str().into());
        out.insert("action".into(), self.action.as_str().into());
        out.insert("value".into(), self.value.into());
        out.insert(
            "occurred_at".into(),
            self.occurred_at
                .with_timezone(&Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                .into(),
        );
        out.insert(
            "local_date".into(),
            hour.date.format("%Y-%m-%d").to_string().into(),
        );
        out.insert("local_hour".into(), hour.hour.into());
        if let Some(u) = &self.user_id {
            out.insert(
                "user_id".into(),
                serde_json::to_value(u).unwrap_or(Value::Null),
            );
        }
        self.details.to_json(&mut out);
        out
    }
}

/// The configurable part of the contract.
#[derive(Debug, Clone)]
pub struct EventRules {
    /// The domain of producers that do not name one (the video player's
    /// and the streaming service's events).
    pub default_domain: Domain,
    /// Accepted domains and the zone each one buckets in.
    pub domains: BTreeMap<Domain, BucketMode>,
    /// How far in the future `occurred_at` may be (clock skew).
    pub max_future: Duration,
    /// How old `occurred_at` may be.
    pub lateness: Lateness,
}

/// How old an event's `occurred_at` may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lateness {
    /// Live producers: at most this old. Kept below the 48 h dedupe window,
    /// so a replay after its marker expired is refused rather than counted
    /// again.
    Within(Duration),
    /// The import lane: on or after this instant (where the raw event log's
    /// retention begins: the log holds the imports' durable dedupe), or of
    /// any age when the log is kept forever (`None`).
    Since(Option<DateTime<Utc>>),
}

impl Default for EventRules {
    /// The contract's defaults: domain `jav` bucketed in UTC,
    /// 5 minutes of clock skew, 47 hours of lateness.
    fn default() -> Self {
        let jav = Domain::new("jav").expect("a valid domain name");
        EventRules {
            domains: BTreeMap::from([(jav.clone(), BucketMode::default())]),
            default_domain: jav,
            max_future: Duration::from_secs(300),
            lateness: Lateness::Within(Duration::from_secs(47 * 3600)),
        }
    }
}

impl EventRules {
    /// The same contract for the import lane: events back to `oldest`.
    pub fn for_import(&self, oldest: Option<DateTime<Utc>>) -> EventRules {
        EventRules {
            lateness: Lateness::Since(oldest),
            ..self.clone()
        }
    }

    pub fn bucket_mode(&self, domain: &Domain) -> BucketMode {
        self.domains.get(domain).copied().unwrap_or_default()
    }
}

impl EventRules {
    /// Validates a decoded JSON object against contract v1 at time `now`,
    /// with the `value` limits of the producer that sent it.
    pub fn validate(
        &self,
        body: &Map<String, Value>,
        now: DateTime<Utc>,
        limits: &ValueLimits,
    ) -> Result<Event, ValidationErrors> {
        let mut errors = ValidationErrors::default();

        let event_id = required_id(body, "event_id", MAX_ID_CHARS, &mut errors);

        let domain = self.domain(body, &mut errors);
        let (entity_type, action) = entity_type_and_action(body, &mut errors);

        let details = Details::validate(body, &mut errors);
        // A search names its query entity by the text searched.
        let entity_id = match (body.get("entity_id"), action, &details.query) {
            (None | Some(Value::Null), Some(Action::Search), Some(q)) => Some(query_entity_id(q)),
            _ => required_id(body, "entity_id", MAX_ID_CHARS, &mut errors).map(str::to_string),
        };

        let value = value(body, action, limits, &mut errors);
        let occurred_at = self.occurred_at(body, now, &mut errors);
        let user_id = user_id(body, &mut errors);

        match (
            event_id,
            domain,
            entity_type,
            entity_id,
            action,
            value,
            occurred_at,
            user_id,
        ) {
            (Some(e), Some(d), Some(t), Some(i), Some(a), Some(v), Some(o), Some(u))
                if errors.errors.is_empty() =>
            {
                Ok(Event {
                    event_id: e.to_string(),
                    entity: EntityKey {
                        domain: d,
                        entity_type: t,
                        entity_id: i,
                    },
                    action: a,
                    value: v,
                    occurred_at: o,
                    user_id: u,
                    details,
                })
            }
            _ => Err(errors.finish()),
        }
    }

    /// `domain`: one of the configured domains.
    fn domain(&self, body: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<Domain> {
        required_str(body, "domain", errors).and_then(|d| {
            let found = Domain::new(d).ok().filter(|d| self.domains.contains_key(d));
            if found.is_none() {
                errors.add("domain", "The selected domain is invalid.".into());
            }
            found
        })
    }

    fn occurred_at(
        &self,
        body: &Map<String, Value>,
        now: DateTime<Utc>,
        errors: &mut ValidationErrors,
    ) -> Option<DateTime<FixedOffset>> {
        let raw = required_str(body, "occurred_at", errors)?;
        let Ok(at) = DateTime::parse_from_rfc3339(raw) else {
            errors.add(
                "occurred_at",
                "The occurred at field must be an RFC 3339 date-time with an offset, e.g. 2026-02-19T10:00:00Z."
                    .into(),
            );
            return None;
        };
        let age = now.signed_duration_since(at);
        let max_future = chrono::Duration::from_std(self.max_future).unwrap_or_default();
        if -age > max_future {
            errors.add(
                "occurred_at",
                format!(
                    "The occurred at field must not be more than {} seconds in the future.",
                    self.max_future.as_secs()
                ),
            );
            return None;
        }
        let too_old = match self.lateness {
            Lateness::Within(limit) => {
                (age > chrono::Duration::from_std(limit).unwrap_or_default()).then(|| {
                    format!(
                        "The occurred at field must not be older than {} hours; \
                         older events go to the import route.",
                        limit.as_secs() / 3600
                    )
                })
            }
            Lateness::Since(Some(oldest)) => (at < oldest).then(|| {
                format!(
                    "The occurred at field must be on or after {}: older events \
                     are beyond the raw event log's retention (retention.raw_log_days).",
                    oldest.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                )
            }),
            Lateness::Since(None) => None,
        };
        if let Some(message) = too_old {
            errors.add("occurred_at", message);
            return None;
        }
        Some(at)
    }
}

/// `entity_type` and `action`: an action alias may imply the entity type
/// (`actor.viewed`, `video_start`), and an action must fit its type.
fn entity_type_and_action(
    body: &Map<String, Value>,
    errors: &mut ValidationErrors,
) -> (Option<EntityType>, Option<Action>) {
    let resolved = match body.get("action") {
        Some(Value::String(a)) => Action::resolve(a.trim()),
        _ => None,
    };
    let implied = resolved.and_then(|(_, t)| t);
    let entity_type = match (body.get("entity_type"), implied) {
        (None | Some(Value::Null), Some(t)) => Some(t),
        _ => required_str(body, "entity_type", errors).and_then(|t| {
            let found = EntityType::parse_from_producer(t);
            if found.is_none() {
                errors.add("entity_type", "The selected entity type is invalid.".into());
            }
            found
        }),
    };
    let action = required_str(body, "action", errors).and_then(|_| {
        let Some((action, _)) = resolved else {
            errors.add("action", "The selected action is invalid.".into());
            return None;
        };
        match entity_type {
            Some(t) if !action.fits(t) => {
                errors.add(
                    "action",
                    format!("The action {action} does not apply to entity type {t}."),
                );
                None
            }
            _ => Some(action),
        }
    });
    (entity_type, action)
}

/// `value`: a JSON integer (`"5"` and 1.5 are refused). For most actions
/// absent or null is 1 and the producer's limit for the action caps it; a
/// rating's value is its stars, 1..=5, and required.
fn value(
    body: &Map<String, Value>,
    action: Option<Action>,
    limits: &ValueLimits,
    errors: &mut ValidationErrors,
) -> Option<i64> {
    let rule = action.map_or(ValueRule::Times, |a| a.spec().value);
    let n = match body.get("value") {
        None | Some(Value::Null) if rule == ValueRule::Stars => {
            errors.add(
                "value",
                "The value field is required for a rating (1 to 5 stars).".into(),
            );
            return None;
        }
        None | Some(Value::Null) => return Some(1),
        Some(Value::Number(n)) => n.as_i64().or_else(|| n.as_u64().map(|_| i64::MAX)),
        Some(_) => None,
    };
    let max = match (rule, action) {
        (ValueRule::Stars, _) => 5,
        (ValueRule::Once, _) => 1,
        (ValueRule::Times, Some(a)) => limits.max(a),
        (ValueRule::Times, None) => MAX_VALUE,
    };
    match n {
        None => {
            errors.add("value", "The value field must be an integer.".into());
            None
        }
        Some(n) if n < 1 => {
            errors.add("value", "The value field must be at least 1.".into());
            None
        }
        Some(n) if n > max => {
            errors.add(
                "value",
                format!("The value field must not be greater than {max}."),
            );
            None
        }
        Some(n) => Some(n),
    }
}

/// `Some(None)` = absent or null; `None` = invalid (an error was recorded).
fn user_id(body: &Map<String, Value>, errors: &mut ValidationErrors) -> Option<Option<UserId>> {
    match body.get("user_id") {
        None | Some(Value::Null) => Some(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Some(Some(UserId::Int(i))),
            None => {
                errors.add(
                    "user_id",
                    "The user id field must be an integer or a string.".into(),
                );
                None
            }
        },
        Some(Value::String(s)) => {
            let raw_chars = s.chars().count();
            let s = s.trim();
            if s.is_empty() {
                Some(None)
            } else if raw_chars > MAX_USER_ID_CHARS || has_forbidden_chars(s) {
                errors.add(
                    "user_id",
                    format!(
                        "The user id field must be at most {MAX_USER_ID_CHARS} printable characters."
                    ),
                );
                None
            } else {
                Some(Some(UserId::Text(s.to_string())))
            }
        }
        Some(_) => {
            errors.add(
                "user_id",
                "The user id field must be an integer or a string.".into(),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-02-19T12:00:00Z")
            .expect("now")
            .with_timezone(&Utc)
    }

    fn valid() -> Value {
        json!({
            "event_id": "evt-1",
            "domain": "jav",
            "entity_type": "movie",
            "entity_id": "f6f7163c-4c8c-4ce8-bfe5-7dbd7574d273",
            "action": "view",
            "value": 1,
            "occurred_at": "2026-02-19T10:00:00Z",
            "user_id": 123
        })
    }

    fn check(patch: Value) -> Result<Event, ValidationErrors> {
        let mut body = valid();
        let obj = body.as_object_mut().expect("object");
        for (k, v) in patch.as_object().expect("patch") {
            if v == &json!("__absent__") {
                obj.remove(k);
            } else {
                obj.insert(k.clone(), v.clone());
            }
        }
        EventRules::default().validate(obj, now(), &ValueLimits::contract())
    }

    fn failing_fields(patch: Value) -> Vec<&'static str> {
        match check(patch) {
            Ok(_) => vec![],
            Err(e) => e.errors.keys().copied().collect(),
        }
    }

    #[test]
    fn a_valid_event_is_accepted_with_trimmed_strings() {
        let e = check(json!({"entity_id": "  m-1  ", "value": null})).expect("valid");
        assert_eq!(e.entity.entity_id, "m-1");
        assert_eq!(e.value, 1);
        assert_eq!(e.user_id, Some(UserId::Int(123)));
    }

    #[test]
    fn each_required_field_is_named_when_missing_empty_or_mistyped() {
        for field in [
            "event_id",
            "domain",
            "entity_type",
            "entity_id",
            "action",
            "occurred_at",
        ] {
            for bad in [
                json!("__absent__"),
                json!(null),
                json!(""),
                json!("   "),
                json!(123),
                json!(true),
            ] {
                assert_eq!(
                    failing_fields(json!({ field: bad.clone() })),
                    vec![field],
                    "{field} = {bad}"
                );
            }
        }
    }

    #[test]
    fn ids_may_be_255_characters_but_not_256() {
        let ok = "é".repeat(255);
        assert!(check(json!({"event_id": ok, "entity_id": "x".repeat(255)})).is_ok());
        assert_eq!(
            failing_fields(json!({"event_id": "x".repeat(256)})),
            vec!["event_id"]
        );
        assert_eq!(
            failing_fields(json!({"entity_id": "x".repeat(256)})),
            vec!["entity_id"]
        );
    }

    #[test]
    fn length_limits_count_the_id_as_sent() {
        let padded = format!(" {} ", "x".repeat(254));
        assert_eq!(
            failing_fields(json!({"entity_id": padded})),
            vec!["entity_id"]
        );
        assert!(check(json!({"entity_id": format!(" {} ", "x".repeat(253))})).is_ok());
    }

    #[test]
    fn opaque_entity_ids_are_kept_as_is() {
        let e = check(json!({"entity_id": "1' OR '1'='1"})).expect("valid");
        assert_eq!(e.entity.entity_id, "1' OR '1'='1");
    }

    #[test]
    fn control_and_bidi_characters_are_refused_in_every_id() {
        for bad in [
            "a\u{0}b",
            "a\nb",
            "evil\u{202E}gpj.exe",
            "a\u{2066}b",
            "a\u{200F}",
        ] {
            for field in ["event_id", "entity_id", "user_id"] {
                assert_eq!(
                    failing_fields(json!({ field: bad })),
                    vec![field],
                    "{field} = {bad:?}"
                );
            }
        }
        assert!(check(json!({"entity_id": "映画-ß-🎬"})).is_ok());
    }

    #[test]
    fn the_public_value_limit_is_per_action() {
        let limits = ValueLimits::new(BTreeMap::from([(Action::View, 1), (Action::Download, 3)]))
            .expect("limits");
        let run = |patch: Value| {
            let mut body = valid();
            for (k, v) in patch.as_object().expect("patch") {
                body[k] = v.clone();
            }
            EventRules::default().validate(body.as_object().expect("object"), now(), &limits)
        };
        assert!(run(json!({"value": 1})).is_ok());
        let err = run(json!({"value": 2})).expect_err("over the view limit");
        assert_eq!(
            err.errors["value"],
            ["The value field must not be greater than 1."]
        );
        assert!(run(json!({"action": "download", "value": 3})).is_ok());
        assert!(run(json!({"action": "download", "value": 4})).is_err());
        assert!(ValueLimits::new(BTreeMap::from([(Action::View, 0)])).is_err());
        assert!(ValueLimits::new(BTreeMap::from([(Action::View, 10_001)])).is_err());
    }

    #[test]
    fn unknown_vocabulary_is_refused() {
        assert_eq!(failing_fields(json!({"domain": "other"})), vec!["domain"]);
        assert_eq!(
            failing_fields(json!({"entity_type": "person"})),
            vec!["entity_type"]
        );
        assert_eq!(failing_fields(json!({"action": "explode"})), vec!["action"]);
        assert_eq!(
            failing_fields(json!({"entity_type": "site"})),
            vec!["entity_type"]
        );
        assert_eq!(failing_fields(json!({"action": "VIEW"})), vec!["action"]);
    }

    #[test]
    fn aliases_resolve_and_may_imply_the_entity_type() {
        let e =
            check(json!({"action": "actor.viewed", "entity_type": "__absent__"})).expect("valid");
        assert_eq!(
            (e.action, e.entity.entity_type),
            (Action::View, EntityType::Actor)
        );
        let e = check(json!({"action": "stream_stop"})).expect("valid");
        assert_eq!(e.action, Action::Finish);
        // An explicit type must still fit.
        assert_eq!(
            failing_fields(json!({"action": "video_start", "entity_type": "tag"})),
            vec!["action"]
        );
        // A canonical name implies nothing: the type stays required.
        assert_eq!(
            failing_fields(json!({"action": "seek", "entity_type": "__absent__"})),
            vec!["entity_type"]
        );
    }

    #[test]
    fn a_rating_needs_one_to_five_stars_and_once_actions_take_only_1() {
        assert_eq!(
            check(json!({"action": "rate", "value": 5}))
                .expect("valid")
                .value,
            5
        );
        for bad in [json!("__absent__"), json!(0), json!(6)] {
            assert_eq!(
                failing_fields(json!({"action": "rate", "value": bad.clone()})),
                vec!["value"],
                "{bad}"
            );
        }
        assert!(check(json!({"action": "like", "value": 1})).is_ok());
        assert_eq!(
            failing_fields(json!({"action": "like", "value": 2})),
            vec!["value"]
        );
    }

    #[test]
    fn a_search_is_named_by_its_query() {
        let e = check(
            json!({"action": "search.performed", "entity_type": "__absent__",
                             "entity_id": "__absent__", "query": " Tokyo  Drift "}),
        )
        .expect("valid");
        assert_eq!(e.entity.entity_type, EntityType::Query);
        assert_eq!(e.entity.entity_id, "tokyo drift");
        assert_eq!(e.details.query.as_deref(), Some("Tokyo  Drift"));
    }

    #[test]
    fn v2_fields_change_the_fingerprint_only_when_present() {
        let plain = check(json!({})).expect("valid");
        assert_eq!(
            plain.fingerprint(),
            "129348ff138d76cc",
            "the v1 fingerprint is stable"
        );
        let with_session = check(json!({"session_id": "s"})).expect("valid");
        assert_ne!(plain.fingerprint(), with_session.fingerprint());
        // Key order is not part of an event.
        let ab = check(json!({"properties": {"a": 1, "b": 2}})).expect("valid");
        let ba = check(json!({"properties": {"b": 2, "a": 1}})).expect("valid");
        assert_eq!(ab.fingerprint(), ba.fingerprint());
    }

    #[test]
    fn the_normalised_form_fills_defaults_and_local_time() {
        let e = check(json!({"value": "__absent__", "occurred_at": "2026-02-19T05:00:00-05:00"}))
            .expect("valid");
        let json = Value::Object(e.to_json(&BucketMode::default()));
        assert_eq!(json["value"], 1);
        assert_eq!(json["occurred_at"], "2026-02-19T10:00:00Z");
        assert_eq!(json["local_date"], "2026-02-19");
        assert_eq!(json["local_hour"], 10);
        assert_eq!(json["user_id"], 123);
    }

    #[test]
    fn an_action_must_fit_its_entity_type() {
        assert_eq!(
            failing_fields(json!({"entity_type": "actor", "action": "download"})),
            vec!["action"]
        );
        assert!(check(json!({"entity_type": "tag", "action": "view"})).is_ok());
    }

    #[test]
    fn value_must_be_an_integer_between_1_and_10000() {
        for bad in [
            json!(0),
            json!(-1),
            json!(10001),
            json!("one"),
            json!("5"),
            json!(1.5),
            json!(1e30),
            json!(u64::MAX),
        ] {
            assert_eq!(
                failing_fields(json!({"value": bad.clone()})),
                vec!["value"],
                "{bad}"
            );
        }
        for ok in [1, 100, 10000] {
            assert_eq!(check(json!({"value": ok})).expect("valid").value, ok);
        }
        assert_eq!(
            check(json!({"value": "__absent__"})).expect("valid").value,
            1
        );
    }

    #[test]
    fn occurred_at_must_be_rfc3339_within_the_window() {
        for bad in [
            "not-a-date",
            "2026-02-19",
            "Feb 19 2026",
            "2026-02-19T10:00:00",
            "2026-02-30T10:00:00Z",
        ] {
            assert_eq!(
                failing_fields(json!({"occurred_at": bad})),
                vec!["occurred_at"],
                "{bad}"
            );
        }
        // 5 minutes ahead is clock skew; 6 is the future.
        assert!(check(json!({"occurred_at": "2026-02-19T12:05:00Z"})).is_ok());
        assert_eq!(
            failing_fields(json!({"occurred_at": "2026-02-19T12:06:00Z"})),
            vec!["occurred_at"]
        );
        // 47 hours back is the lateness limit.
        assert!(check(json!({"occurred_at": "2026-02-17T13:00:00Z"})).is_ok());
        assert_eq!(
            failing_fields(json!({"occurred_at": "2026-02-17T12:59:59Z"})),
            vec!["occurred_at"]
        );
        assert!(check(json!({"occurred_at": "2026-02-19T05:00:00-05:00"})).is_ok());
    }

    #[test]
    fn user_id_may_be_an_integer_or_a_short_string() {
        assert_eq!(
            check(json!({"user_id": "u-9"})).expect("valid").user_id,
            Some(UserId::Text("u-9".into()))
        );
        assert_eq!(
            check(json!({"user_id": null})).expect("valid").user_id,
            None
        );
        assert_eq!(check(json!({"user_id": ""})).expect("valid").user_id, None);
        for bad in [json!(1.5), json!(true), json!([1]), json!("x".repeat(65))] {
            assert_eq!(
                failing_fields(json!({"user_id": bad.clone()})),
                vec!["user_id"],
                "{bad}"
            );
        }
    }

    #[test]
    fn every_failing_field_is_listed_with_a_summary_message() {
        let body = json!({"value": 0});
        let err = EventRules::default()
            .validate(
                body.as_object().expect("object"),
                now(),
                &ValueLimits::contract(),
            )
            .expect_err("invalid");
        assert_eq!(
            err.errors.keys().copied().collect::<Vec<_>>(),
            [
                "action",
                "domain",
                "entity_id",
                "entity_type",
                "event_id",
                "occurred_at",
                "value"
            ]
        );
        assert_eq!(
            err.message,
            "The action field is required. (and 6 more errors)"
        );
    }

    #[test]
    fn fingerprints_differ_by_entity_action_and_value() {
        let base = check(json!({})).expect("valid").fingerprint();
        assert_eq!(base.len(), 16);
        assert_eq!(
            base,
            check(json!({"occurred_at": "2026-02-19T11:00:00Z"}))
                .expect("valid")
                .fingerprint()
        );
        assert_ne!(
            base,
            check(json!({"entity_id": "other"}))
                .expect("valid")
                .fingerprint()
        );
        assert_ne!(
            base,
            check(json!({"action": "download"}))
                .expect("valid")
                .fingerprint()
        );
        assert_ne!(
            base,
            check(json!({"value": 2})).expect("valid").fingerprint()
        );
    }
}
