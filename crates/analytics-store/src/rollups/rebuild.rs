//! The store side of `flush-worker rebuild`: the raw-log events of a range
//! of local days, what the day and hour documents of the range hold now,
//! and writing the correction (counts by increments, under the ledger like
//! a flush batch; registers replaced).

use analytics_domain::rebuild::Current;
use analytics_domain::rollup::{BucketKey, DayKey, HourlyKey, PeriodOrd, RollupDelta};
use analytics_domain::unique::Sketch;
use analytics_domain::{Domain, EntityKey, EntityType, Period};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{UpdateOneModel, WriteModel};
use mongodb::Namespace;
use serde_json::{Map, Value};

use super::apply::BatchDelta;
use super::{counts_of, period_collection, RollupStore, HOURLY, USER_REGISTERS, VIEWER_REGISTERS};
use crate::catalogue::CatalogueStore;
use crate::error::StoreError;
use crate::event_log::{naive, LOG_TABLE};

/// Register writes per bulk call.
const REGISTER_WRITES: usize = 1000;

/// A raw-log row as the contract's JSON object, so the domain validates
/// and buckets it exactly as ingest did.
#[derive(Debug, sqlx::FromRow)]
struct LoggedRow {
    event_id: String,
    domain: String,
    entity_type: String,
    entity_id: String,
    action: String,
    value: i32,
    occurred_at: String,
    user_id: Option<String>,
    session_id: Option<String>,
    position_seconds: Option<u32>,
    duration_seconds: Option<u32>,
    watched_seconds: Option<u32>,
    query: Option<String>,
    result_count: Option<u32>,
    placement: Option<String>,
    reason: Option<String>,
    properties: Option<String>,
    filters: Option<String>,
}

impl LoggedRow {
    fn into_event(self) -> Map<String, Value> {
        let mut e = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                e.insert(k.to_string(), v);
            }
        };
        put("event_id", Some(self.event_id.into()));
        put("domain", Some(self.domain.into()));
        put("entity_type", Some(self.entity_type.into()));
        put("entity_id", Some(self.entity_id.into()));
        put("action", Some(self.action.into()));
        put("value", Some(self.value.into()));
        put("occurred_at", Some(self.occurred_at.into()));
        // The log keeps an integer id by its digits; either form buckets
        // the same (registers hash the text).
        put("user_id", self.user_id.map(Value::from));
        put("session_id", self.session_id.map(Value::from));
        put("position_seconds", self.position_seconds.map(Value::from));
        put("duration_seconds", self.duration_seconds.map(Value::from));
        put("watched_seconds", self.watched_seconds.map(Value::from));
        put("query", self.query.map(Value::from));
        put("result_count", self.result_count.map(Value::from));
        put("placement", self.placement.map(Value::from));
        put("reason", self.reason.map(Value::from));
        let json = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Value>(&s).ok());
        put("properties", json(self.properties));
        put("filters", json(self.filters));
        e
    }
}

impl CatalogueStore {
    /// Calls `each` with every raw-log event whose local date is in
    /// `from..=to`, read along the `occurred_at` index between `since` and
    /// `until` (the range widened by a day each side: every zone's local
    /// days fall inside), of one entity type or all. Returns the rows read.
    #[allow(clippy::too_many_arguments)]
    pub async fn for_each_logged(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        from: NaiveDate,
        to: NaiveDate,
        entity_type: Option<EntityType>,
        mut each: impl FnMut(Map<String, Value>),
    ) -> Result<u64, StoreError> {
        let text = |c: &str| format!("CONVERT({c} USING utf8mb4) AS {c}");
        let columns = [
            text("event_id"),
            text("domain"),
            text("entity_type"),
            text("entity_id"),
            text("action"),
            "value".into(),
            "DATE_FORMAT(occurred_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS occurred_at".into(),
            text("user_id"),
            text("session_id"),
            "position_seconds".into(),
            "duration_seconds".into(),
            "watched_seconds".into(),
            text("query"),
            "result_count".into(),
            text("placement"),
            text("reason"),
            text("properties"),
            text("filters"),
        ]
        .join(", ");
        let type_clause = if entity_type.is_some() {
            " AND entity_type = ?"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {columns} FROM {LOG_TABLE} WHERE occurred_at >= ? AND occurred_at < ? \
             AND local_date BETWEEN ? AND ?{type_clause}"
        );
        let mut q = sqlx::query_as::<_, LoggedRow>(&sql)
            .bind(naive(&since))
            .bind(naive(&until))
            .bind(from.to_string())
            .bind(to.to_string());
        if let Some(t) = entity_type {
            q = q.bind(t.as_str());
        }
        let mut rows = q.fetch(self.pool());
        let mut n = 0;
        while let Some(row) = rows.try_next().await? {
            each(row.into_event());
            n += 1;
        }
        Ok(n)
    }
}

