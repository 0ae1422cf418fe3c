//! The store side of `flush-worker rebuild`: the raw-log events of a range
//! of local days, what the day and hour documents of the range hold now,
//! and writing the correction (counts by increments, under the ledger like
//! a flush batch; registers replaced). Reading the log is in `log.rs`.

use std::collections::{BTreeMap, BTreeSet};

use analytics_domain::rebuild::Current;
use analytics_domain::rollup::{BucketKey, Counts, DayKey, HourlyKey, PeriodOrd, RollupDelta};
use analytics_domain::unique::Sketch;
use analytics_domain::{Domain, EntityKey, EntityType, Period};
use chrono::NaiveDate;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{UpdateOneModel, WriteModel};
use mongodb::Namespace;

use super::apply::BatchDelta;
use super::{counts_of, RollupStore, DAILY, HOURLY, USER_REGISTERS, VIEWER_REGISTERS};
use crate::error::StoreError;

mod log;

pub use log::{LogWindow, LoggedEntity};

/// Register writes per bulk call.
const REGISTER_WRITES: usize = 1000;

impl RollupStore {
    /// The entities with day documents in `from..=to` (of one entity type
    /// or all): a rebuild corrects these too, though the log may have none
    /// of their events.
    pub async fn entities_with_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        entity_type: Option<EntityType>,
    ) -> Result<BTreeSet<EntityKey>, StoreError> {
        let filter = days_filter(from, to, entity_type);
        let mut found = self
            .db
            .collection::<Document>(DAILY)
            .find(filter)
            .projection(doc! {"domain": 1, "entity_type": 1, "entity_id": 1})
            .await?;
        let mut entities = BTreeSet::new();
        while let Some(d) = found.try_next().await? {
            if let Some(entity) = entity_of(&d) {
                entities.insert(entity);
            }
        }
        Ok(entities)
    }

    /// What the day documents of `from..=to` of `ids` (entities of one
    /// domain and type) hold now.
    pub async fn current_days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        domain: &Domain,
        entity_type: EntityType,
        ids: &[String],
    ) -> Result<BTreeMap<BucketKey, Counts>, StoreError> {
        let filter = doc! {
            "domain": domain.as_str(), "entity_type": entity_type.as_str(),
            "entity_id": {"$in": ids.to_vec()}, "date": dates(from, to),
        };
        let mut found = self
            .db
            .collection::<Document>(DAILY)
            .find(filter)
            .projection(doc! {VIEWER_REGISTERS: 0})
            .await?;
        let mut days = BTreeMap::new();
        while let Some(d) = found.try_next().await? {
            if let Some(entity) = entity_of(&d) {
                let label = d.get_str("date").unwrap_or_default().to_string();
                let key = BucketKey {
                    period: PeriodOrd::of(Period::Day),
                    entity,
                    label,
                };
                days.insert(key, counts_of(&d));
            }
        }
        Ok(days)
    }

    /// What the hour documents of `from..=to` hold now (of one entity type
    /// or all; a few per hour, whatever the catalogue's size).
    pub async fn current_hours(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        entity_type: Option<EntityType>,
    ) -> Result<BTreeMap<HourlyKey, Counts>, StoreError> {
        let filter = days_filter(from, to, entity_type);
        let mut found = self
            .db
            .collection::<Document>(HOURLY)
            .find(filter)
            .projection(doc! {USER_REGISTERS: 0})
            .await?;
        let mut hours = BTreeMap::new();
        while let Some(h) = found.try_next().await? {
            if let Some(key) = hourly_key_of(&h) {
                hours.insert(key, counts_of(&h));
            }
        }
        Ok(hours)
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
                    // A rebuild's chunks are applied one after another.
                    sequence: "rebuild",
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
        day_viewers: &BTreeMap<DayKey, Sketch>,
        hour_users: &BTreeMap<HourlyKey, Sketch>,
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
        let by_day: BTreeMap<BucketKey, &Sketch> = day_viewers
            .iter()
            .map(|(k, s)| (k.day_bucket(), s))
            .collect();
        let days: BTreeSet<&BucketKey> = current.days.keys().chain(by_day.keys()).collect();
        let hours: BTreeSet<&HourlyKey> = site_hours.iter().chain(hour_users.keys()).collect();
        let daily = Namespace::new(self.db.name(), DAILY);
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
            "date": dates(from, to)})
            .projection(doc! {USER_REGISTERS: 0})
            .await?;
        let found: Vec<Document> = found.try_collect().await?;
        Ok(found.iter().filter_map(hourly_key_of).collect())
    }
}

/// The `date` condition of the days `from..=to`.
fn dates(from: NaiveDate, to: NaiveDate) -> Document {
    doc! {"$gte": from.to_string(), "$lte": to.to_string()}
}

/// The documents of the days `from..=to`, of one entity type or all.
fn days_filter(from: NaiveDate, to: NaiveDate, entity_type: Option<EntityType>) -> Document {
    let mut filter = doc! {"date": dates(from, to)};
    if let Some(t) = entity_type {
        filter.insert("entity_type", t.as_str());
    }
    filter
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
