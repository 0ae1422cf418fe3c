//! The job telemetry summary's reads, each one aggregation
//! whose result is small: counts, nearest-rank percentiles, the top rows.
//! The PHP page this replaces loaded up to 50,000 rows and worked on them
//! in memory; here the server does the work, whatever the window holds.

use std::collections::BTreeSet;

use std::collections::HashMap;

use analytics_domain::job_event::{JobEventType, RATE_ALERT_EVENT_TYPE};
use analytics_domain::job_summary::{per_second, percent, SummaryQuery};
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{self, doc, Bson, DateTime as BsonDateTime, Document};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::StoreError;
use crate::job_events::JobEventStore;

/// The percentiles the summary reports, in percent.
const PERCENTILES: [(u32, &str); 3] = [(50, "p50_ms"), (95, "p95_ms"), (99, "p99_ms")];
/// Stored `event_type`s that end an attempt (the legacy's "completed" rows).
const ENDED: [&str; 2] = [
    JobEventType::Completed.as_str(),
    JobEventType::Failed.as_str(),
];
const ROW_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// The legacy chart shows at most this many sites (and peaks).
const MAX_SERIES: usize = 8;
/// At most this many rate alerts (and producer-side rate-limited events)
/// are returned.
pub const MAX_ALERTS: i64 = 1000;

/// Counts and percentiles over the attempts that ended in the window.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
pub struct EndedOverview {
    pub total: u64,
    pub success: u64,
    pub failed: u64,
    pub timeouts: u64,
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub p99_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct JobPerformance {
    pub job_name: String,
    pub total: u64,
    pub failed: u64,
    pub p50_ms: Option<i64>,
    pub p95_ms: Option<i64>,
    pub p99_ms: Option<i64>,
    pub max_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FailureRow {
    pub timestamp: String,
    pub site: Option<String>,
    pub job_name: Option<String>,
    pub error_class: Option<String>,
    pub error_code: Option<i64>,
    pub error_message_short: Option<String>,
    pub timeout_ms_observed: Option<i64>,
    pub duration_ms: Option<i64>,
    pub attempt: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SlowJobRow {
    pub timestamp: String,
    pub site: Option<String>,
    pub job_name: Option<String>,
    pub status: Option<String>,
    pub duration_ms: Option<i64>,
    pub error_class: Option<String>,
}

/// Starts of one site in one chart label.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StartsInLabel {
    pub site: String,
    pub label: String,
    pub count: u64,
}

/// A rate alert as recorded at ingest: a site's starts in one second
/// reached a threshold (`status` is its level).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RateAlertRow {
    pub timestamp: String,
    pub site: String,
    pub status: String,
    pub jobs_per_second: i64,
    pub warning_threshold: i64,
    pub critical_threshold: i64,
}

/// A job its producer held back because a site's own limit was reached.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RateLimitedRow {
    pub timestamp: String,
    pub site: Option<String>,
    pub job_name: Option<String>,
    pub queue: Option<String>,
    pub error_message_short: Option<String>,
}

/// Everything the summary reads from `job_events`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobSummaryData {
    pub overview: EndedOverview,
    pub jobs: Vec<JobPerformance>,
    pub failures: Vec<FailureRow>,
    pub slow_jobs: Vec<SlowJobRow>,
    pub starts: Vec<StartsInLabel>,
    /// Newest first (critical before warning within a second).
    pub alerts: Vec<RateAlertRow>,
    pub rate_limited: Vec<RateLimitedRow>,
    pub sites: Vec<String>,
    pub job_names: Vec<String>,
}

/// The 1-based nearest rank of percentile `p` among `$n` sorted values:
/// ceil(p·n/100), at least 1 (the legacy's index ceil(p·n) − 1, counted
/// from 1). An integer numerator over 100 keeps whole results exact.
fn nearest_rank(p: u32) -> Document {
    doc! {"$max": [1, {"$ceil": {"$divide": [{"$multiply": [i64::from(p), "$n"]}, 100]}}]}
}

/// Ranks the numeric durations (within each `partition`, if given) and
/// groups them back with each percentile's value: streaming, so the server
/// never holds a group's durations in one array.
fn percentile_stages(partition: Option<&str>) -> Vec<Document> {
    let mut window = doc! {
        "sortBy": {"duration_ms": 1},
        "output": {"rank": {"$documentNumber": {}}, "n": {"$count": {}}},
    };
    let key = match partition {
        Some(field) => {
            window.insert("partitionBy", field);
            Bson::String(field.to_string())
        }
        None => Bson::Null,
    };
    let mut group = doc! {"_id": key};
    for (p, name) in PERCENTILES {
        group.insert(
            name,
            doc! {"$max": {"$cond": [{"$eq": ["$rank", nearest_rank(p)]}, "$duration_ms", null]}},
        );
    }
    vec![
        doc! {"$match": {"duration_ms": {"$type": "number"}}},
        doc! {"$setWindowFields": window},
        doc! {"$group": group},
    ]
}

