//! The summary's response body: the shape the operator page (and the PHP
//! page before it) reads, field for field, as types (telemetry-svc's
//! OpenAPI document describes it from them).

use std::collections::HashMap;

use analytics_domain::job_summary::{per_second, percent, SummaryQuery};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{
    FailureRow, JobSummaryData, RateAlertRow, RateLimitedRow, SlowJobRow, MAX_SERIES,
    ROW_TIME_FORMAT,
};

/// `GET /api/v1/telemetry/jobs/summary`'s body (and the summary report's
/// telemetry part).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobSummary {
    pub filters: SummaryFilters,
    pub window: SummaryWindow,
    pub overview: SummaryOverview,
    /// Per job name, busiest first.
    pub job_performance: Vec<JobPerformanceRow>,
    pub throughput: Throughput,
    /// The latest failed attempts.
    pub failures: Vec<FailureRow>,
    /// The slowest attempts that ended.
    pub slow_jobs: Vec<SlowJobRow>,
    pub available_sites: Vec<String>,
    pub available_jobs: Vec<String>,
    pub generated_at: String,
}

/// The query as it was applied (blank filters as null).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SummaryFilters {
    pub window_minutes: u32,
    pub site: Option<String>,
    pub job_name: Option<String>,
    pub limit: u32,
}

/// The window's ends (`YYYY-MM-DD HH:MM:SS`, UTC, as the legacy page reads them).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SummaryWindow {
    pub from: String,
    pub to: String,
}

/// Counts, rates (percent, two decimals) and nearest-rank percentiles of
/// the attempts that ended in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SummaryOverview {
    /// Not in the legacy payload: the starts of every site, for the
    /// operator page's card (the series stop at eight sites).
    pub total_started: u64,
    /// Attempts that ended: completed and failed.
    pub total_completed: u64,
    pub success: u64,
    pub failed: u64,
    pub success_rate: f64,
    pub fail_rate: f64,
    pub timeout_count: u64,
    pub timeout_rate: f64,
    /// Ended attempts per second over the window, three decimals.
    pub throughput_per_sec: f64,
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub p99_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobPerformanceRow {
    pub job_name: String,
    pub total: u64,
    pub failed: u64,
    /// Percent, two decimals.
    pub fail_rate: f64,
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub p99_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

/// The starts chart: one point per label for each of the busiest sites,
/// and the rate alerts beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Throughput {
    /// Per minute up to a three-hour window, else per hour.
    pub labels: Vec<String>,
    pub series: Vec<SiteSeries>,
    /// Newest first.
    pub alerts: Vec<RateAlertRow>,
    /// Each site's highest rate among its alerts, highest first.
    #[cfg_attr(feature = "openapi", schema(value_type = HashMap<String, i64>))]
    pub peak_by_site: Map<String, Value>,
    pub rate_limited: Vec<RateLimitedRow>,
}

/// One site's starts on the chart's labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteSeries {
    pub site: String,
    pub points: Vec<u64>,
    pub total_started: u64,
}

fn time(t: DateTime<Utc>) -> String {
    t.format(ROW_TIME_FORMAT).to_string()
}

/// Per-site start counts on the window's labels, busiest sites first.
fn throughput_series(labels: &[String], data: &JobSummaryData) -> Vec<SiteSeries> {
    let position: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let mut sites: HashMap<&str, (Vec<u64>, u64)> = HashMap::new();
    for s in &data.starts {
        let Some(&at) = position.get(s.label.as_str()) else {
            continue;
        };
        let (points, total) = sites
            .entry(s.site.as_str())
            .or_insert_with(|| (vec![0; labels.len()], 0));
        points[at] += s.count;
        *total += s.count;
    }
    let mut series: Vec<_> = sites
        .into_iter()
        .filter(|(site, _)| !site.trim().is_empty())
        .collect();
    series.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then(a.0.cmp(b.0)));
    series
        .into_iter()
        .take(MAX_SERIES)
        .map(|(site, (points, total_started))| SiteSeries {
            site: site.to_string(),
            points,
            total_started,
        })
        .collect()
}

/// Each site's highest rate among its alerts, highest first.
fn peaks(data: &JobSummaryData) -> Map<String, Value> {
    let mut peaks: HashMap<&str, i64> = HashMap::new();
    for alert in &data.alerts {
        let peak = peaks.entry(alert.site.as_str()).or_default();
        *peak = (*peak).max(alert.jobs_per_second);
    }
    let mut peaks: Vec<_> = peaks.into_iter().collect();
    peaks.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    peaks
        .into_iter()
        .take(MAX_SERIES)
        .map(|(site, peak)| (site.to_string(), json!(peak)))
        .collect()
}

/// The body of `query`'s summary at `now` from what the store read.
pub fn summary_body(query: &SummaryQuery, now: DateTime<Utc>, data: &JobSummaryData) -> JobSummary {
    let (from, to) = query.window(now);
    let o = &data.overview;
    let labels = query.labels(now);
    let series = throughput_series(&labels, data);
    let job_performance = data
        .jobs
        .iter()
        .map(|j| JobPerformanceRow {
            job_name: j.job_name.clone(),
            total: j.total,
            failed: j.failed,
            fail_rate: percent(j.failed, j.total),
            p50_ms: j.p50_ms,
            p95_ms: j.p95_ms,
            p99_ms: j.p99_ms,
            max_ms: j.max_ms,
        })
        .collect();
    JobSummary {
        filters: SummaryFilters {
            window_minutes: query.window_minutes,
            site: query.site.clone(),
            job_name: query.job_name.clone(),
            limit: query.limit,
        },
        window: SummaryWindow {
            from: time(from),
            to: time(to),
        },
        overview: SummaryOverview {
            total_started: data.starts.iter().map(|s| s.count).sum(),
            total_completed: o.total,
            success: o.success,
            failed: o.failed,
            success_rate: percent(o.success, o.total),
            fail_rate: percent(o.failed, o.total),
            timeout_count: o.timeouts,
            timeout_rate: percent(o.timeouts, o.total),
            throughput_per_sec: per_second(o.total, query.window_minutes),
            p50_ms: o.p50_ms,
            p95_ms: o.p95_ms,
            p99_ms: o.p99_ms,
        },
        job_performance,
        throughput: Throughput {
            labels,
            series,
            alerts: data.alerts.clone(),
            peak_by_site: peaks(data),
            rate_limited: data.rate_limited.clone(),
        },
        failures: data.failures.clone(),
        slow_jobs: data.slow_jobs.clone(),
        available_sites: data.sites.clone(),
        available_jobs: data.job_names.clone(),
        generated_at: time(to),
    }
}
