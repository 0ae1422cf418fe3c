//! MongoDB `crawler_block_signals`: each failed job whose target told us to
//! back off (403, 429, 503), with the end of the cooldown it calls for, so
//! operators see which hosts block us and a crawler can ask whether a host
//! may be hit now.

use std::time::Duration;

use analytics_domain::job_event::JobEvent;
use analytics_domain::job_signals::BlockSignal;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, DateTime as BsonDateTime, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, Database, IndexModel};
use serde::Serialize;

use crate::error::StoreError;

pub const BLOCK_SIGNALS: &str = "crawler_block_signals";

#[derive(Clone)]
pub struct BlockSignalStore {
    signals: Collection<Document>,
    retention: Duration,
}

/// One recorded signal.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignalRow {
    pub target_host: String,
    #[cfg_attr(
        feature = "openapi",
        schema(schema_with = analytics_domain::job_signals::signal_type_schema)
    )]
    pub signal_type: String,
    pub status: i64,
    pub timestamp: String,
    pub cooldown_until: String,
    pub site: String,
    pub job_name: String,
    pub url: Option<String>,
}

/// A host's signals in a window, and its latest cooldown.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HostSignals {
    pub target_host: String,
    pub signals: i64,
    #[cfg_attr(
        feature = "openapi",
        schema(schema_with = analytics_domain::job_signals::signal_type_schema)
    )]
    pub last_signal_type: String,
    pub last_status: i64,
    pub last_at: String,
    /// The latest end of any cooldown of this host.
    pub cooldown_until: String,
    pub cooling_down: bool,
}

/// Whether a host may be hit at a given time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cooldown {
    pub target_host: String,
    pub allowed: bool,
    pub cooldown_until: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            schema_with = analytics_domain::job_signals::signal_type_or_none_schema,
            required = true
        )
    )]
    pub signal_type: Option<String>,
    pub status: Option<i64>,
    pub retry_after_seconds: i64,
}

fn bson_time(t: DateTime<Utc>) -> BsonDateTime {
    BsonDateTime::from_millis(t.timestamp_millis())
}