fn formatted_time() -> Document {
    doc! {"$dateToString": {"date": "$timestamp", "format": ROW_TIME_FORMAT, "timezone": "UTC"}}
}

fn count_where(condition: Document) -> Document {
    doc! {"$sum": {"$cond": [condition, 1, 0]}}
}

fn first<T: for<'de> Deserialize<'de>>(docs: &[Bson]) -> Result<Option<T>, StoreError> {
    docs.first()
        .and_then(Bson::as_document)
        .map(|d| bson::from_document(d.clone()))
        .transpose()
        .map_err(|e| protocol(e.to_string()))
}

fn all<T: for<'de> Deserialize<'de>>(docs: &[Bson]) -> Result<Vec<T>, StoreError> {
    docs.iter()
        .filter_map(Bson::as_document)
        .map(|d| bson::from_document(d.clone()).map_err(|e| protocol(e.to_string())))
        .collect()
}

fn protocol(detail: String) -> StoreError {
    StoreError::Protocol {
        store: "mongodb",
        detail,
    }
}

fn facet<'a>(result: &'a Document, name: &str) -> &'a [Bson] {
    result.get_array(name).map(Vec::as_slice).unwrap_or(&[])
}

impl JobEventStore {
    async fn facets(&self, matching: Document, facets: Document) -> Result<Document, StoreError> {
        let mut cursor = self
            .collection()
            .aggregate(vec![doc! {"$match": matching}, doc! {"$facet": facets}])
            .allow_disk_use(true)
            .await?;
        Ok(cursor.try_next().await?.unwrap_or_default())
    }

