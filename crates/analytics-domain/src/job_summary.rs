//! The job telemetry summary: its query parameters, time
//! window, chart labels and the rate arithmetic, free of I/O.

use std::collections::HashMap;

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::validation::ValidationErrors;

pub const WINDOW_MINUTES: (u32, u32, u32) = (5, 60, 1440);
pub const LIMIT: (u32, u32, u32) = (5, 30, 200);
const MAX_FILTER_CHARS: usize = 255;
/// Up to this window the throughput chart is per minute, beyond it per hour.
const MINUTE_LABELS_UP_TO: u32 = 180;

/// `window_minutes`, `site`, `job_name`, `limit`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryQuery {
    pub window_minutes: u32,
    pub site: Option<String>,
    pub job_name: Option<String>,
    pub limit: u32,
}

fn bounded(
    params: &HashMap<String, String>,
    name: &'static str,
    (min, default, max): (u32, u32, u32),
    errors: &mut ValidationErrors,
) -> u32 {
    // Given means given: an empty value is an error, not the default.
    match params.get(name) {
        None => default,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                errors.add(
                    name,
                    format!(
                        "The {} field must be an integer between {min} and {max}.",
                        name.replace('_', " ")
                    ),
                );
                default
            }
        },
    }
}

fn filter(
    params: &HashMap<String, String>,
    name: &'static str,
    errors: &mut ValidationErrors,
) -> Option<String> {
    let raw = params.get(name)?;
    let value = Some(raw.trim()).filter(|v| !v.is_empty())?;
    if raw.chars().count() > MAX_FILTER_CHARS {
        errors.add(
            name,
            format!(
                "The {} field must not be greater than {MAX_FILTER_CHARS} characters.",
                name.replace('_', " ")
            ),
        );
        return None;
    }
    Some(value.to_string())
}

impl SummaryQuery {
    /// Parses the query string; blank filters mean "all", every bad
    /// parameter is named.
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let query = SummaryQuery {
            window_minutes: bounded(params, "window_minutes", WINDOW_MINUTES, &mut errors),
            site: filter(params, "site", &mut errors),
            job_name: filter(params, "job_name", &mut errors),
            limit: bounded(params, "limit", LIMIT, &mut errors),
        };
        if errors.errors.is_empty() {
            Ok(query)
        } else {
            Err(errors.finish())
        }
    }

    /// `[from, to]`, both inclusive, ending at `now`.
    pub fn window(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        (now - Duration::minutes(i64::from(self.window_minutes)), now)
    }

    /// The throughput chart's label format: per minute for short windows,
    /// per hour beyond three hours (the legacy rule).
    pub fn label_format(&self) -> &'static str {
        if self.window_minutes <= MINUTE_LABELS_UP_TO {
            "%Y-%m-%d %H:%M"
        } else {
            "%Y-%m-%d %H"
        }
    }

    /// Every label from `from` to `to`, so the chart shows quiet minutes as
    /// zero instead of joining the points either side of them (the legacy
    /// listed only labels that had starts).
    pub fn labels(&self, now: DateTime<Utc>) -> Vec<String> {
        let (from, to) = self.window(now);
        let step = if self.window_minutes <= MINUTE_LABELS_UP_TO {
            Duration::minutes(1)
        } else {
            Duration::hours(1)
        };
        let mut at = from.duration_trunc(step).unwrap_or(from);
        let mut labels = Vec::new();
        while at <= to {
            labels.push(at.format(self.label_format()).to_string());
            at += step;
        }
        labels
    }
}

/// `window_minutes`, `host`, `limit` of the block-signal list, validated
/// as the summary's parameters are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalQuery {
    pub window_minutes: u32,
    pub host: Option<String>,
    pub limit: u32,
}

impl SignalQuery {
    pub fn parse(params: &HashMap<String, String>) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let query = SignalQuery {
            window_minutes: bounded(params, "window_minutes", WINDOW_MINUTES, &mut errors),
            host: filter(params, "host", &mut errors),
            limit: bounded(params, "limit", LIMIT, &mut errors),
        };
        if errors.errors.is_empty() {
            Ok(query)
        } else {
            Err(errors.finish())
        }
    }
}

/// The summary's and the signal list's query parameters as OpenAPI
/// describes them, from the same bounds [`SummaryQuery::parse`] checks.
#[cfg(feature = "openapi")]
mod parameters {
    use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
    use utoipa::openapi::{ObjectBuilder, Required, Type};
    use utoipa::IntoParams;

    use super::{SignalQuery, SummaryQuery, LIMIT, MAX_FILTER_CHARS, WINDOW_MINUTES};