fn text_time(t: BsonDateTime) -> String {
    DateTime::from_timestamp_millis(t.timestamp_millis())
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn row_of(d: &Document) -> Option<SignalRow> {
    Some(SignalRow {
        target_host: d.get_str("target_host").ok()?.to_string(),
        signal_type: d.get_str("signal_type").ok()?.to_string(),
        status: d.get_i64("status").ok()?,
        timestamp: text_time(*d.get_datetime("timestamp").ok()?),
        cooldown_until: text_time(*d.get_datetime("cooldown_until").ok()?),
        site: d.get_str("site").ok()?.to_string(),
        job_name: d.get_str("job_name").ok()?.to_string(),
        url: d.get_str("url").ok().map(str::to_string),
    })
}

impl BlockSignalStore {
    /// For retention's prune, which needs MySQL too.
    #[cfg(feature = "mysql")]
    pub(crate) fn collection(&self) -> &Collection<Document> {
        &self.signals
    }

    pub fn new(db: &Database, retention: Duration) -> Self {
        BlockSignalStore {
            signals: db.collection(BLOCK_SIGNALS),
            retention,
        }
    }

    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        self.signals
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! {"expire_at": 1})
                    .options(
                        IndexOptions::builder()
                            .name("crawler_block_signals_expire_at_ttl".to_string())
                            .expire_after(Duration::ZERO)
                            .build(),
                    )
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"target_host": 1, "cooldown_until": -1})
                    .build(),
                IndexModel::builder().keys(doc! {"timestamp": -1}).build(),
            ])
            .await?;
        Ok(())
    }

    /// Records the signal of a failed attempt: once per attempt, however
    /// often the event is retried. The cooldown runs from the failure.
    pub async fn record(
        &self,
        e: &JobEvent,
        signal: &BlockSignal,
        target_host: &str,
    ) -> Result<DateTime<Utc>, StoreError> {
        let at = e.timestamp.with_timezone(&Utc);
        let until = at + chrono::Duration::seconds(i64::from(signal.cooldown_seconds));
        let retention = chrono::Duration::from_std(self.retention).unwrap_or_default();
        let id = format!("{}:{}", e.job_uuid, e.attempt);
        let mut fields = doc! {
            "target_host": target_host,
            "signal_type": signal.signal_type,
            "status": i64::from(signal.status),
            "level": signal.level,
            "cooldown_seconds": i64::from(signal.cooldown_seconds),
            "timestamp": bson_time(at),
            "cooldown_until": bson_time(until),
            "site": &e.site,
            "job_name": &e.job_name,
            "job_uuid": &e.job_uuid,
            "attempt": i64::from(e.attempt),
            "expire_at": bson_time(until.max(at) + retention),
        };
        if let Some(url) = &e.url {
            fields.insert("url", url);
        }
        self.signals
            .update_one(doc! {"_id": id}, doc! {"$setOnInsert": fields})
            .upsert(true)
            .await?;
        Ok(until)
    }

    /// Signals since `from` (newest first, at most `limit`), and per host
    /// its count and latest cooldown, hosts still cooling down first.
    pub async fn recent(
        &self,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
        host: Option<&str>,
        limit: i64,
    ) -> Result<(Vec<SignalRow>, Vec<HostSignals>), StoreError> {
        let mut filter = doc! {"timestamp": {"$gte": bson_time(from)}};
        if let Some(h) = host {
            filter.insert("target_host", h);
        }
        let rows: Vec<Document> = self
            .signals
            .find(filter.clone())
            .sort(doc! {"timestamp": -1, "_id": -1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        let hosts: Vec<Document> = self
            .signals
            .aggregate([
                doc! {"$match": filter},
                doc! {"$sort": {"timestamp": -1, "_id": -1}},
                doc! {"$group": {
                    "_id": "$target_host",
                    "signals": {"$sum": 1},
                    "last_signal_type": {"$first": "$signal_type"},
                    "last_status": {"$first": "$status"},
                    "last_at": {"$first": "$timestamp"},
                    "cooldown_until": {"$max": "$cooldown_until"},
                }},
            ])
            .await?
            .try_collect()
            .await?;
        let mut hosts: Vec<HostSignals> = hosts
            .iter()
            .filter_map(|d| {
                let until = *d.get_datetime("cooldown_until").ok()?;
                Some(HostSignals {
                    target_host: d.get_str("_id").ok()?.to_string(),
                    signals: d
                        .get_i64("signals")
                        .or_else(|_| d.get_i32("signals").map(i64::from))
                        .ok()?,
                    last_signal_type: d.get_str("last_signal_type").ok()?.to_string(),
                    last_status: d.get_i64("last_status").ok()?,
                    last_at: text_time(*d.get_datetime("last_at").ok()?),
                    cooldown_until: text_time(until),
                    cooling_down: until.timestamp_millis() > now.timestamp_millis(),
                })
            })
            .collect();
        hosts.sort_by(|a, b| {
            b.cooling_down
                .cmp(&a.cooling_down)
                .then(b.cooldown_until.cmp(&a.cooldown_until))
                .then(a.target_host.cmp(&b.target_host))
        });
        Ok((rows.iter().filter_map(row_of).collect(), hosts))
    }

    /// May `host` be hit at `now`: not while a cooldown of it runs.
    pub async fn cooldown(&self, host: &str, now: DateTime<Utc>) -> Result<Cooldown, StoreError> {
        let active = self
            .signals
            .find_one(doc! {"target_host": host, "cooldown_until": {"$gt": bson_time(now)}})
            .sort(doc! {"cooldown_until": -1})
            .await?;
        let until = active
            .as_ref()
            .and_then(|d| d.get_datetime("cooldown_until").ok().copied());
        Ok(Cooldown {
            target_host: host.to_string(),
            allowed: active.is_none(),
            cooldown_until: until.map(text_time),
            signal_type: active
                .as_ref()
                .and_then(|d| d.get_str("signal_type").ok().map(str::to_string)),
            status: active.as_ref().and_then(|d| d.get_i64("status").ok()),
            retry_after_seconds: until.map_or(0, |u| {
                let millis = u.timestamp_millis() - now.timestamp_millis();
                (millis + 999) / 1000
            }),
        })
    }
}