    /// Reads the summary of `query`'s window ending at `now`. Filters apply
    /// to everything but the lists of sites and jobs, which offer every
    /// choice the window has, and rate alerts, which are about a site
    /// whatever its jobs (the site filter only).
    pub async fn summary(
        &self,
        query: &SummaryQuery,
        now: DateTime<Utc>,
    ) -> Result<JobSummaryData, StoreError> {
        let (from, to) = query.window(now);
        let window = doc! {
            "$gte": BsonDateTime::from_millis(from.timestamp_millis()),
            "$lte": BsonDateTime::from_millis(to.timestamp_millis()),
        };
        let mut filtered = doc! {"timestamp": window.clone()};
        if let Some(site) = &query.site {
            filtered.insert("site", site);
        }
        let mut rates = filtered.clone();
        rates.insert(
            "event_type",
            doc! {"$in": [RATE_ALERT_EVENT_TYPE, JobEventType::RateLimited.as_str()]},
        );
        if let Some(job) = &query.job_name {
            filtered.insert("job_name", job);
        }
        let limit = i64::from(query.limit);
        let job_key = doc! {"$ifNull": ["$job_name", "unknown"]};

        let mut ended = filtered.clone();
        ended.insert("event_type", doc! {"$in": ENDED.to_vec()});
        let timeout = doc! {"$or": [
            {"$ne": [{"$ifNull": ["$timeout_ms_observed", null]}, null]},
            {"$regexMatch": {"input": {"$ifNull": ["$error_class", ""]}, "regex": "ConnectException"}},
        ]};
        let mut job_percentiles = vec![doc! {"$addFields": {"job": job_key.clone()}}];
        job_percentiles.extend(percentile_stages(Some("$job")));
        let ended_facets = doc! {
            "counts": [{"$group": {
                "_id": null,
                "total": {"$sum": 1},
                "success": count_where(doc! {"$eq": ["$status", "success"]}),
                "failed": count_where(doc! {"$eq": ["$status", "failed"]}),
                "timeouts": count_where(timeout),
            }}],
            "percentiles": percentile_stages(None),
            "jobs": [
                {"$group": {
                    "_id": job_key,
                    "total": {"$sum": 1},
                    "failed": count_where(doc! {"$eq": ["$status", "failed"]}),
                    "max_ms": {"$max": "$duration_ms"},
                }},
                {"$sort": {"total": -1, "_id": 1}},
                {"$limit": limit},
            ],
            "job_percentiles": job_percentiles,
            "failures": [
                {"$match": {"status": "failed"}},
                {"$sort": {"timestamp": -1, "_id": -1}},
                {"$limit": limit},
                {"$project": {
                    "_id": 0, "timestamp": formatted_time(), "site": 1, "job_name": 1,
                    "error_class": 1, "error_code": 1, "error_message_short": 1,
                    "timeout_ms_observed": 1, "duration_ms": 1, "attempt": 1,
                }},
            ],
            "slow_jobs": [
                {"$match": {"duration_ms": {"$type": "number"}}},
                {"$sort": {"duration_ms": -1, "timestamp": -1, "_id": -1}},
                {"$limit": limit},
                {"$project": {
                    "_id": 0, "timestamp": formatted_time(), "site": 1, "job_name": 1,
                    "status": 1, "duration_ms": 1, "error_class": 1,
                }},
            ],
        };

        let mut started = filtered;
        started.insert("event_type", JobEventType::Started.as_str());
        let started_facets = doc! {
            "per_label": [
                {"$group": {
                    "_id": {"site": "$site", "label": {"$dateToString": {
                        "date": "$timestamp", "format": query.label_format(), "timezone": "UTC"}}},
                    "count": {"$sum": 1},
                }},
                {"$project": {"_id": 0, "site": "$_id.site", "label": "$_id.label", "count": 1}},
            ],
        };
        let rate_facets = doc! {
            "alerts": [
                {"$match": {"event_type": RATE_ALERT_EVENT_TYPE}},
                {"$sort": {"timestamp": -1, "status": 1, "site": 1}},
                {"$limit": MAX_ALERTS},
                {"$project": {
                    "_id": 0, "timestamp": formatted_time(), "site": 1, "status": 1,
                    "jobs_per_second": 1, "warning_threshold": 1, "critical_threshold": 1,
                }},
            ],
            "rate_limited": [
                {"$match": {"event_type": JobEventType::RateLimited.as_str()}},
                {"$sort": {"timestamp": -1, "_id": -1}},
                {"$limit": limit},
                {"$project": {
                    "_id": 0, "timestamp": formatted_time(), "site": 1, "job_name": 1,
                    "queue": 1, "error_message_short": 1,
                }},
            ],
        };

        let choices = doc! {
            "timestamp": window,
            "event_type": {"$in": [
                JobEventType::Started.as_str(),
                JobEventType::Completed.as_str(),
                JobEventType::Failed.as_str(),
            ]},
        };
        let choice_facets = doc! {
            "sites": [{"$group": {"_id": "$site"}}],
            "jobs": [{"$group": {"_id": "$job_name"}}],
        };

        let (ended, started, choices, rates) = tokio::try_join!(
            self.facets(ended, ended_facets),
            self.facets(started, started_facets),
            self.facets(choices, choice_facets),
            self.facets(rates, rate_facets),
        )?;

        let mut overview: EndedOverview = first(facet(&ended, "counts"))?.unwrap_or_default();
        if let Some(p) = first::<Percentiles>(facet(&ended, "percentiles"))? {
            (overview.p50_ms, overview.p95_ms, overview.p99_ms) = (p.p50_ms, p.p95_ms, p.p99_ms);
        }
        let by_job: Vec<Percentiles> = all(facet(&ended, "job_percentiles"))?;
        let jobs = all::<JobCounts>(facet(&ended, "jobs"))?
            .into_iter()
            .map(|j| {
                let p = by_job
                    .iter()
                    .find(|p| p.id.as_deref() == Some(j.id.as_str()));
                JobPerformance {
                    p50_ms: p.and_then(|p| p.p50_ms),
                    p95_ms: p.and_then(|p| p.p95_ms),
                    p99_ms: p.and_then(|p| p.p99_ms),
                    job_name: j.id,
                    total: j.total,
                    failed: j.failed,
                    max_ms: j.max_ms,
                }
            })
            .collect();
        Ok(JobSummaryData {
            overview,
            jobs,
            failures: all(facet(&ended, "failures"))?,
            slow_jobs: all(facet(&ended, "slow_jobs"))?,
            starts: all(facet(&started, "per_label"))?,
            alerts: all(facet(&rates, "alerts"))?,
            rate_limited: all(facet(&rates, "rate_limited"))?,
            sites: distinct_names(facet(&choices, "sites")),
            job_names: distinct_names(facet(&choices, "jobs")),
        })
    }
}

/// The sorted, non-empty `_id`s of a `$group` by name.
fn distinct_names(docs: &[Bson]) -> Vec<String> {
    docs.iter()
        .filter_map(Bson::as_document)
        .filter_map(|d| d.get_str("_id").ok())
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[derive(Debug, Deserialize)]
struct Percentiles {
    #[serde(rename = "_id")]
    id: Option<String>,
    p50_ms: Option<i64>,
    p95_ms: Option<i64>,
    p99_ms: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct JobCounts {
    #[serde(rename = "_id")]
    id: String,
    total: u64,
    failed: u64,
    max_ms: Option<i64>,
}

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
