//! ingest-svc's contract as types: the event shapes it takes and the
//! answers it gives; `openapi.rs` derives the service's document from them.
//!
//! The answers are what the handlers serialize. The shapes only describe
//! the bodies: the handlers read a body field by field
//! (`analytics_domain::producers`), so that each bad field is named in the
//! 422 and the older producers' variants are taken. The kinds of field the
//! shapes share (an id, an action, a map of scalars) are schemas built from
//! the domain's own bounds.

use std::collections::BTreeMap;

use analytics_domain::details::{MAX_MAP_ENTRIES, MAX_MAP_VALUE_CHARS};
use analytics_domain::event::{MAX_ID_CHARS, MAX_USER_ID_CHARS};
use analytics_domain::producers::Shape;
use analytics_domain::vocabulary::ALIASES;
use analytics_domain::{Action, EntityType};
use analytics_runtime::openapi::ID_PATTERN;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, OneOfBuilder, Schema, SchemaFormat};
use utoipa::openapi::{KnownFormat, ObjectBuilder, Ref, RefOr, Type};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

/// A schema component built by hand (from the domain's constants) rather
/// than derived: `$name` is the type fields name and the component, and
/// `$description` documents both.
macro_rules! built_schema {
    ($name:ident, $description:literal, $build:expr) => {
        #[doc = $description]
        #[derive(Serialize)]
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                $build.description(Some($description)).into()
            }
        }
        impl ToSchema for $name {}
    };
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn names(names: impl IntoIterator<Item = &'static str>) -> ObjectBuilder {
    string().enum_values(Some(names))
}

/// A property value: a short string, a number, a boolean or null.
fn scalar() -> OneOfBuilder {
    OneOfBuilder::new()
        .item(string().max_length(Some(MAX_MAP_VALUE_CHARS)))
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .item(ObjectBuilder::new().schema_type(Type::Null))
}

/// An object of at most `MAX_MAP_ENTRIES` members, each one `values`.
fn map(values: Option<OneOfBuilder>) -> ObjectBuilder {
    let map = ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(MAX_MAP_ENTRIES));
    match values {
        Some(values) => map.additional_properties(Some(RefOr::T(Schema::OneOf(values.build())))),
        None => map,
    }
}

fn binary() -> ObjectBuilder {
    string().format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
}

built_schema!(
    Id,
    "An id: 1..255 characters without control characters or bidi marks (blanks around it are trimmed, a blank one refused).",
    string()
        .min_length(Some(1))
        .max_length(Some(MAX_ID_CHARS))
        .pattern(Some(ID_PATTERN))
);
built_schema!(
    DomainName,
    "One of the domains this service is configured with.",
    string()
);
built_schema!(
    ActionName,
    "An action of the vocabulary or an alias; it must apply to the entity type (the vocabulary: docs/events.md).",
    names(
        Action::ALL
            .iter()
            .map(|a| a.as_str())
            .chain(ALIASES.iter().map(|(alias, ..)| *alias)),
    )
);
built_schema!(
    EntityTypeName,
    "What the event is about (`site` is implied by the site-wide actions).",
    names(
        EntityType::ALL
            .iter()
            .filter(|t| **t != EntityType::Site)
            .map(|t| t.as_str()),
    )
);
built_schema!(
    UserId,
    "A signed-in user: a number or an id of up to 64 characters.",
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(i64::MIN))
                .maximum(Some(i64::MAX))
        )
        .item(
            string()
                .max_length(Some(MAX_USER_ID_CHARS))
                .pattern(Some(ID_PATTERN))
        )
);
built_schema!(
    Properties,
    "Scalar properties of the event.",
    map(Some(scalar()))
);
built_schema!(
    Filters,
    "A search's filters: scalars or short lists of them.",
    map(Some(
        OneOfBuilder::new().item(scalar()).item(
            ArrayBuilder::new()
                .max_items(Some(MAX_MAP_ENTRIES))
                .items(scalar()),
        ),
    ))
);
built_schema!(Metadata, "The viewing service's metadata.", map(None));
built_schema!(
    BeaconEvent,
    "The same JSON, as navigator.sendBeacon sends it.",
    string()
);
built_schema!(
    BeaconBatch,
    "The same JSON, as navigator.sendBeacon sends it.",
    string()
);
built_schema!(
    EventMessage,
    "An analytics.v1.Event (proto/analytics/v1/event.proto).",
    binary()
);
built_schema!(
    EventBatchMessage,
    "An analytics.v1.EventBatch (proto/analytics/v1/event.proto).",
    binary()
);