    fn query(name: &str, description: &str, schema: ObjectBuilder) -> Parameter {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(description))
            .schema(Some(schema.build()))
            .build()
    }

    fn bounded(name: &str, description: &str, (min, default, max): (u32, u32, u32)) -> Parameter {
        let schema = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min))
            .maximum(Some(max))
            .default(Some(default.into()));
        query(name, description, schema)
    }

    fn filter(name: &str, description: &str) -> Parameter {
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(MAX_FILTER_CHARS));
        query(name, description, schema)
    }

    const WINDOW: &str = "Minutes back from now.";

    impl IntoParams for SummaryQuery {
        fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
            vec![
                bounded("window_minutes", WINDOW, WINDOW_MINUTES),
                filter("site", "Only this site (blank: all)."),
                filter("job_name", "Only this job (blank: all)."),
                bounded("limit", "Rows per list.", LIMIT),
            ]
        }
    }

    impl IntoParams for SignalQuery {
        fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
            vec![
                bounded("window_minutes", WINDOW, WINDOW_MINUTES),
                filter("host", "Only this target host (blank: all)."),
                bounded("limit", "Latest signals listed.", LIMIT),
            ]
        }
    }
}

/// `part` of `total` in percent, two decimals; 0 when there is no total.
pub fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    (part as f64 * 10_000.0 / total as f64).round() / 100.0
}

/// Completed jobs per second over the window, three decimals.
pub fn per_second(total: u64, window_minutes: u32) -> f64 {
    let seconds = f64::from(window_minutes) * 60.0;
    (total as f64 / seconds * 1000.0).round() / 1000.0
}

/// Jobs-per-second thresholds of one site (defaults: warning 20, critical 40).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct RateThresholds {
    pub warning: u64,
    pub critical: u64,
}

impl RateThresholds {
    /// Every level a second with `jobs_per_second` starts has reached (each
    /// is alerted once, so a critical second also has its warning).
    pub fn levels_reached(&self, jobs_per_second: u64) -> Vec<&'static str> {
        [("warning", self.warning), ("critical", self.critical)]
            .into_iter()
            .filter(|(_, threshold)| jobs_per_second >= *threshold)
            .map(|(level, _)| level)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_apply_and_blank_filters_mean_all() {
        let q = SummaryQuery::parse(&params(&[("site", "  "), ("job_name", "")])).expect("valid");
        assert_eq!(
            q,
            SummaryQuery {
                window_minutes: 60,
                site: None,
                job_name: None,
                limit: 30
            }
        );
    }

    #[test]
    fn every_out_of_range_parameter_is_named() {
        let long = "x".repeat(256);
        let err = SummaryQuery::parse(&params(&[
            ("window_minutes", "4"),
            ("limit", "201"),
            ("site", &long),
            ("job_name", &long),
        ]))
        .expect_err("invalid");
        assert_eq!(
            err.errors.keys().copied().collect::<Vec<_>>(),
            ["job_name", "limit", "site", "window_minutes"]
        );
        assert_eq!(
            err.errors["window_minutes"],
            ["The window minutes field must be an integer between 5 and 1440."]
        );
        assert!(SummaryQuery::parse(&params(&[("window_minutes", "1441")])).is_err());
        assert!(SummaryQuery::parse(&params(&[("limit", "ten")])).is_err());
        assert!(
            SummaryQuery::parse(&params(&[("window_minutes", "1440"), ("limit", "5")])).is_ok()
        );
    }

    #[test]
    fn labels_cover_the_window_per_minute_or_per_hour() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 21, 10, 2, 30)
            .single()
            .expect("valid");
        let short = SummaryQuery::parse(&params(&[("window_minutes", "5")])).expect("valid");
        assert_eq!(
            short.labels(now),
            [
                "2026-11-21 09:57",
                "2026-11-21 09:58",
                "2026-11-21 09:59",
                "2026-11-21 10:00",
                "2026-11-21 10:01",
                "2026-11-21 10:02"
            ]
        );
        let day = SummaryQuery::parse(&params(&[("window_minutes", "1440")])).expect("valid");
        let labels = day.labels(now);
        assert_eq!(labels.len(), 25);
        assert_eq!(
            (labels[0].as_str(), labels[24].as_str()),
            ("2026-11-20 10", "2026-11-21 10")
        );
    }

    #[test]
    fn rates_round_like_the_legacy_page() {
        assert_eq!(percent(1, 3), 33.33);
        assert_eq!(percent(2, 3), 66.67);
        assert_eq!(percent(0, 0), 0.0);
        assert_eq!(per_second(100, 60), 0.028);
        assert_eq!(per_second(0, 5), 0.0);
    }

    #[test]
    fn a_second_at_a_threshold_reaches_its_level() {
        let t = RateThresholds {
            warning: 20,
            critical: 40,
        };
        let reached: Vec<Vec<&str>> = [19, 20, 39, 40]
            .into_iter()
            .map(|n| t.levels_reached(n))
            .collect();
        assert_eq!(
            reached,
            [
                vec![],
                vec!["warning"],
                vec!["warning"],
                vec!["warning", "critical"]
            ]
        );
    }
}
