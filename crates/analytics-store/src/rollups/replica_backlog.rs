//! Movies whose catalogue replicas (`jav.views` / `jav.downloads`) could
//! not be written because MySQL was out. The flush goes on applying the
//! rollups and records the movies here; a later run writes their absolute
//! totals and clears them. Each record carries a sequence number, so a
//! record raised again while a run was syncing it is not cleared by that run.

use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::options::{UpdateOneModel, WriteModel};
use mongodb::Namespace;

use super::{bson_time, RollupStore};
use crate::error::StoreError;

pub const REPLICA_BACKLOG: &str = "analytics_replica_backlog";

/// Ids written per bulk request.
const CHUNK: usize = 1000;

/// A deferred movie: its uuid and the sequence number read with it.
pub type DeferredReplica = (String, i64);

impl RollupStore {
    /// Remembers movies whose replicas wait for MySQL.
    pub async fn defer_replicas(&self, ids: &[String]) -> Result<(), StoreError> {
        let now = bson_time(chrono::Utc::now());
        for chunk in ids.chunks(CHUNK) {
            let models: Vec<WriteModel> = chunk
                .iter()
                .map(|id| {
                    WriteModel::UpdateOne(
                        UpdateOneModel::builder()
                            .namespace(Namespace::new(self.db.name(), REPLICA_BACKLOG))
                            .filter(doc! {"_id": id})
                            .update(doc! {"$inc": {"seq": 1_i64}, "$set": {"deferred_at": now}})
                            .upsert(true)
                            .build(),
                    )
                })
                .collect();
            self.client.bulk_write(models).ordered(false).await?;
        }
        Ok(())
    }

    /// A page of deferred movies in uuid order, after `after`.
    pub async fn deferred_replicas(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DeferredReplica>, StoreError> {
        let filter = match after {
            Some(after) => doc! {"_id": {"$gt": after}},
            None => doc! {},
        };
        let docs: Vec<Document> = self
            .db
            .collection::<Document>(REPLICA_BACKLOG)
            .find(filter)
            .sort(doc! {"_id": 1})
            .limit(limit)
            .await?
            .try_collect()
            .await?;
        Ok(docs
            .iter()
            .filter_map(|d| Some((d.get_str("_id").ok()?.to_string(), d.get_i64("seq").ok()?)))
            .collect())
    }

    /// Clears synced movies whose record was not raised again meanwhile.
    pub async fn clear_deferred(&self, synced: &[DeferredReplica]) -> Result<u64, StoreError> {
        let mut cleared = 0;
        for chunk in synced.chunks(CHUNK) {
            let any: Vec<Bson> = chunk
                .iter()
                .map(|(id, seq)| Bson::Document(doc! {"_id": id, "seq": seq}))
                .collect();
            cleared += self
                .db
                .collection::<Document>(REPLICA_BACKLOG)
                .delete_many(doc! {"$or": any})
                .await?
                .deleted_count;
        }
        Ok(cleared)
    }

    /// How many movies' replicas wait for MySQL.
    pub async fn deferred_replica_count(&self) -> Result<u64, StoreError> {
        Ok(self
            .db
            .collection::<Document>(REPLICA_BACKLOG)
            .count_documents(doc! {})
            .await?)
    }
}
