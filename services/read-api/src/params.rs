//! Query and path parameters, each error naming its parameter.

use std::collections::HashMap;

use analytics_domain::actor_segments::Dimension;
use analytics_domain::validation::label;
use analytics_domain::{Action, Domain, EntityKey, EntityType, EventRules, Period};
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
    id("entity_id", raw)
}

/// An id in a path: 1..255 characters as sent, no control or bidi
/// formatting characters, surrounding blanks trimmed.
pub fn id(name: &'static str, raw: &str) -> Result<String, ReadApiError> {
    bounded_id(name, raw, analytics_domain::event::MAX_ID_CHARS)
}

/// A user id as the raw log keeps it (at most 64 characters).
pub fn user_id(raw: &str) -> Result<String, ReadApiError> {
    bounded_id("user_id", raw, analytics_domain::event::MAX_USER_ID_CHARS)
}

fn bounded_id(name: &'static str, raw: &str, max: usize) -> Result<String, ReadApiError> {
    let Some(id) = analytics_domain::validation::operator_id(raw, max) else {
        return Err(ReadApiError::invalid(
            name,
            format!(
                "The {} must be 1..{max} characters without control or bidirectional formatting characters.",
                label(name)
            ),
        ));
    };
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
            // Exactly YYYY-MM-DD: the parser alone would take 2026-1-1.
            let shaped = raw.len() == 10
                && raw.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .filter(|_| shaped)
                .ok_or_else(|| {
                    ReadApiError::invalid(name, format!("The {name} must be a date YYYY-MM-DD."))
                })
        })
        .transpose()
}

/// The longest range a range route reads (a year, leap day included).
pub const MAX_RANGE_DAYS: i64 = 366;

/// How many rows a ranked list answers by default, and at most: a board's
/// size, as the lists are read from the boards.
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = analytics_store::rollups::leaderboard::LEADERBOARD_SIZE;

/// `limit`: how many rows of a ranked list.
pub fn limit(q: &Query) -> Result<usize, ReadApiError> {
    let n = int(q, "limit", DEFAULT_LIMIT as i64, 1, MAX_LIMIT as i64)?;
    Ok(usize::try_from(n).unwrap_or(MAX_LIMIT))
}

/// An inclusive range of local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The day labels of the range, first to last.
    pub fn labels(&self) -> Vec<String> {
        self.from
            .iter_days()
            .take_while(|d| *d <= self.to)
            .map(|d| Period::Day.bucket_of(d))
            .collect()
    }

    pub fn first(&self) -> String {
        Period::Day.bucket_of(self.from)
    }

    pub fn last(&self) -> String {
        Period::Day.bucket_of(self.to)
    }

    pub fn log_days(&self) -> analytics_store::log_reads::LocalDays {
        analytics_store::log_reads::LocalDays {
            from: self.from,
            to: self.to,
        }
    }
}

/// A range given as `days` ending today (default `default_days`) or by
/// its two ends (`names`: `from`/`to`, or the video player's
/// `startDate`/`endDate`); never both, at most [`MAX_RANGE_DAYS`].
pub fn day_range(
    q: &Query,
    names: (&'static str, &'static str),
    today: NaiveDate,
    default_days: i64,
) -> Result<DayRange, ReadApiError> {
    let (from_name, to_name) = names;
    let from = date(q, from_name)?;
    let to = date(q, to_name)?;
    if q.contains_key("days") && (from.is_some() || to.is_some()) {
        return Err(ReadApiError::invalid(
            "days",
            format!("Give days or a {from_name}/{to_name} range, not both."),
        ));
    }
    let days = int(q, "days", default_days, 1, MAX_RANGE_DAYS)?;
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - chrono::Duration::days(days - 1));
    if from > to {
        return Err(ReadApiError::invalid(
            from_name,
            format!("The {from_name} date must not be after the {to_name} date."),
        ));
    }
    let range = DayRange { from, to };
    if range.days() > MAX_RANGE_DAYS {
        return Err(ReadApiError::invalid(
            from_name,
            format!("The range must span at most {MAX_RANGE_DAYS} days."),
        ));
    }
    Ok(range)
}

