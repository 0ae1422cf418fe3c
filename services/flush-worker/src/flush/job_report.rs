//! The flush reports each run as a job event (`analytics:flush`), so
//! operators see it in the job telemetry like any other queue job.

use analytics_domain::job_event::{JobEvent, JobEventType};
use chrono::Utc;

use super::FlushReport;
use crate::stores::Stores;

/// The job name the flush reports itself under in `job_events`.
pub const FLUSH_JOB_NAME: &str = "analytics:flush";

/// Reports this run as a job event (`analytics:flush`), so operators see the
/// flush like any other queue job. Best effort: telemetry never fails a flush.
pub(super) async fn send(
    stores: &Stores,
    run_id: &str,
    event_type: JobEventType,
    at: chrono::DateTime<Utc>,
    report: &FlushReport,
) {
    let mut meta = std::collections::BTreeMap::new();
    if event_type != JobEventType::Started {
        for (k, v) in [
            ("keys", report.keys),
            ("batches", report.batches),
            ("documents", report.documents),
            ("errors", report.errors),
            ("skipped_partitions", report.skipped_partitions),
            ("replicas_deferred", report.replicas_deferred),
            ("transaction_retries", report.transaction_retries),
            ("log_entries", report.log_entries),
            ("log_rows", report.log_rows),
        ] {
            meta.insert(k.to_string(), serde_json::json!(v));
        }
    }
    let event = JobEvent {
        event_type,
        job_uuid: run_id.to_string(),
        job_name: FLUSH_JOB_NAME.to_string(),
        queue: "cron".into(),
        connection: None,
        attempt: 1,
        site: "analytics".into(),
        source: "flush-worker".into(),
        url: None,
        timestamp: at.fixed_offset(),
        duration_ms: None,
        error_class: (event_type == JobEventType::Failed).then(|| "FlushErrors".to_string()),
        error_code: None,
        error_message_short: (event_type == JobEventType::Failed).then(|| {
            format!(
                "{} partition or round errors; see the flush log",
                report.errors
            )
        }),
        timeout_ms_observed: None,
        worker_host: std::env::var("HOSTNAME").ok(),
        payload_meta: meta,
    };
    let record = stores.jobs.record(&event);
    if let Err(e) = stores.step("mongodb: the job event", record).await {
        tracing::warn!(error = %e, "could not record the flush as a job event");
    }
}