/// The optional fields every shape may carry.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct OptionalFields {
    user_id: Option<UserId>,
    /// Counts a guest in unique viewers.
    #[schema(max_length = 128)]
    session_id: Option<String>,
    #[schema(minimum = 0, maximum = 86_400)]
    position_seconds: Option<u32>,
    #[schema(minimum = 1, maximum = 86_400)]
    duration_seconds: Option<u32>,
    #[schema(minimum = 0, maximum = 86_400)]
    watched_seconds: Option<u32>,
    properties: Option<Properties>,
    #[schema(max_length = 500)]
    query: Option<String>,
    filters: Option<Filters>,
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    result_count: Option<u32>,
    #[schema(max_length = 64)]
    placement: Option<String>,
    #[schema(max_length = 64)]
    reason: Option<String>,
}

/// An event in the contract's own shape.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ContractEvent {
    event_id: Id,
    domain: DomainName,
    /// Required unless the action is an alias that implies it
    /// (actor.viewed).
    #[schema(nullable = false)]
    entity_type: Option<EntityTypeName>,
    #[schema(nullable = false)]
    entity_id: Option<Id>,
    action: ActionName,
    /// Times it happened (default 1; without the producer token each
    /// action's public maximum applies), or a rating's stars (1..5,
    /// required for rate).
    #[schema(minimum = 1, maximum = 10_000)]
    value: Option<i64>,
    /// RFC 3339 with an offset, at most 5 minutes ahead and at most 47
    /// hours old (older events: the import route).
    #[schema(format = DateTime)]
    occurred_at: String,
    #[serde(flatten)]
    optional: OptionalFields,
}

/// The video player's event (its time defaults to its arrival).
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct VideoPlayerEvent {
    event_type: ActionName,
    video_id: Id,
    /// RFC 3339 with an offset, as `occurred_at`.
    #[schema(format = DateTime, nullable = false)]
    timestamp: Option<String>,
    #[serde(flatten)]
    optional: OptionalFields,
}

/// The viewing service's event.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ViewingServiceEvent {
    movie_id: Id,
    event_type: ActionName,
    metadata: Option<Metadata>,
    #[serde(flatten)]
    optional: OptionalFields,
}

/// A stream message.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub struct StreamMessage {
    movie_id: Id,
    action: ActionName,
    /// RFC 3339 with an offset, as `occurred_at`.
    #[schema(format = DateTime, nullable = false)]
    timestamp: Option<String>,
    #[serde(flatten)]
    optional: OptionalFields,
}

/// An event in any of the four shapes. Any of, not one of: the shapes
/// take more fields than they name, so one body may fit two.
#[derive(Serialize)]
pub struct Event;

impl PartialSchema for Event {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(ContractEvent::name()))
            .item(Ref::from_schema_name(VideoPlayerEvent::name()))
            .item(Ref::from_schema_name(ViewingServiceEvent::name()))
            .item(Ref::from_schema_name(StreamMessage::name()))
            .into()
    }
}

impl ToSchema for Event {
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        fn add<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
            out.push((T::name().into_owned(), T::schema()));
            T::schemas(out);
        }
        add::<ContractEvent>(out);
        add::<VideoPlayerEvent>(out);
        add::<ViewingServiceEvent>(out);
        add::<StreamMessage>(out);
    }
}

/// 1 to `ingest.max_batch_events` events (the maximum is set from the
/// configuration).
#[derive(Serialize)]
pub struct EventList;

impl PartialSchema for EventList {
    fn schema() -> RefOr<Schema> {
        ArrayBuilder::new()
            .min_items(Some(1))
            .items(Ref::from_schema_name(Event::name()))
            .into()
    }
}

impl ToSchema for EventList {
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        out.push((Event::name().into_owned(), Event::schema()));
        Event::schemas(out);
    }
}

/// A batch: the events as an object's `events`, or as an array.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
pub enum Batch {
    Wrapped { events: EventList },
    List(EventList),
}

/// The 202 of the single-event routes.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub status: AcceptedStatus,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AcceptedStatus {
    Accepted,
}