/// Refuses a range that starts before the first local day the raw event
/// log still holds (`retention.raw_log_days`; `None` keeps it all), naming
/// the parameter that set the start: `days`, or the range's first end.
pub fn within_raw_log(
    q: &Query,
    range: &DayRange,
    from_name: &'static str,
    today: NaiveDate,
    keep_days: Option<u32>,
) -> Result<(), ReadApiError> {
    let Some(days) = keep_days else {
        return Ok(());
    };
    let first = today - chrono::Duration::days(i64::from(days) - 1);
    if range.from >= first {
        return Ok(());
    }
    let name = if q.contains_key(from_name) {
        from_name
    } else {
        "days"
    };
    Err(ReadApiError::invalid(
        name,
        format!(
            "The raw event log keeps {days} days (retention.raw_log_days): \
             the range must start on or after {first}."
        ),
    ))
}

/// One of a closed set of names (`default` when absent).
pub fn choice<T: Copy>(
    q: &Query,
    name: &'static str,
    options: &[(&str, T)],
    default: T,
) -> Result<T, ReadApiError> {
    let Some(raw) = get(q, name) else {
        return Ok(default);
    };
    options
        .iter()
        .find(|(n, _)| *n == raw)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            ReadApiError::invalid(
                name,
                format!("The {name} must be one of {}.", names.join(", ")),
            )
        })
}

// The actor pages' readers, with the Laravel-style messages those pages
// were built against ("The size field must be between 1 and 30.").

/// A text parameter of at most `max` characters, trimmed; blank is absent.
pub fn text(q: &Query, name: &'static str, max: usize) -> Result<Option<String>, ReadApiError> {
    let Some(raw) = get(q, name) else {
        return Ok(None);
    };
    if raw.chars().count() > max {
        return Err(ReadApiError::invalid(
            name,
            format!(
                "The {} field must not be greater than {max} characters.",
                label(name)
            ),
        ));
    }
    Ok(Some(raw.trim().to_string()).filter(|s| !s.is_empty()))
}

/// [`int`] with the two messages of a form field: not an integer, or out
/// of `min..=max`. Given means given: an empty value is refused.
pub fn field_int(
    q: &Query,
    name: &'static str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, ReadApiError> {
    let Some(raw) = get(q, name) else {
        return Ok(default);
    };
    let n: i64 = raw.trim().parse().map_err(|_| {
        ReadApiError::invalid(
            name,
            format!("The {} field must be an integer.", label(name)),
        )
    })?;
    if !(min..=max).contains(&n) {
        return Err(ReadApiError::invalid(
            name,
            format!("The {} field must be between {min} and {max}.", label(name)),
        ));
    }
    Ok(n)
}

/// An actor dimension (age bucket by default).
pub fn dimension(q: &Query, name: &'static str) -> Result<Dimension, ReadApiError> {
    match get(q, name).map(str::trim) {
        None => Ok(Dimension::AgeBucket),
        Some(raw) => Dimension::parse(raw).ok_or_else(|| {
            ReadApiError::invalid(name, format!("The selected {} is invalid.", label(name)))
        }),
    }
}

/// A parameter the route cannot do without, with the route's message.
pub fn required(
    value: Option<String>,
    name: &'static str,
    message: &str,
) -> Result<String, ReadApiError> {
    value.ok_or_else(|| ReadApiError::invalid(name, message))
}

/// The entity a `/{entity_type}/{entity_id}` route and `?domain=` name.
pub fn entity(
    (raw_type, raw_id): (String, String),
    q: &Query,
    rules: &EventRules,
) -> Result<EntityKey, ReadApiError> {
    Ok(EntityKey {
        domain: domain(q, rules)?,
        entity_type: entity_type(Some(&raw_type))?,
        entity_id: entity_id(&raw_id)?,
    })
}