impl RollupStore {
    /// What the day and hour documents of `from..=to` hold now (counts and
    /// sums; of one entity type or all).
    pub async fn current_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        entity_type: Option<EntityType>,
    ) -> Result<Current, StoreError> {
        let mut filter = doc! {"date": {"$gte": from.to_string(), "$lte": to.to_string()}};
        if let Some(t) = entity_type {
            filter.insert("entity_type", t.as_str());
        }
        let mut current = Current::default();
        let days = self
            .db
            .collection::<Document>(period_collection(Period::Day))
            .find(filter.clone())
            .projection(doc! {VIEWER_REGISTERS: 0})
            .await?;
        let days: Vec<Document> = days.try_collect().await?;
        for d in &days {
            if let Some(entity) = entity_of(d) {
                let label = d.get_str("date").unwrap_or_default().to_string();
                let key = BucketKey {
                    period: PeriodOrd::of(Period::Day),
                    entity,
                    label,
                };
                current.days.insert(key, counts_of(d));
            }
        }
        let hours = self
            .db
            .collection::<Document>(HOURLY)
            .find(filter)
            .projection(doc! {USER_REGISTERS: 0})
            .await?;
        let hours: Vec<Document> = hours.try_collect().await?;
        for h in &hours {
            if let Some(key) = hourly_key_of(h) {
                current.hours.insert(key, counts_of(h));
            }
        }
        Ok(current)
    }

    /// Applies a correction's counts in chunks of `entities` entities (the
    /// hour documents in a chunk of their own), each under the ledger as
    /// batch `{run}-{n}`: a chunk is applied once even if retried.
    pub async fn apply_correction(
        &self,
        run: &str,
        correction: &RollupDelta,
        entities: usize,
    ) -> Result<usize, StoreError> {
        let mut chunks: Vec<RollupDelta> = Vec::new();
        let mut current = RollupDelta::default();
        for (entity, counts) in &correction.totals {
            if current.totals.len() == entities {
                chunks.push(std::mem::take(&mut current));
            }
            current.totals.insert(entity.clone(), counts.clone());
            for period in Period::ALL {
                let from = BucketKey {
                    period: PeriodOrd::of(period),
                    entity: entity.clone(),
                    label: String::new(),
                };
                for (key, c) in correction.buckets.range(from..) {
                    if key.period != PeriodOrd::of(period) || &key.entity != entity {
                        break;
                    }
                    current.buckets.insert(key.clone(), c.clone());
                }
            }
        }
        chunks.push(current);
        let hourly: Vec<(&HourlyKey, _)> = correction.hourly.iter().collect();
        for slice in hourly.chunks(entities.max(1)) {
            chunks.push(RollupDelta {
                hourly: slice
                    .iter()
                    .map(|(k, c)| ((*k).clone(), (*c).clone()))
                    .collect(),
                ..RollupDelta::default()
            });
        }
        let mut documents = 0;
        for (n, chunk) in chunks.iter().enumerate() {
            if chunk.totals.is_empty() && chunk.hourly.is_empty() {
                continue;
            }
            let id = format!("{run}-{n}");
            let report = self
                .apply_batches(&[BatchDelta {
                    batch_id: &id,
                    keys: 0,
                    delta: chunk,
                }])
                .await?;
            documents += report.documents;
        }
        Ok(documents)
    }

    /// Replaces the unique-viewer registers of the range's day documents
    /// and the unique-user registers of its hour documents by the rebuilt
    /// ones (a document the log has none for loses its registers). Returns
    /// the documents written.
    pub async fn replace_registers(
        &self,
        current: &Current,
        day_viewers: &std::collections::BTreeMap<DayKey, Sketch>,
        hour_users: &std::collections::BTreeMap<HourlyKey, Sketch>,
        site_hours: &[HourlyKey],
    ) -> Result<usize, StoreError> {
        let registers = |s: Option<&Sketch>| -> Option<Document> {
            s.map(|s| {
                s.registers()
                    .map(|r| (r.index.to_string(), Bson::Int32(i32::from(r.rank))))
                    .collect()
            })
        };
        let update = |field: &str, value: Option<Document>| match value {
            Some(d) => doc! {"$set": {field: d}},
            None => doc! {"$unset": {field: ""}},
        };
        let by_day: std::collections::BTreeMap<BucketKey, &Sketch> = day_viewers
            .iter()
            .map(|(k, s)| (k.day_bucket(), s))
            .collect();
        let days: std::collections::BTreeSet<&BucketKey> =
            current.days.keys().chain(by_day.keys()).collect();
        let hours: std::collections::BTreeSet<&HourlyKey> =
            site_hours.iter().chain(hour_users.keys()).collect();
        let daily = Namespace::new(self.db.name(), period_collection(Period::Day));
        let hourly = Namespace::new(self.db.name(), HOURLY);
        let model = |namespace: &Namespace, filter: Document, update: Document| {
            WriteModel::UpdateOne(
                UpdateOneModel::builder()
                    .namespace(namespace.clone())
                    .filter(filter)
                    .update(update)
                    .upsert(true)
                    .build(),
            )
        };
        // Built as they are written, a thousand at a time: a week of a big
        // catalogue is hundreds of thousands of documents.
        let day_models = days.into_iter().map(|key| {
            let e = &key.entity;
            model(
                &daily,
                doc! {"domain": e.domain.as_str(), "entity_type": e.entity_type.as_str(),
                "entity_id": &e.entity_id, "date": &key.label},
                update(VIEWER_REGISTERS, registers(by_day.get(key).copied())),
            )
        });
        let hour_models = hours.into_iter().map(|key| {
            model(
                &hourly,
                doc! {"domain": key.domain.as_str(), "entity_type": key.entity_type.as_str(),
                "date": &key.date, "hour": i32::from(key.hour), "slot": i32::from(key.slot)},
                update(USER_REGISTERS, registers(hour_users.get(key))),
            )
        });
        let mut models = day_models.chain(hour_models).peekable();
        let mut written = 0;
        while models.peek().is_some() {
            let chunk: Vec<WriteModel> = models.by_ref().take(REGISTER_WRITES).collect();
            written += chunk.len();
            self.client.bulk_write(chunk).ordered(false).await?;
        }
        Ok(written)
    }

    /// The site hour documents of `from..=to` (they hold only registers).
    pub async fn site_hour_keys(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<HourlyKey>, StoreError> {
        let found = self
            .db
            .collection::<Document>(HOURLY)
            .find(doc! {"entity_type": EntityType::Site.as_str(),
            "date": {"$gte": from.to_string(), "$lte": to.to_string()}})
            .projection(doc! {USER_REGISTERS: 0})
            .await?;
        let found: Vec<Document> = found.try_collect().await?;
        Ok(found.iter().filter_map(hourly_key_of).collect())
    }
}

fn entity_of(d: &Document) -> Option<EntityKey> {
    Some(EntityKey {
        domain: Domain::new(d.get_str("domain").ok()?).ok()?,
        entity_type: EntityType::parse(d.get_str("entity_type").ok()?)?,
        entity_id: d.get_str("entity_id").ok()?.to_string(),
    })
}

fn hourly_key_of(d: &Document) -> Option<HourlyKey> {
    let int = |f: &str| match d.get(f) {
        Some(Bson::Int32(n)) => u8::try_from(*n).ok(),
        Some(Bson::Int64(n)) => u8::try_from(*n).ok(),
        _ => None,
    };
    Some(HourlyKey {
        domain: Domain::new(d.get_str("domain").ok()?).ok()?,
        entity_type: EntityType::parse(d.get_str("entity_type").ok()?)?,
        date: d.get_str("date").ok()?.to_string(),
        hour: int("hour")?,
        slot: int("slot")?,
    })
}
