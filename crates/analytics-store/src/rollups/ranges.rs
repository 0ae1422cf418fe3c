//! Reads over a range of local days: counts and sums added up, unique
//! registers merged (highest rank per register), for some entities' daily
//! documents or for the site's hours.

use std::collections::{BTreeMap, HashMap};

use analytics_domain::rollup::Counts;
use analytics_domain::unique::{Register, Sketch};
use analytics_domain::{Action, Domain, EntityType, Period, Sum};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document, RawBsonRef, RawDocument, RawDocumentBuf};

use super::{RollupStore, DAILY, HOURLY, USER_REGISTERS, VIEWER_REGISTERS};
use crate::error::StoreError;

/// Ids per `$in` read: keeps each query small enough to plan as index points.
const IDS_PER_READ: usize = 1_000;

/// An entity's (or an hour's) figures over a range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeFigures {
    pub counts: Counts,
    /// Unique viewers (entities) or users (site hours) as HyperLogLog
    /// registers; empty when registers were not asked for.
    pub uniques: Sketch,
}

/// Whether a read needs the registers (they are most of a popular
/// document's size, so reads that only rank leave them out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registers {
    Skip,
    Merge,
}

/// The registers of a document (`field.<index>: rank`) as a sketch;
/// malformed entries are ignored.
pub fn registers_of(doc: &Document, field: &str) -> Sketch {
    let mut sketch = Sketch::default();
    if let Ok(registers) = doc.get_document(field) {
        for (index, rank) in registers {
            let rank = match rank {
                Bson::Int32(n) => i64::from(*n),
                Bson::Int64(n) => *n,
                _ => continue,
            };
            if let (Ok(index), Ok(rank)) = (index.parse(), u8::try_from(rank)) {
                sketch.merge_register(Register { index, rank });
            }
        }
    }
    sketch
}

/// One local hour of the site: every entity type's counts added up, and
/// the hour's unique users.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteHour {
    pub counts_by_type: BTreeMap<EntityType, Counts>,
    pub users: Sketch,
}

impl SiteHour {
    pub fn counts(&self) -> Counts {
        let mut all = Counts::default();
        for c in self.counts_by_type.values() {
            all.merge(c);
        }
        all
    }
}

