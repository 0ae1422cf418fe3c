//! The catalogue's `jav.views` / `jav.downloads`: replicas of the Mongo
//! totals, written as absolute values. When MySQL is out the flush goes on
//! applying the rollups and records the movies whose replicas wait; the end
//! of this run (if MySQL came back) or a later run writes them.
//!
//! A replica never lowers a count the product did not write (the history of
//! the system replaced): such a film is kept as it is and recorded for
//! `flush-worker cutover` (see `analytics_domain::opening`).

use std::collections::BTreeMap;

use analytics_domain::opening::{replica_write, CatalogueCounts, ReplicaWrite};
use analytics_domain::{Action, Domain, EntityType};
use analytics_store::rollups::Unimported;
use analytics_store::StoreError;

use super::FlushReport;
use crate::stores::Stores;

pub use analytics_domain::vocabulary::CATALOGUE_DOMAIN;

/// Deferred movies written per catch-up page.
const CATCH_UP_PAGE: i64 = 1000;
/// Kept films named in a log line (the rest are counted).
const KEPT_EXAMPLES: usize = 5;

/// Movies whose replicas a round writes, with what the round added to
/// their totals (`views`, `downloads`).
pub type RoundMovies = BTreeMap<String, CatalogueCounts>;

/// Writes replicas for a run, remembering whether a write failed (then the
/// rest of the run defers without trying again).
#[derive(Debug, Default)]
pub struct ReplicaWriter {
    deferring: bool,
}

impl ReplicaWriter {
    /// Writes these movies' replicas, or defers them if MySQL fails. Only
    /// a failure to record the deferral fails the round (its batches stay
    /// open, and the next run applies nothing twice and tries again).
    pub async fn write(
        &mut self,
        stores: &Stores,
        movies: RoundMovies,
        report: &mut FlushReport,
    ) -> Result<(), StoreError> {
        if movies.is_empty() {
            return Ok(());
        }
        if !self.deferring {
            match stores
                .step(
                    "mysql: the catalogue replicas",
                    sync(stores, &movies, report),
                )
                .await
            {
                Ok(updated) => {
                    report.replicas_updated += updated;
                    return Ok(());
                }
                Err(e) => {
                    self.deferring = true;
                    tracing::warn!(store = e.store(), error = %e,
                        "replica write failed; replicas deferred, rollups go on");
                }
            }
        }
        let ids: Vec<String> = movies.into_keys().collect();
        stores.rollups.defer_replicas(&ids).await?;
        report.replicas_deferred += ids.len() as u64;
        Ok(())
    }

    /// Writes the replicas that earlier rounds or runs deferred, unless a
    /// replica write failed during this run. Best effort: what is left stays
    /// recorded for the next run.
    pub async fn catch_up(&self, stores: &Stores, report: &mut FlushReport) {
        if self.deferring {
            return;
        }
        let mut after: Option<String> = None;
        loop {
            let page = match stores
                .rollups
                .deferred_replicas(after.as_deref(), CATCH_UP_PAGE)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the deferred replicas");
                    return;
                }
            };
            let Some((last, _)) = page.last() else { return };
            after = Some(last.clone());
            // What the deferred rounds added is not known here: the guard
            // compares with the totals as they are.
            let movies: RoundMovies = page
                .iter()
                .map(|(id, _)| (id.clone(), CatalogueCounts::default()))
                .collect();
            let synced = match stores
                .step(
                    "mysql: the deferred catalogue replicas",
                    sync(stores, &movies, report),
                )
                .await
            {
                Ok(updated) => updated,
                Err(e) => {
                    tracing::warn!(store = e.store(), error = %e,
                        "deferred replicas still wait for MySQL");
                    return;
                }
            };
            report.replicas_updated += synced;
            if let Err(e) = stores.rollups.clear_deferred(&page).await {
                tracing::warn!(error = %e, "could not clear the deferred replicas");
                return;
            }
        }
    }
}

/// Sets `jav.views`/`jav.downloads` of these movies to the Mongo totals,
/// except where the guard keeps a count the product did not write (those
/// are recorded while the rows are locked, so a cut-over cannot slip in
/// between). Rows are locked before the totals are read, so whichever
/// flusher writes last also read last: replicas never go backwards.
async fn sync(
    stores: &Stores,
    movies: &RoundMovies,
    report: &mut FlushReport,
) -> Result<u64, StoreError> {
    let ids: Vec<String> = movies.keys().cloned().collect();
    let lock = stores.catalogue.lock_movies(&ids).await?;
    let domain = Domain::new(CATALOGUE_DOMAIN).map_err(|e| StoreError::Config(e.to_string()))?;
    let totals = stores
        .rollups
        .totals_for(&domain, EntityType::Movie, lock.present())
        .await?;
    let bases = stores.rollups.unimported_bases(lock.present()).await?;
    let mut rows: Vec<(String, i64, i64)> = Vec::new();
    let mut kept: Vec<Unimported> = Vec::new();
    for id in lock.present() {
        let Some(t) = totals.get(id) else { continue };
        let (views, downloads) = lock.current(id).unwrap_or_default();
        let catalogue = CatalogueCounts::new(views, downloads);
        let totals = CatalogueCounts::new(t.get(Action::View), t.get(Action::Download));
        let counted = movies.get(id).copied().unwrap_or_default();
        let base = bases.get(id).map(|&(v, d)| CatalogueCounts::new(v, d));
        match replica_write(catalogue, totals, counted, base) {
            ReplicaWrite::Write(to) => rows.push((id.clone(), to.views, to.downloads)),
            ReplicaWrite::Keep { base } => kept.push(Unimported {
                uuid: id.clone(),
                base_views: base.views,
                base_downloads: base.downloads,
                catalogue_views: views,
                catalogue_downloads: downloads,
            }),
        }
    }
    if !kept.is_empty() {
        stores.rollups.record_unimported(&kept).await?;
        report.replicas_kept += kept.len() as u64;
        let examples: Vec<&str> = kept
            .iter()
            .take(KEPT_EXAMPLES)
            .map(|k| k.uuid.as_str())
            .collect();
        tracing::warn!(
            films = kept.len(),
            ?examples,
            "catalogue counts not imported — run flush-worker cutover: counts above \
             the rollups were kept, not lowered"
        );
    }
    lock.write(&rows).await
}
