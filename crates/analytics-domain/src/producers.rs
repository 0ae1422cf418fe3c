//! The bodies other producers already send, mapped onto the contract so
//! they go through the one validation:
//!
//! | shape | told apart by | sends |
//! |---|---|---|
//! | contract (v1/v2) | anything else | `event_id`, `entity_type`, `entity_id`, `action`, `occurred_at`… |
//! | video player | `video_id` | `event_type` (`video_start`…), `user_id`, `session_id`, `properties` |
//! | viewing service | `movie_id` and `event_type` | `event_type` (`start`/`progress`/`finish`), `position_seconds`, `metadata` |
//! | stream message | `movie_id` and `action` | `action` (`stream.start`…), `timestamp`, `position_seconds` |
//!
//! None of the three sends an `event_id`. When the body carries its own
//! time (`timestamp`), the id is derived from the whole body, so a message
//! delivered twice is recognised as a duplicate; without one the event is
//! dated on arrival and gets a fresh id, so a retried request counts twice
//! (a producer that retries should send `event_id`).

use serde_json::{Map, Value};

use chrono::{DateTime, Utc};

use crate::event::{canonical_object, Event, EventRules, ValueLimits};
use crate::hash::fnv1a64;
use crate::validation::ValidationErrors;
use crate::vocabulary::Domain;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    Contract,
    VideoPlayer,
    ViewingService,
    StreamMessage,
}

impl Shape {
    pub fn of(body: &Map<String, Value>) -> Shape {
        if body.contains_key("video_id") {
            Shape::VideoPlayer
        } else if body.contains_key("movie_id") && body.contains_key("action") {
            Shape::StreamMessage
        } else if body.contains_key("movie_id") {
            Shape::ViewingService
        } else {
            Shape::Contract
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Shape::Contract => "contract",
            Shape::VideoPlayer => "video_player",
            Shape::ViewingService => "viewing_service",
            Shape::StreamMessage => "stream_message",
        }
    }

    /// (contract field, this shape's field) where the names differ.
    fn renames(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Shape::Contract => &[],
            Shape::VideoPlayer => &[
                ("entity_id", "video_id"),
                ("action", "event_type"),
                ("occurred_at", "timestamp"),
            ],
            Shape::ViewingService => &[
                ("entity_id", "movie_id"),
                ("action", "event_type"),
                ("occurred_at", "timestamp"),
                ("properties", "metadata"),
            ],
            Shape::StreamMessage => &[("entity_id", "movie_id"), ("occurred_at", "timestamp")],
        }
    }
}

/// A body in the contract's terms, and how to name fields back to its
/// producer.
#[derive(Debug, Clone)]
pub struct Mapped {
    pub shape: Shape,
    pub body: Map<String, Value>,
    /// Producer fields sent beside the contract field they map onto
    /// (`metadata` and `properties`): refused rather than one dropped.
    clashes: Vec<(&'static str, &'static str)>,
}

impl Mapped {
    /// Validates the mapped body; errors name the producer's fields.
    pub fn validate(
        &self,
        rules: &EventRules,
        now: DateTime<Utc>,
        limits: &ValueLimits,
    ) -> Result<Event, ValidationErrors> {
        let result = rules.validate(&self.body, now, limits);
        if self.clashes.is_empty() {
            return result.map_err(|e| self.name_errors(e));
        }
        let mut errors = result.err().unwrap_or_default();
        for (ours, theirs) in &self.clashes {
            errors.add(
                theirs,
                format!(
                    "The {} field cannot be sent with the {} field.",
                    theirs.replace('_', " "),
                    ours.replace('_', " ")
                ),
            );
        }
        Err(self.name_errors(errors))
    }

    /// Renames a contract field in `errors` to the producer's name for it.
    fn name_errors(&self, mut errors: ValidationErrors) -> ValidationErrors {
        for (ours, theirs) in self.shape.renames() {
            if let Some(messages) = errors.errors.remove(ours) {
                let messages = messages
                    .into_iter()
                    .map(|m| m.replace(&ours.replace('_', " "), &theirs.replace('_', " ")))
                    .collect();
                errors.errors.insert(theirs, messages);
            }
        }
        errors.finish()
    }
}

/// Maps any accepted shape onto the contract. `now` dates a body without
/// a time; `fresh_id` names an event that cannot be given a derived id.
pub fn to_contract(
    body: Map<String, Value>,
    default_domain: &Domain,
    now: &str,
    fresh_id: impl FnOnce() -> String,
) -> Mapped {
    let shape = Shape::of(&body);
    if shape == Shape::Contract {
        return Mapped {
            shape,
            body,
            clashes: Vec::new(),
        };
    }
    let derived_id = body
        .get("timestamp")
        .filter(|t| !t.is_null())
        .map(|_| derive_id(shape, &body));
    let mut out = body;
    let mut clashes = Vec::new();
    for (ours, theirs) in shape.renames() {
        if out.contains_key(*ours) && out.contains_key(*theirs) {
            clashes.push((*ours, *theirs));
        } else if let Some(v) = out.remove(*theirs) {
            out.insert(ours.to_string(), v);
        }
    }
    out.entry("domain")
        .or_insert_with(|| default_domain.as_str().into());
    // Every shape is about a film; an alias implies it, a bare canonical
    // name (`seek`) does not.
    out.entry("entity_type").or_insert_with(|| "movie".into());
    out.entry("occurred_at").or_insert_with(|| now.into());
    if !out.contains_key("event_id") {
        let id = derived_id.unwrap_or_else(fresh_id);
        out.insert("event_id".into(), id.into());
    }
    Mapped {
        shape,
        body: out,
        clashes,
    }
}