impl RollupStore {
    /// Some entities' daily documents of some days (labels), added up per
    /// entity (absent = nothing in those days). One entity is one read of
    /// its range; several are one read per day (the day and `$in` ids are
    /// exact index points, which every MongoDB-wire server plans well, where
    /// `$in` ids with a date range can become a scan), run concurrently.
    pub async fn entity_range(
        &self,
        domain: &Domain,
        entity_type: EntityType,
        ids: &[String],
        days: &[String],
        registers: Registers,
    ) -> Result<HashMap<String, RangeFigures>, StoreError> {
        let mut filters = Vec::new();
        let base = doc! {"domain": domain.as_str(), "entity_type": entity_type.as_str()};
        match (ids, days.first(), days.last()) {
            (_, None, _) | (_, _, None) | ([], ..) => return Ok(HashMap::new()),
            ([one], Some(first), Some(last)) => {
                let mut f = base.clone();
                f.insert("entity_id", one);
                f.insert(Period::Day.field(), doc! {"$gte": first, "$lte": last});
                filters.push(f);
            }
            (many, ..) => {
                for day in days {
                    for chunk in many.chunks(IDS_PER_READ) {
                        let mut f = base.clone();
                        f.insert(Period::Day.field(), day);
                        f.insert("entity_id", doc! {"$in": chunk});
                        filters.push(f);
                    }
                }
            }
        }
        let reads = filters
            .into_iter()
            .map(|f| self.daily_documents(f, registers));
        let mut out: HashMap<String, RangeFigures> = HashMap::with_capacity(ids.len());
        let mut folded = 0;
        for docs in futures_util::future::try_join_all(reads).await? {
            for doc in docs {
                breathe(&mut folded, &doc).await;
                let Ok(id) = doc.get_str("entity_id") else {
                    continue;
                };
                let figures = out.entry(id.to_string()).or_default();
                figures.counts.merge(&raw_counts(&doc));
                if registers == Registers::Merge {
                    if let Ok(viewers) = doc.get_document(VIEWER_REGISTERS) {
                        merge_raw_registers(&mut figures.uniques, viewers);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Daily documents as raw BSON (a popular film's day holds thousands
    /// of register fields).
    async fn daily_documents(
        &self,
        filter: Document,
        registers: Registers,
    ) -> Result<Vec<RawDocumentBuf>, StoreError> {
        let collection = self.db.collection::<RawDocumentBuf>(DAILY);
        let mut find = collection.find(filter);
        if registers == Registers::Skip {
            find = find.projection(super::counts_projection());
        }
        Ok(find.await?.try_collect().await?)
    }

    /// The site's hours between two dates (inclusive), keyed by (date,
    /// hour): the slot documents of every entity type added up, and the
    /// unique users of the `site` documents merged. One read per entity
    /// type (the index's prefix), run concurrently, each folded as it
    /// streams in and read as raw BSON: a week of a busy site is over a
    /// million register fields, which parsed into documents would cost
    /// seconds and a hundred megabytes.
    pub async fn site_hours(
        &self,
        domain: &Domain,
        from: &str,
        to: &str,
    ) -> Result<BTreeMap<(String, u8), SiteHour>, StoreError> {
        let hourly = self.db.collection::<RawDocumentBuf>(HOURLY);
        let reads = EntityType::ALL.map(|entity_type| {
            let filter = doc! {"domain": domain.as_str(), "entity_type": entity_type.as_str(),
            "date": {"$gte": from, "$lte": to}};
            let hourly = hourly.clone();
            async move {
                let mut cursor = hourly.find(filter).await?;
                let mut hours: BTreeMap<(String, u8), SiteHour> = BTreeMap::new();
                let mut folded = 0;
                while let Some(doc) = cursor.try_next().await? {
                    breathe(&mut folded, &doc).await;
                    let (Ok(date), Ok(hour)) = (doc.get_str("date"), doc.get_i32("hour")) else {
                        continue;
                    };
                    let Ok(hour) = u8::try_from(hour) else {
                        continue;
                    };
                    let slot = hours.entry((date.to_string(), hour)).or_default();
                    if entity_type == EntityType::Site {
                        if let Ok(users) = doc.get_document(USER_REGISTERS) {
                            merge_raw_registers(&mut slot.users, users);
                        }
                    } else {
                        slot.counts_by_type
                            .entry(entity_type)
                            .or_default()
                            .merge(&raw_counts(&doc));
                    }
                }
                Ok::<_, StoreError>(hours)
            }
        });
        let mut out: BTreeMap<(String, u8), SiteHour> = BTreeMap::new();
        for hours in futures_util::future::try_join_all(reads).await? {
            for (key, hour) in hours {
                let slot = out.entry(key).or_default();
                slot.users.merge(&hour.users);
                for (t, c) in hour.counts_by_type {
                    slot.counts_by_type.entry(t).or_default().merge(&c);
                }
            }
        }
        Ok(out)
    }
}

/// BSON bytes folded between two yields (a couple of milliseconds of
/// parsing; a busy site hour's registers are about 100 KiB).
const FOLD_SLICE_BYTES: usize = 128 * 1024;

/// Yields to the worker's other tasks each time [`FOLD_SLICE_BYTES`] more
/// have been folded: an HTTP worker is one thread, and folding a week of
/// register documents in one go would stall every other request it serves
/// for a second. Counted in bytes, not documents: one register document
/// weighs as much as a thousand plain ones.
async fn breathe(folded: &mut usize, doc: &RawDocument) {
    let before = *folded / FOLD_SLICE_BYTES;
    *folded += doc.as_bytes().len();
    if *folded / FOLD_SLICE_BYTES != before {
        tokio::task::yield_now().await;
    }
}

fn raw_number(value: RawBsonRef<'_>) -> Option<i64> {
    match value {
        RawBsonRef::Int32(n) => Some(i64::from(n)),
        RawBsonRef::Int64(n) => Some(n),
        RawBsonRef::Double(n) => Some(n as i64),
        _ => None,
    }
}

/// `counts_of` of a raw document.
fn raw_counts(doc: &RawDocument) -> Counts {
    let mut counts = Counts::default();
    for (field, value) in doc.iter().flatten() {
        let Some(n) = raw_number(value) else {
            continue;
        };
        if let Some(action) = Action::parse(field) {
            counts.add(action, n);
        } else if let Some(sum) = Sum::parse(field) {
            counts.add_sum(sum, n);
        }
    }
    counts
}

/// [`registers_of`] of a raw registers document.
fn merge_raw_registers(sketch: &mut Sketch, registers: &RawDocument) {
    for (index, rank) in registers.iter().flatten() {
        let (Ok(index), Some(rank)) = (index.parse(), raw_number(rank)) else {
            continue;
        };
        if let Ok(rank) = u8::try_from(rank) {
            sketch.merge_register(Register { index, rank });
        }
    }
}
