//! Query and path parameters, each error naming its parameter.

use std::collections::HashMap;

use analytics_domain::{Action, Domain, EntityType, EventRules, Period};
use chrono::NaiveDate;

use crate::error::ReadApiError;

pub type Query = HashMap<String, String>;

/// A parameter as given: an empty value is given (and refused by the
/// parser that follows), never taken for the default.
fn get<'a>(q: &'a Query, name: &str) -> Option<&'a str> {
    q.get(name).map(String::as_str)
}

pub fn domain(q: &Query, rules: &EventRules) -> Result<Domain, ReadApiError> {
    let name = get(q, "domain").unwrap_or("jav");
    Domain::new(name)
        .ok()
        .filter(|d| rules.domains.contains_key(d))
        .ok_or_else(|| ReadApiError::invalid("domain", "The selected domain is invalid."))
}

pub fn entity_type(raw: Option<&str>) -> Result<EntityType, ReadApiError> {
    EntityType::parse(raw.unwrap_or("movie")).ok_or_else(|| {
        ReadApiError::invalid(
            "entity_type",
            "The entity type must be one of movie, actor, tag.",
        )
    })
}

pub fn optional_entity_type(q: &Query) -> Result<Option<EntityType>, ReadApiError> {
    get(q, "entity_type")
        .map(|t| entity_type(Some(t)))
        .transpose()
}

pub fn entity_id(raw: &str) -> Result<String, ReadApiError> {
    let id = raw.trim();
    if id.is_empty()
        || raw.chars().count() > analytics_domain::event::MAX_ID_CHARS
        || analytics_domain::event::has_forbidden_chars(id)
    {
        return Err(ReadApiError::invalid(
            "entity_id",
            "The entity id must be 1..255 characters without control or bidirectional formatting characters.",
        ));
    }
    Ok(id.to_string())
}

pub fn action(q: &Query) -> Result<Action, ReadApiError> {
    Action::parse(get(q, "action").unwrap_or("view"))
        .filter(|a| Action::V1.contains(a))
        .ok_or_else(|| ReadApiError::invalid("action", "The action must be one of view, download."))
}

/// `day|week|month|year`, or `all` (None) where `allow_all`.
pub fn period(
    q: &Query,
    name: &'static str,
    default: &str,
    allow_all: bool,
) -> Result<Option<Period>, ReadApiError> {
    match get(q, name).unwrap_or(default) {
        "day" => Ok(Some(Period::Day)),
        "week" => Ok(Some(Period::Week)),
        "month" => Ok(Some(Period::Month)),
        "year" => Ok(Some(Period::Year)),
        "all" if allow_all => Ok(None),
        _ => Err(ReadApiError::invalid(
            name,
            if allow_all {
                "The period must be one of day, week, month, year, all."
            } else {
                "The granularity must be one of day, week, month, year."
            },
        )),
    }
}

/// The bucket label for a period: as given (validated), else today's.
pub fn bucket(q: &Query, period: Period, today: NaiveDate) -> Result<String, ReadApiError> {
    match get(q, "bucket") {
        None => Ok(period.bucket_of(today)),
        Some(label) => period
            .parse_bucket(label)
            .map(|_| label.to_string())
            .ok_or_else(|| {
                ReadApiError::invalid(
                    "bucket",
                    format!(
                        "The bucket {label:?} is not a valid {:?} label (e.g. {}).",
                        period,
                        period.bucket_of(today)
                    ),
                )
            }),
    }
}

pub fn int(
    q: &Query,
    name: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ReadApiError> {
    let Some(raw) = get(q, name) else {
        return Ok(default);
    };
    raw.parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            ReadApiError::invalid(
                name,
                format!("The {name} must be an integer between {min} and {max}."),
            )
        })
}

pub fn date(q: &Query, name: &'static str) -> Result<Option<NaiveDate>, ReadApiError> {
    get(q, name)
        .map(|raw| {
            NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
                ReadApiError::invalid(name, format!("The {name} must be a date YYYY-MM-DD."))
            })
        })
        .transpose()
}