/// `d-` and a hash of the shape and every field (keys sorted at every
/// level): the same message always gets the same id.
fn derive_id(shape: Shape, body: &Map<String, Value>) -> String {
    let joined = canonical_object(body);
    let h1 = fnv1a64(&[shape.as_str().as_bytes(), joined.as_bytes()]);
    let h2 = fnv1a64(&[joined.as_bytes(), shape.as_str().as_bytes()]);
    format!("d-{h1:016x}{h2:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::{Action, EntityType};
    use serde_json::json;

    const NOW: &str = "2026-02-19T12:00:00Z";

    #[test]
    fn a_shape_serializes_as_its_name() {
        for shape in [
            Shape::Contract,
            Shape::VideoPlayer,
            Shape::ViewingService,
            Shape::StreamMessage,
        ] {
            assert_eq!(json!(shape), json!(shape.as_str()));
        }
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().expect("object").clone()
    }

    fn validate(body: Value) -> Result<crate::Event, ValidationErrors> {
        let rules = EventRules::default();
        let mapped = to_contract(map(body), &rules.default_domain, NOW, || "fresh-1".into());
        let now: DateTime<Utc> = NOW.parse().expect("now");
        mapped.validate(&rules, now, &ValueLimits::contract())
    }

    #[test]
    fn the_video_players_body_is_accepted_as_is() {
        let e = validate(json!({
            "event_type": "video_start", "user_id": "user_123", "session_id": "session_456",
            "video_id": "video_789",
            "properties": {"quality": "720p", "device_type": "desktop", "browser": "chrome"}
        }))
        .expect("valid");
        assert_eq!(e.action, Action::Start);
        assert_eq!(e.entity.entity_type, EntityType::Movie);
        assert_eq!(e.entity.entity_id, "video_789");
        assert_eq!(e.event_id, "fresh-1");
        assert_eq!(e.occurred_at.to_rfc3339(), "2026-02-19T12:00:00+00:00");
        assert_eq!(e.details.properties["quality"], "720p");
    }

    #[test]
    fn the_viewing_services_body_and_its_metadata_are_accepted() {
        let e = validate(json!({
            "user_id": "0b6f1c2e-0000-4000-8000-000000000001",
            "movie_id": "0b6f1c2e-0000-4000-8000-000000000002",
            "event_type": "finish", "position_seconds": 3600,
            "session_id": "0b6f1c2e-0000-4000-8000-000000000003", "metadata": {"device": "tv"}
        }))
        .expect("valid");
        assert_eq!(e.action, Action::Finish);
        assert_eq!(e.details.position_seconds, Some(3600));
        assert_eq!(e.details.properties["device"], "tv");
    }

    #[test]
    fn a_stream_message_gets_an_id_derived_from_its_content() {
        let msg = json!({"user_id": "u", "movie_id": "m", "action": "stream_start",
                         "timestamp": "2026-02-19T10:30:00Z", "position_seconds": 0,
                         "session_id": "s"});
        let a = validate(msg.clone()).expect("valid");
        let b = validate(msg).expect("valid");
        assert_eq!(a.action, Action::Start);
        assert_eq!(a.occurred_at.to_rfc3339(), "2026-02-19T10:30:00+00:00");
        assert!(a.event_id.starts_with("d-"));
        assert_eq!(a.event_id, b.event_id, "a redelivery is a duplicate");
        let later = validate(
            json!({"user_id": "u", "movie_id": "m", "action": "stream_start",
                                    "timestamp": "2026-02-19T10:31:00Z"}),
        )
        .expect("valid");
        assert_ne!(a.event_id, later.event_id);
    }

    #[test]
    fn errors_name_the_producers_own_fields() {
        let err =
            validate(json!({"video_id": "", "event_type": "video_explode"})).expect_err("invalid");
        assert_eq!(
            err.errors.keys().copied().collect::<Vec<_>>(),
            ["event_type", "video_id"]
        );
        assert_eq!(err.errors["video_id"], ["The video id field is required."]);
        let err = validate(json!({"movie_id": "m", "action": "stream.stop",
                                  "timestamp": "yesterday"}))
        .expect_err("invalid");
        assert_eq!(
            err.errors.keys().copied().collect::<Vec<_>>(),
            ["timestamp"]
        );
        assert!(err.message.starts_with("The timestamp field must be"));
    }

    #[test]
    fn a_producer_field_beside_the_field_it_maps_onto_is_refused() {
        let err = validate(json!({"movie_id": "m", "event_type": "start",
                                  "metadata": {}, "properties": {"a": 1}}))
        .expect_err("ambiguous");
        assert_eq!(
            err.errors["metadata"],
            ["The metadata field cannot be sent with the properties field."]
        );
    }

    #[test]
    fn contract_bodies_pass_through_untouched() {
        let body = map(json!({"event_id": "e", "movie_id_hint": 1}));
        let mapped = to_contract(
            body.clone(),
            &EventRules::default().default_domain,
            NOW,
            || unreachable!("a contract body names its own id"),
        );
        assert_eq!(mapped.shape, Shape::Contract);
        assert_eq!(mapped.body, body);
    }
}