/// The single-event routes' answer.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum EventAccepted {
    /// Accepted (new, a duplicate with X-Analytics-Duplicate: true, or a
    /// bot's event with X-Analytics-Filtered: bot, counted nowhere).
    #[response(status = 202)]
    Accepted(Accepted),
}

/// The batch and import routes' answers.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum BatchAnswer {
    /// Every item's result.
    #[response(status = 200)]
    Done(BatchResult),
    /// Every item's result; some are unavailable (Redis refused them for
    /// now and stored the others): send those again after Retry-After.
    #[response(status = 207)]
    Partial(BatchResult),
}

/// A batch's (and an import's) answer: the tally and each item's result,
/// in order.
#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    pub accepted: u64,
    pub duplicates: u64,
    pub conflicts: u64,
    pub invalid: u64,
    /// Events of a crawler, monitor or headless browser (by the request's
    /// User-Agent): answered, counted nowhere.
    pub filtered: u64,
    /// Events Redis refused for now while it stored the others (answered
    /// 207 with Retry-After): send only these again.
    pub unavailable: u64,
    pub results: Vec<ItemResult>,
}

/// What became of one item of a batch.
#[derive(Serialize, ToSchema)]
pub struct ItemResult {
    pub index: usize,
    /// The item's event id (absent for an invalid item).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub event_id: Option<String>,
    pub status: ItemStatus,
    /// Why it is a conflict, unavailable or invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<String>,
    /// An invalid item's fields, each with what is wrong with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub errors: Option<BTreeMap<&'static str, Vec<String>>>,
}

/// What became of one item of a batch (the tally's order).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    Accepted,
    Duplicate,
    Conflict,
    Invalid,
    /// A bot's event: answered, counted nowhere.
    Filtered,
    /// Redis refused it for now (full, read-only, resharding) while it
    /// stored others of the batch: not stored, to send again.
    Unavailable,
}

/// The dry run's answer for a valid body.
#[derive(Serialize, ToSchema)]
pub struct DryRun {
    /// Always true (an invalid body is answered 422).
    #[schema(example = true)]
    pub valid: bool,
    pub shape: Shape,
    /// The normalised event: aliases resolved, defaults filled, UTC time
    /// and the domain's local date and hour.
    #[schema(value_type = Object)]
    pub event: Map<String, Value>,
}

/// The bounds the derive attributes above spell as literals (attributes
/// take no constants): held to the domain's.
#[cfg(test)]
mod tests {
    use analytics_domain::details::{
        MAX_LABEL_CHARS, MAX_QUERY_CHARS, MAX_RESULT_COUNT, MAX_SECONDS, MAX_SESSION_ID_CHARS,
    };
    use analytics_domain::event::MAX_VALUE;

    use super::*;

    fn property(schema: &Value, name: &str) -> Value {
        schema["properties"][name].clone()
    }

    #[test]
    fn the_derived_bounds_are_the_domains() -> Result<(), serde_json::Error> {
        let optional = serde_json::to_value(OptionalFields::schema())?;
        let seconds = i64::from(MAX_SECONDS);
        for field in ["position_seconds", "duration_seconds", "watched_seconds"] {
            assert_eq!(property(&optional, field)["maximum"], seconds, "{field}");
        }
        assert_eq!(
            property(&optional, "session_id")["maxLength"],
            MAX_SESSION_ID_CHARS
        );
        assert_eq!(property(&optional, "query")["maxLength"], MAX_QUERY_CHARS);
        for field in ["placement", "reason"] {
            assert_eq!(
                property(&optional, field)["maxLength"],
                MAX_LABEL_CHARS,
                "{field}"
            );
        }
        assert_eq!(
            property(&optional, "result_count")["maximum"],
            MAX_RESULT_COUNT
        );
        let contract = serde_json::to_value(ContractEvent::schema())?;
        let own = contract["allOf"]
            .as_array()
            .and_then(|parts| parts.iter().find(|p| p["properties"]["value"].is_object()))
            .cloned()
            .unwrap_or_default();
        assert_eq!(property(&own, "value")["maximum"], MAX_VALUE);
        Ok(())
    }

    #[test]
    fn the_accepted_answer_is_the_bytes_producers_expect() -> Result<(), serde_json::Error> {
        let body = serde_json::to_string(&Accepted {
            status: AcceptedStatus::Accepted,
        })?;
        assert_eq!(body, crate::routes::ACCEPTED_BODY);
        Ok(())
    }
}
