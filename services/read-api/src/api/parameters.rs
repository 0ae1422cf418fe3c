//! The query and path parameters of the routes as OpenAPI describes them,
//! built from the bounds `params.rs` checks. Each route's set is a type
//! implementing `IntoParams`, named in its `#[utoipa::path]`.

use analytics_domain::event::{MAX_ID_CHARS, MAX_USER_ID_CHARS};
use analytics_runtime::openapi::ID_PATTERN;
use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{Schema, SchemaFormat};
use utoipa::openapi::{KnownFormat, ObjectBuilder, Ref, RefOr, Required, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::api::words;
use crate::params::{DEFAULT_LIMIT, MAX_LIMIT, MAX_RANGE_DAYS};

/// One of the domains read-api is configured with (the document lists
/// them; set from the configuration).
pub struct DomainName;

impl PartialSchema for DomainName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A configured domain."))
            .into()
    }
}

impl ToSchema for DomainName {}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn integer(min: i64, max: i64, default: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(min))
        .maximum(Some(max))
        .default(Some(json!(default)))
}

/// `names`, the first the default.
pub fn choice(names: &[&str]) -> ObjectBuilder {
    string()
        .enum_values(Some(names.iter().copied()))
        .default(names.first().map(|n| json!(n)))
}

fn date() -> ObjectBuilder {
    string()
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some("^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))
}

fn id(max: usize) -> ObjectBuilder {
    string()
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(ID_PATTERN))
}

/// An optional query parameter.
pub fn query(name: &str, schema: impl Into<RefOr<Schema>>, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

/// A path parameter.
pub fn path(name: &str, schema: impl Into<RefOr<Schema>>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(schema))
        .build()
}

pub fn domain() -> Parameter {
    query(
        "domain",
        Ref::from_schema_name("DomainName"),
        "A configured domain (default jav).",
    )
}

pub fn format() -> Parameter {
    query(
        "format",
        choice(&["json", "csv"]),
        "csv: the rows as CSV with a header row (as Accept: text/csv); default json.",
    )
}

pub fn limit() -> Parameter {
    query(
        "limit",
        integer(1, MAX_LIMIT as i64, DEFAULT_LIMIT as i64),
        "How many.",
    )
}

pub fn entity_type_path() -> Parameter {
    path("entity_type", choice(words::ENTITY_TYPES))
}

pub fn entity_id_path() -> Parameter {
    path("entity_id", id(MAX_ID_CHARS))
}

pub fn id_path(name: &str) -> Parameter {
    path(name, id(MAX_ID_CHARS))
}

pub fn user_id_path() -> Parameter {
    path("user_id", id(MAX_USER_ID_CHARS))
}

pub fn id_query(name: &str, description: &str) -> Parameter {
    query(name, id(MAX_ID_CHARS), description)
}

pub fn action() -> Parameter {
    query("action", choice(words::RANKED_ACTIONS), "Ranking action.")
}

pub fn date_query(name: &str, description: &str) -> Parameter {
    query(name, date(), description)
}

/// The range parameters of the range reports: `days` ending today, or
/// `from`/`to` (named otherwise by the video player's route).
pub fn range(from: &str, to: &str, default_days: i64) -> Vec<Parameter> {
    vec![
        query(
            "days",
            integer(1, MAX_RANGE_DAYS, default_days),
            &format!("Local days ending today (not with {from}/{to})."),
        ),
        query(
            from,
            date(),
            &format!("First local day (default: {to} minus days − 1); at most {MAX_RANGE_DAYS} days before {to}."),
        ),
        query(
            to,
            date(),
            "Last local day (default: today in the domain's zone).",
        ),
    ]
}
