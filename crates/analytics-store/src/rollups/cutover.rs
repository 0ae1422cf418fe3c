//! Taking over a live catalogue. The catalogue's `jav.views` /
//! `jav.downloads` hold history the rollups never saw; the cut-over adds the
//! part above the totals to each film's totals as an *opening balance*
//! (recorded on the document, never in a day, week, month or year), so the
//! all-time figures and the replicas continue from the history.
//!
//! Until it has run, the flush refuses to lower a catalogue count it did not
//! write and records the film here (`analytics_cutover_pending`) with the
//! totals as they were before the flush first counted it: the opening
//! balance is the catalogue count less those, so what the product counted
//! meanwhile is kept on top.

use std::collections::HashMap;

use analytics_domain::rollup::{Counts, RollupDelta};
use analytics_domain::{Action, Domain, EntityKey, EntityType};
use chrono::Utc;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{UpdateOneModel, WriteModel};
use mongodb::Namespace;

use super::{bson_time, entity_filter, RollupStore, TOTALS};
use crate::error::StoreError;

/// Films whose catalogue counts a flush kept because the rollups do not
/// hold them: `_id` = the film's uuid.
pub const CUTOVER_PENDING: &str = "analytics_cutover_pending";
/// One document per cut-over run: what it did.
pub const CUTOVER_RUNS: &str = "analytics_cutover_runs";
/// The totals document's record of its opening balance.
pub const OPENING_BALANCE: &str = "opening_balance";

/// A film whose catalogue counts are above what the product wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unimported {
    pub uuid: String,
    /// The totals before the flush that found it counted anything.
    pub base_views: i64,
    pub base_downloads: i64,
    /// The catalogue's counts, kept.
    pub catalogue_views: i64,
    pub catalogue_downloads: i64,
}

/// A film's opening balance: catalogue history the rollups never held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub uuid: String,
    pub views: i64,
    pub downloads: i64,
}

impl RollupStore {
    /// Records films the flush kept from being lowered. The first record of
    /// a film keeps its base (later flushes only refresh what they saw).
    pub async fn record_unimported(&self, films: &[Unimported]) -> Result<(), StoreError> {
        if films.is_empty() {
            return Ok(());
        }
        let now = bson_time(Utc::now());
        let models: Vec<WriteModel> = films
            .iter()
            .map(|f| {
                WriteModel::UpdateOne(
                    UpdateOneModel::builder()
                        .namespace(Namespace::new(self.db.name(), CUTOVER_PENDING))
                        .filter(doc! {"_id": &f.uuid})
                        .update(doc! {
                            "$setOnInsert": {
                                "base_views": f.base_views,
                                "base_downloads": f.base_downloads,
                                "first_seen_at": now,
                            },
                            "$set": {
                                "catalogue_views": f.catalogue_views,
                                "catalogue_downloads": f.catalogue_downloads,
                                "last_seen_at": now,
                            },
                            "$inc": {"flushes": 1_i64},
                        })
                        .upsert(true)
                        .build(),
                )
            })
            .collect();
        self.client.bulk_write(models).ordered(false).await?;
        Ok(())
    }

