//! The closed sets of words the read routes take as parameters and echo in
//! their bodies, each named once: a parameter's `enum` and the response
//! field's come from the same list (a parameter's default is its first
//! word). The `schema_with` functions describe the response fields.

use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

pub const ENTITY_TYPES: &[&str] = &["movie", "actor", "tag"];
/// The actions the boards rank.
pub const RANKED_ACTIONS: &[&str] = &["view", "download"];
pub const TOP_PERIODS: &[&str] = &["day", "week", "month", "year", "all", "range"];
pub const GRANULARITIES: &[&str] = &["day", "week", "month", "year"];
pub const RANKINGS: &[&str] = &["exact", "approximate"];
pub const POPULAR_SORTS: &[&str] = &["views", "unique_viewers", "watch_time", "page_views"];
pub const SEARCH_SORTS: &[&str] = &["searches", "zero_results"];
pub const GROUPINGS: &[&str] = &["placement", "reason", "both"];
pub const INTERVALS: &[&str] = &["month", "week"];
pub const SUGGESTIONS: &[&str] = &["genre", "actor", "birthplace", "blood_type"];
/// How the actor analytics segment actors.
pub const DIMENSIONS: &[&str] = &["age_bucket", "blood_type", "birthplace"];

fn one_of(words: &[&str], description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(words.iter().copied()))
        .description(Some(description))
}

pub fn entity_type() -> Object {
    one_of(ENTITY_TYPES, "Kind of entity.").build()
}

/// An entity type or null (every type).
pub fn entity_type_or_all() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(
            ENTITY_TYPES
                .iter()
                .map(|w| serde_json::json!(w))
                .chain([serde_json::Value::Null]),
        ))
        .description(Some("Only this kind of entity (null: all)."))
        .build()
}

pub fn ranked_action() -> Object {
    one_of(RANKED_ACTIONS, "The action counted.").build()
}

pub fn top_period() -> Object {
    one_of(TOP_PERIODS, "The rollup period; range: over days.").build()
}

pub fn granularity() -> Object {
    one_of(GRANULARITIES, "The series' step.").build()
}

pub fn ranking() -> Object {
    one_of(
        RANKINGS,
        "Whether the threshold test proved the order exact (`exact`) or not (`approximate`).",
    )
    .build()
}

pub fn popular_sort() -> Object {
    one_of(POPULAR_SORTS, "What ranks the list.").build()
}

pub fn search_sort() -> Object {
    one_of(SEARCH_SORTS, "What ranks the list.").build()
}

pub fn grouping() -> Object {
    one_of(GROUPINGS, "What the rows are grouped by.").build()
}

pub fn interval() -> Object {
    one_of(INTERVALS, "Period length.").build()
}

pub fn dimension() -> Object {
    one_of(DIMENSIONS, "How the actors are segmented.").build()
}

pub fn suggestion() -> Object {
    one_of(SUGGESTIONS, "What was asked for.").build()
}
