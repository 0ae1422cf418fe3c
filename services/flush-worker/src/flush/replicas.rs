//! The catalogue's `jav.views` / `jav.downloads`: replicas of the Mongo
//! totals, written as absolute values. When MySQL is out the flush goes on
//! applying the rollups and records the movies whose replicas wait; the end
//! of this run (if MySQL came back) or a later run writes them.

use analytics_domain::{Action, Domain, EntityType};
use analytics_store::StoreError;

use super::FlushReport;
use crate::stores::Stores;

pub use analytics_domain::vocabulary::CATALOGUE_DOMAIN;

/// Deferred movies written per catch-up page.
const CATCH_UP_PAGE: i64 = 1000;

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
        ids: Vec<String>,
        report: &mut FlushReport,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        if !self.deferring {
            match sync(stores, &ids).await {
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
            let ids: Vec<String> = page.iter().map(|(id, _)| id.clone()).collect();
            let synced = match sync(stores, &ids).await {
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

/// Sets `jav.views`/`jav.downloads` of these movies to the Mongo totals.
/// Rows are locked before the totals are read, so whichever flusher writes
/// last also read last: replicas never go backwards.
async fn sync(stores: &Stores, ids: &[String]) -> Result<u64, StoreError> {
    let lock = stores.catalogue.lock_movies(ids).await?;
    let domain = Domain::new(CATALOGUE_DOMAIN).map_err(|e| StoreError::Config(e.to_string()))?;
    let totals = stores
        .rollups
        .totals_for(&domain, EntityType::Movie, lock.present())
        .await?;
    let rows: Vec<(String, i64, i64)> = lock
        .present()
        .iter()
        .filter_map(|id| {
            totals
                .get(id)
                .map(|c| (id.clone(), c.get(Action::View), c.get(Action::Download)))
        })
        .collect();
    lock.write(&rows).await
}
