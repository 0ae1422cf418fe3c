//! MongoDB `job_events` (fields and indexes as the existing workers and pages use them): one document per job lifecycle event,
//! expiring after the retention period, with the legacy indexes.

use std::time::Duration;

use analytics_domain::job_event::{JobEvent, JobEventType, RATE_ALERT_EVENT_TYPE};
use analytics_domain::job_summary::RateThresholds;
use chrono::Utc;
use mongodb::bson::{doc, Bson, DateTime as BsonDateTime, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};

use crate::error::StoreError;

pub const JOB_EVENTS: &str = "job_events";

#[derive(Clone)]
pub struct JobEventStore {
    events: Collection<Document>,
    retention: Duration,
}

fn millis(t: chrono::DateTime<Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(t.timestamp_millis())
}

impl JobEventStore {
    pub fn new(db: &Database, retention: Duration) -> Self {
        JobEventStore {
            events: db.collection(JOB_EVENTS),
            retention,
        }
    }

    pub(crate) fn collection(&self) -> &Collection<Document> {
        &self.events
    }

    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        let plain = |keys: Document| IndexModel::builder().keys(keys).build();
        self.events
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! {"expire_at": 1})
                    .options(
                        IndexOptions::builder()
                            .name("job_events_expire_at_ttl".to_string())
                            .expire_after(Duration::ZERO)
                            .build(),
                    )
                    .build(),
                plain(doc! {"timestamp": -1}),
                plain(doc! {"status": 1, "timestamp": -1}),
                plain(doc! {"site": 1, "timestamp": -1}),
                plain(doc! {"job_name": 1, "timestamp": -1}),
                plain(doc! {"second_bucket": 1, "site": 1}),
                plain(doc! {"job_uuid": 1, "attempt": 1, "event_type": 1}),
                // The summary's reads: one event type over a time window.
                plain(doc! {"event_type": 1, "timestamp": -1}),
            ])
            .await?;
        Ok(())
    }

    /// The start time of an attempt, if its `started` event was recorded.
    async fn started_at(
        &self,
        job_uuid: &str,
        attempt: u32,
    ) -> Result<Option<BsonDateTime>, StoreError> {
        let found = self
            .events
            .find_one(doc! {"job_uuid": job_uuid, "attempt": i64::from(attempt),
            "event_type": JobEventType::Started.as_str()})
            .sort(doc! {"timestamp": -1})
            .await?;
        Ok(found.and_then(|d| d.get_datetime("timestamp").ok().copied()))
    }

    /// Stores an event. An attempt's end without a duration gets one from
    /// its recorded start (the legacy kept timers in a cache that could
    /// expire or not be shared; the start event is durable here).
    /// Returns the stored duration.
    pub async fn record(&self, e: &JobEvent) -> Result<Option<i64>, StoreError> {
        let at = e.timestamp.with_timezone(&Utc);
        let mut duration = e.duration_ms;
        if duration.is_none() && e.event_type.ends_attempt() {
            if let Some(started) = self.started_at(&e.job_uuid, e.attempt).await? {
                duration = Some((at.timestamp_millis() - started.timestamp_millis()).max(0));
            }
        }
        let opt_i = |v: Option<i64>| v.map_or(Bson::Null, Bson::Int64);
        let meta: Document = e
            .payload_meta
            .iter()
            .filter_map(|(k, v)| mongodb::bson::to_bson(v).ok().map(|b| (k.clone(), b)))
            .collect();
        let retention = chrono::Duration::from_std(self.retention).unwrap_or_default();
        let second = at.timestamp_millis() / 1000 * 1000;
        let doc = doc! {
            "event_type": e.event_type.as_str(),
            "status": e.event_type.status(),
            "job_uuid": &e.job_uuid,
            "job_name": &e.job_name,
            "queue": &e.queue,
            "connection": optional_text(&e.connection),
            "attempt": i64::from(e.attempt),
            "site": &e.site,
            "source": &e.source,
            "url": optional_text(&e.url),
            "timestamp": millis(at),
            "second_bucket": BsonDateTime::from_millis(second),
            "duration_ms": opt_i(duration),
            "error_class": optional_text(&e.error_class),
            "error_code": opt_i(e.error_code),
            "error_message_short": optional_text(&e.error_message_short),
            "timeout_ms_observed": opt_i(e.timeout_ms_observed),
            "worker_host": optional_text(&e.worker_host),
            "payload_meta": meta,
            "expire_at": millis(at + retention),
        };
        self.events.insert_one(doc).await?;
        Ok(duration)
    }

    /// Records that `site` started `jobs_per_second` jobs in `second`, at or
    /// over the threshold of `level`: one document per site, second and
    /// level (its id says which), however many starts or retries report
    /// it; `jobs_per_second` keeps the highest count seen.
    pub async fn record_rate_alert(&self, alert: &RateAlert<'_>) -> Result<(), StoreError> {
        let second = alert.second.timestamp_millis() / 1000 * 1000;
        let at = BsonDateTime::from_millis(second);
        let retention = chrono::Duration::from_std(self.retention).unwrap_or_default();
        let id = format!("rate:{}:{}:{}", alert.site, second / 1000, alert.level);
        let e = alert.event;
        self.events
            .update_one(
                doc! {"_id": id},
                doc! {
                    "$setOnInsert": {
                        "event_type": RATE_ALERT_EVENT_TYPE,
                        "status": alert.level,
                        "timestamp": at,
                        "second_bucket": at,
                        "site": alert.site,
                        "warning_threshold": to_i64(alert.thresholds.warning),
                        "critical_threshold": to_i64(alert.thresholds.critical),
                        "job_name": &e.job_name,
                        "queue": &e.queue,
                        "connection": optional_text(&e.connection),
                        "worker_host": optional_text(&e.worker_host),
                        "expire_at": millis(alert.second + retention),
                    },
                    "$max": {"jobs_per_second": to_i64(alert.jobs_per_second)},
                },
            )
            .upsert(true)
            .await?;
        Ok(())
    }
}

/// An optional text field: the text, or null.
fn optional_text(v: &Option<String>) -> Bson {
    v.as_ref().map_or(Bson::Null, |s| Bson::String(s.clone()))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A site's starts in one second reached a threshold.
pub struct RateAlert<'a> {
    pub site: &'a str,
    pub second: chrono::DateTime<Utc>,
    pub level: &'static str,
    pub jobs_per_second: u64,
    pub thresholds: RateThresholds,
    /// The start that reached it.
    pub event: &'a JobEvent,
}
