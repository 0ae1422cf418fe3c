//! The summary's four aggregations, each a `$facet` over one `$match`: the
//! attempts that ended (counts, percentiles, jobs, failures, slow jobs),
//! the starts per site and label, the choices the filters offer, and the
//! rate alerts.

use analytics_domain::job_event::{JobEventType, RATE_ALERT_EVENT_TYPE};
use analytics_domain::job_summary::SummaryQuery;
use mongodb::bson::{doc, Bson, Document};

use super::{MAX_ALERTS, PERCENTILES, ROW_TIME_FORMAT};

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

/// Over the attempts that ended: counts, percentiles (overall and per
/// job), the busiest jobs, the latest failures and the slowest attempts.
pub(super) fn ended(limit: i64) -> Document {
    let job_key = doc! {"$ifNull": ["$job_name", "unknown"]};
    let timeout = doc! {"$or": [
        {"$ne": [{"$ifNull": ["$timeout_ms_observed", null]}, null]},
        {"$regexMatch": {"input": {"$ifNull": ["$error_class", ""]}, "regex": "ConnectException"}},
    ]};
    let mut job_percentiles = vec![doc! {"$addFields": {"job": job_key.clone()}}];
    job_percentiles.extend(percentile_stages(Some("$job")));
    doc! {
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
    }
}

/// Over the starts: how many per site and label of the window.
pub(super) fn started(query: &SummaryQuery) -> Document {
    doc! {
        "per_label": [
            {"$group": {
                "_id": {"site": "$site", "label": {"$dateToString": {
                    "date": "$timestamp", "format": query.label_format(), "timezone": "UTC"}}},
                "count": {"$sum": 1},
            }},
            {"$project": {"_id": 0, "site": "$_id.site", "label": "$_id.label", "count": 1}},
        ],
    }
}

/// Over the rate events: the latest alerts and producer-side refusals.
pub(super) fn rates(limit: i64) -> Document {
    doc! {
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
    }
}

/// Over every job event of the window: the sites and jobs to filter by.
pub(super) fn choices() -> Document {
    doc! {
        "sites": [{"$group": {"_id": "$site"}}],
        "jobs": [{"$group": {"_id": "$job_name"}}],
    }
}
