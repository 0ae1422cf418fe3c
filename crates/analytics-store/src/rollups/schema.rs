//! The rollup collections' indexes: unique keys (two concurrent upserts of
//! one document can never create two) and what the reads need.

use std::time::Duration;

use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;

use super::duplicates::unique_keys;
use super::{RollupStore, DAILY, HOURLY, LEDGER, RUNS};
use crate::error::StoreError;

/// The hourly collection's unique index before hours were split into
/// slots; dropped so slot documents of one hour can coexist.
const UNSLOTTED_HOURLY_INDEX: &str = "domain_1_entity_type_1_date_1_hour_1";

/// MongoDB's code for a collection that does not exist.
const NAMESPACE_NOT_FOUND: i32 = 26;

impl RollupStore {
    /// Creates the unique key indexes and the indexes the read side needs.
    /// Idempotent; `migrate` runs it.
    pub async fn ensure_indexes(&self) -> Result<(), StoreError> {
        let unique = || IndexOptions::builder().unique(true).build();
        // A database taken over from the replaced system may hold several
        // documents of one key; they are merged before the key is unique.
        self.merge_duplicate_rollups(false).await?;
        // The weeks, months and years of the layout before they moved into
        // the totals documents.
        self.fold_legacy_periods().await?;
        let mut specs: Vec<(&str, Vec<IndexModel>)> = unique_keys()
            .into_iter()
            .map(|(collection, fields)| {
                let keys: Document = fields.iter().map(|f| (f.to_string(), 1.into())).collect();
                let mut models = vec![IndexModel::builder().keys(keys).options(unique()).build()];
                if collection == DAILY {
                    models.push(day_index());
                }
                (collection, models)
            })
            .collect();
        self.drop_unslotted_hourly_index().await?;
        specs.push((
            HOURLY,
            vec![IndexModel::builder()
                .keys(doc! {"domain": 1, "entity_type": 1, "date": 1, "hour": 1, "slot": 1})
                .options(unique())
                .build()],
        ));
        specs.push((
            LEDGER,
            vec![IndexModel::builder()
                .keys(doc! {"expire_at": 1})
                .options(IndexOptions::builder().expire_after(Duration::ZERO).build())
                .build()],
        ));
        specs.push((
            RUNS,
            vec![IndexModel::builder().keys(doc! {"started_at": -1}).build()],
        ));
        for (collection, indexes) in specs {
            self.db
                .collection::<Document>(collection)
                .create_indexes(indexes)
                .await?;
        }
        Ok(())
    }

    /// The unique key indexes `migrate` builds that are not there (all of
    /// them on a database never migrated). Jobs check this at start, and
    /// never build indexes themselves: on a big or busy database that is
    /// a long, unbounded step, and the deploy's `migrate` is where it runs.
    pub async fn missing_indexes(&self) -> Result<Vec<String>, StoreError> {
        let mut wanted: Vec<(&str, Vec<&str>)> = unique_keys();
        wanted.push((
            HOURLY,
            vec!["domain", "entity_type", "date", "hour", "slot"],
        ));
        let mut missing = Vec::new();
        for (collection, fields) in wanted {
            let name = fields
                .iter()
                .map(|f| format!("{f}_1"))
                .collect::<Vec<_>>()
                .join("_");
            let names = self
                .db
                .collection::<Document>(collection)
                .list_index_names()
                .await
                .or_else(|e| match *e.kind {
                    // No collection yet: none of its indexes.
                    mongodb::error::ErrorKind::Command(ref c) if c.code == NAMESPACE_NOT_FOUND => {
                        Ok(Vec::new())
                    }
                    _ => Err(e),
                })?;
            if !names.contains(&name) {
                missing.push(format!("{collection}.{name}"));
            }
        }
        Ok(missing)
    }

    async fn drop_unslotted_hourly_index(&self) -> Result<(), StoreError> {
        let hourly = self.db.collection::<Document>(HOURLY);
        let names = match hourly.list_index_names().await {
            Ok(names) => names,
            // No collection yet: nothing to drop.
            Err(_) => return Ok(()),
        };
        if names.iter().any(|n| n == UNSLOTTED_HOURLY_INDEX) {
            hourly.drop_index(UNSLOTTED_HOURLY_INDEX).await?;
        }
        Ok(())
    }
}

/// A day's documents by entity: the leaderboard merges look up the
/// entities a flush changed in one day, `entity_id` last so an `$in` stays a
/// set of exact index points (the unique index puts the day last, for one
/// entity's series).
fn day_index() -> IndexModel {
    IndexModel::builder()
        .keys(doc! {"domain": 1, "entity_type": 1, "date": 1, "entity_id": 1})
        .build()
}
