//! The closed sets of words the read routes take as parameters and echo in
//! their bodies, each named once: a parameter's `enum` and the response
//! field's come from the same list (a parameter's default is its first
//! word). The `schema_with` functions describe the response fields.

use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};

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

/// One `schema_with` function per word set: its words and what it says.
macro_rules! word_schemas {
    ($($name:ident: $words:ident, $description:literal;)*) => {
        $(pub fn $name() -> Object {
            one_of($words, $description).build()
        })*
    };
}

word_schemas! {
    entity_type: ENTITY_TYPES, "Kind of entity.";
    ranked_action: RANKED_ACTIONS, "The action counted.";
    top_period: TOP_PERIODS, "The rollup period; range: over days.";
    granularity: GRANULARITIES, "The series' step.";
    ranking: RANKINGS, "Whether the threshold test proved the order exact (`exact`) or not (`approximate`).";
    popular_sort: POPULAR_SORTS, "What ranks the list.";
    search_sort: SEARCH_SORTS, "What ranks the list.";
    grouping: GROUPINGS, "What the rows are grouped by.";
    interval: INTERVALS, "Period length.";
    dimension: DIMENSIONS, "How the actors are segmented.";
    suggestion: SUGGESTIONS, "What was asked for.";
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
