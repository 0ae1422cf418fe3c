//! The summary's response body: the shape the operator page (and the PHP
//! page before it) reads, field for field.

use std::collections::HashMap;

use analytics_domain::job_summary::{per_second, percent, SummaryQuery};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::{JobSummaryData, MAX_SERIES, ROW_TIME_FORMAT};

fn time(t: DateTime<Utc>) -> String {
    t.format(ROW_TIME_FORMAT).to_string()
}

/// Per-site start counts on the window's labels, busiest sites first.
fn throughput_series(labels: &[String], data: &JobSummaryData) -> Vec<Value> {
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
        .map(|(site, (points, total))| json!({"site": site, "points": points, "total_started": total}))
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

/// The response body: the shape the existing operator page reads, field for field.
pub fn summary_body(query: &SummaryQuery, now: DateTime<Utc>, data: &JobSummaryData) -> Value {
    let (from, to) = query.window(now);
    let o = &data.overview;
    let labels = query.labels(now);
    let series = throughput_series(&labels, data);
    let peak_by_site = peaks(data);
    let jobs: Vec<Value> = data
        .jobs
        .iter()
        .map(|j| {
            json!({
                "job_name": j.job_name, "total": j.total, "failed": j.failed,
                "fail_rate": percent(j.failed, j.total),
                "p50_ms": j.p50_ms, "p95_ms": j.p95_ms, "p99_ms": j.p99_ms, "max_ms": j.max_ms,
            })
        })
        .collect();
    json!({
        "filters": {
            "window_minutes": query.window_minutes,
            "site": query.site,
            "job_name": query.job_name,
            "limit": query.limit,
        },
        "window": {"from": time(from), "to": time(to)},
        "overview": {
            // Not in the legacy payload: the starts of every site, for the
            // operator page's card (the series stop at eight sites).
            "total_started": data.starts.iter().map(|s| s.count).sum::<u64>(),
            "total_completed": o.total,
            "success": o.success,
            "failed": o.failed,
            "success_rate": percent(o.success, o.total),
            "fail_rate": percent(o.failed, o.total),
            "timeout_count": o.timeouts,
            "timeout_rate": percent(o.timeouts, o.total),
            "throughput_per_sec": per_second(o.total, query.window_minutes),
            "p50_ms": o.p50_ms,
            "p95_ms": o.p95_ms,
            "p99_ms": o.p99_ms,
        },
        "job_performance": jobs,
        "throughput": {
            "labels": labels,
            "series": series,
            "alerts": data.alerts,
            "peak_by_site": peak_by_site,
            "rate_limited": data.rate_limited,
        },
        "failures": data.failures,
        "slow_jobs": data.slow_jobs,
        "available_sites": data.sites,
        "available_jobs": data.job_names,
        "generated_at": time(to),
    })
}