    /// How many films keep counts the rollups do not hold (`/pipeline`).
    pub async fn unimported_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .db
            .collection::<Document>(CUTOVER_PENDING)
            .estimated_document_count()
            .await?)
    }

    /// The recorded bases of these films: `uuid → (views, downloads)`.
    pub async fn unimported_bases(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, (i64, i64)>, StoreError> {
        let mut cursor = self
            .db
            .collection::<Document>(CUTOVER_PENDING)
            .find(doc! {"_id": {"$in": ids}})
            .await?;
        let mut out = HashMap::new();
        while let Some(d) = cursor.try_next().await? {
            if let Ok(id) = d.get_str("_id") {
                out.insert(
                    id.to_string(),
                    (int(&d, "base_views"), int(&d, "base_downloads")),
                );
            }
        }
        Ok(out)
    }

    /// Adds opening balances to the films' totals and forgets the films'
    /// pending records (`settled`: every film of the page, balanced or not),
    /// in one transaction: a cut-over stopped anywhere and run again
    /// computes each balance from the new totals, so none is added twice.
    /// The all-time boards learn of the changed totals too.
    pub async fn apply_openings(
        &self,
        domain: &Domain,
        openings: &[Opening],
        settled: &[String],
    ) -> Result<(), StoreError> {
        let now = bson_time(Utc::now());
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let result = async {
            let mut models: Vec<WriteModel> = openings
                .iter()
                .map(|o| {
                    WriteModel::UpdateOne(
                        UpdateOneModel::builder()
                            .namespace(Namespace::new(self.db.name(), TOTALS))
                            .filter(entity_filter(domain, EntityType::Movie, &o.uuid))
                            .update(doc! {
                                "$inc": {
                                    "view": o.views,
                                    "download": o.downloads,
                                    "opening_balance.view": o.views,
                                    "opening_balance.download": o.downloads,
                                },
                                "$set": {
                                    "opening_balance.recorded_at": now,
                                    "opening_balance.source": "jav.views/jav.downloads",
                                },
                            })
                            .upsert(true)
                            .build(),
                    )
                })
                .collect();
            models.extend(settled.iter().map(|id| {
                WriteModel::DeleteOne(
                    mongodb::options::DeleteOneModel::builder()
                        .namespace(Namespace::new(self.db.name(), CUTOVER_PENDING))
                        .filter(doc! {"_id": id})
                        .build(),
                )
            }));
            if !openings.is_empty() {
                let mut delta = RollupDelta::default();
                for o in openings {
                    let entity = EntityKey {
                        domain: domain.clone(),
                        entity_type: EntityType::Movie,
                        entity_id: o.uuid.clone(),
                    };
                    delta.totals.insert(
                        entity,
                        Counts::of(&[(Action::View, o.views), (Action::Download, o.downloads)]),
                    );
                }
                self.leaderboards
                    .record_changes(Some(&mut session), &delta)
                    .await?;
            }
            if !models.is_empty() {
                self.client
                    .bulk_write(models)
                    .ordered(false)
                    .session(&mut session)
                    .await?;
            }
            Ok::<_, StoreError>(())
        }
        .await;
        match result {
            Ok(()) => Ok(session.commit_transaction().await?),
            Err(e) => {
                let _ = session.abort_transaction().await;
                Err(e)
            }
        }
    }

    /// Records a cut-over run (what it changed) in `analytics_cutover_runs`.
    pub async fn record_cutover(&self, run: &CutoverRecord) -> Result<(), StoreError> {
        let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.db
            .collection::<Document>(CUTOVER_RUNS)
            .insert_one(doc! {
                "finished_at": bson_time(Utc::now()),
                "duplicates_removed": as_i64(run.duplicates_removed),
                "films_checked": as_i64(run.films_checked),
                "films_balanced": as_i64(run.films_balanced),
                "opening_views": run.opening_views,
                "opening_downloads": run.opening_downloads,
                "legacy_keys_drained": as_i64(run.legacy_keys_drained),
                "legacy_counts_drained": run.legacy_counts_drained,
                "legacy_markers_copied": as_i64(run.legacy_markers_copied),
            })
            .await?;
        Ok(())
    }
}

/// What one cut-over run changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CutoverRecord {
    pub duplicates_removed: u64,
    pub films_checked: u64,
    pub films_balanced: u64,
    pub opening_views: i64,
    pub opening_downloads: i64,
    pub legacy_keys_drained: u64,
    pub legacy_counts_drained: i64,
    pub legacy_markers_copied: u64,
}

fn int(d: &Document, field: &str) -> i64 {
    match d.get(field) {
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Double(n)) => *n as i64,
        _ => 0,
    }
}
