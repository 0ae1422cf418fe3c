//! Week, month and year documents of the layout before those periods moved
//! into the totals documents (one collection per period, one document per
//! entity and bucket, so a flush wrote five documents per film). `migrate`
//! folds them in: each chunk's counts are added to their entities' totals
//! and the chunk's documents deleted in one transaction, so a document is
//! folded exactly once however often a stopped `migrate` runs again, and
//! flushes of the new layout may run meanwhile (`$inc` adds to what they
//! wrote). The emptied collections are left in place: a flush of the old
//! version still running during a deploy would write into them, and the
//! next `migrate` folds that too.

use analytics_domain::Period;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{UpdateOneModel, WriteModel};
use mongodb::{ClientSession, Namespace};

use super::updates::period_increments;
use super::{counts_of, period_counts_field, RollupStore, TOTALS};
use crate::error::StoreError;

/// The collections of the old layout, by period.
pub const LEGACY_PERIOD_COLLECTIONS: [(Period, &str); 3] = [
    (Period::Week, "analytics_entity_weekly"),
    (Period::Month, "analytics_entity_monthly"),
    (Period::Year, "analytics_entity_yearly"),
];

/// Documents folded per transaction (each is one update and one delete).
const FOLD_CHUNK: i64 = 500;

impl RollupStore {
    /// Folds every document of the old week, month and year collections
    /// into its entity's totals document; returns how many were folded.
    pub async fn fold_legacy_periods(&self) -> Result<u64, StoreError> {
        let mut folded = 0;
        for (period, collection) in LEGACY_PERIOD_COLLECTIONS {
            loop {
                let n = self.fold_chunk(period, collection).await?;
                if n == 0 {
                    break;
                }
                folded += n;
            }
        }
        if folded > 0 {
            tracing::info!(
                folded,
                "week, month and year documents folded into the totals"
            );
        }
        Ok(folded)
    }

    /// Folds up to [`FOLD_CHUNK`] documents of one old collection; returns
    /// how many (0 when it is empty).
    async fn fold_chunk(&self, period: Period, collection: &str) -> Result<u64, StoreError> {
        let mut session = self.client.start_session().await?;
        session.start_transaction().await?;
        let result = self.fold_in(&mut session, period, collection).await;
        match result {
            Ok(0) => {
                let _ = session.abort_transaction().await;
                Ok(0)
            }
            Ok(n) => {
                session.commit_transaction().await?;
                Ok(n)
            }
            Err(e) => {
                let _ = session.abort_transaction().await;
                Err(e)
            }
        }
    }

    async fn fold_in(
        &self,
        session: &mut ClientSession,
        period: Period,
        collection: &str,
    ) -> Result<u64, StoreError> {
        let old = self.db.collection::<Document>(collection);
        let mut cursor = old
            .find(doc! {})
            .projection(super::counts_projection())
            .limit(FOLD_CHUNK)
            .session(&mut *session)
            .await?;
        let mut docs = Vec::new();
        while let Some(d) = cursor.next(&mut *session).await.transpose()? {
            docs.push(d);
        }
        if docs.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Bson> = docs
            .iter()
            .map(|d| d.get("_id").cloned().unwrap_or(Bson::Null))
            .collect();
        // Deleted first: a concurrent `migrate` that read the same documents
        // deletes fewer than it read and gives up its chunk, so none is
        // added twice.
        let deleted = old
            .delete_many(doc! {"_id": {"$in": &ids}})
            .session(&mut *session)
            .await?
            .deleted_count;
        if deleted != ids.len() as u64 {
            return Err(StoreError::Protocol {
                store: "mongodb",
                detail: format!("{collection} changed while it was folded; run migrate again"),
            });
        }
        let field = period_counts_field(period).unwrap_or(period.field());
        let totals = Namespace::new(self.db.name(), TOTALS);
        let mut models = Vec::with_capacity(docs.len());
        for d in &docs {
            let (Ok(domain), Ok(entity_type), Ok(entity_id), Ok(label)) = (
                d.get_str("domain"),
                d.get_str("entity_type"),
                d.get_str("entity_id"),
                d.get_str(period.field()),
            ) else {
                tracing::warn!(collection, id = ?d.get("_id"), "malformed period document dropped");
                continue;
            };
            let inc = period_increments(&format!("{field}.{label}"), &counts_of(d));
            if inc.is_empty() {
                continue;
            }
            models.push(WriteModel::UpdateOne(
                UpdateOneModel::builder()
                    .namespace(totals.clone())
                    .filter(
                        doc! {"domain": domain, "entity_type": entity_type, "entity_id": entity_id},
                    )
                    .update(doc! {"$inc": inc})
                    .upsert(true)
                    .build(),
            ));
        }
        self.bulk_write_in(session, models).await?;
        Ok(deleted)
    }
}
