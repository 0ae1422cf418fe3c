//! The job telemetry summary's reads, each one aggregation
//! whose result is small: counts, nearest-rank percentiles, the top rows.
//! The PHP page this replaces loaded up to 50,000 rows and worked on them
//! in memory; here the server does the work, whatever the window holds.

use std::collections::BTreeSet;

use analytics_domain::job_event::{JobEventType, RATE_ALERT_EVENT_TYPE};
use analytics_domain::job_summary::SummaryQuery;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{self, doc, Bson, DateTime as BsonDateTime, Document};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::job_events::JobEventStore;

mod body;
mod facets;

pub use body::{
    summary_body, JobPerformanceRow, JobSummary, SiteSeries, SummaryFilters, SummaryOverview,
    SummaryWindow, Throughput,
};

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
        let mut ended = filtered.clone();
        ended.insert("event_type", doc! {"$in": ENDED.to_vec()});
        let mut started = filtered;
        started.insert("event_type", JobEventType::Started.as_str());
        let choices = doc! {
            "timestamp": window,
            "event_type": {"$in": [
                JobEventType::Started.as_str(),
                JobEventType::Completed.as_str(),
                JobEventType::Failed.as_str(),
            ]},
        };
        let (ended, started, choices, rates) = tokio::try_join!(
            self.facets(ended, facets::ended(limit)),
            self.facets(started, facets::started(query)),
            self.facets(choices, facets::choices()),
            self.facets(rates, facets::rates(limit)),
        )?;

        let mut overview: EndedOverview = first(facet(&ended, "counts"))?.unwrap_or_default();
        if let Some(p) = first::<Percentiles>(facet(&ended, "percentiles"))? {
            (overview.p50_ms, overview.p95_ms, overview.p99_ms) = (p.p50_ms, p.p95_ms, p.p99_ms);
        }
        Ok(JobSummaryData {
            overview,
            jobs: job_performance(&ended)?,
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

/// Each job's counts with its percentiles, as the ended attempts' facets
/// hold them apart.
fn job_performance(ended: &Document) -> Result<Vec<JobPerformance>, StoreError> {
    let by_job: Vec<Percentiles> = all(facet(ended, "job_percentiles"))?;
    Ok(all::<JobCounts>(facet(ended, "jobs"))?
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
        .collect())
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
