//! The flush's side of the boards: which entities a round changed, recorded
//! in its transaction, and the merge of those records into the boards after
//! the run.

use std::collections::{BTreeSet, HashMap};

use analytics_domain::ranking::Measure;
use analytics_domain::rollup::RollupDelta;
use analytics_domain::EntityType;
use chrono::Utc;
use futures_util::{StreamExt, TryStreamExt};
use mongodb::bson::{doc, Bson, Document};
use mongodb::ClientSession;

use crate::error::StoreError;
use crate::rollups::bson_time;

use super::scope::BoardScope;
use super::{
    Entries, Leaderboards, LEADERBOARD_PENDING, MERGE_CONCURRENCY, MERGE_PAGE, PENDING_CHUNK,
};

/// The entities whose counts a delta changes, per board scope.
fn changed(delta: &RollupDelta) -> HashMap<BoardScope, BTreeSet<String>> {
    let mut out: HashMap<BoardScope, BTreeSet<String>> = HashMap::new();
    let ranked = |t: EntityType| !Measure::ranked(t).is_empty();
    for entity in delta.totals.keys().filter(|e| ranked(e.entity_type)) {
        out.entry(BoardScope::new(&entity.domain, entity.entity_type, None))
            .or_default()
            .insert(entity.entity_id.clone());
    }
    for key in delta
        .buckets
        .keys()
        .filter(|k| ranked(k.entity.entity_type))
    {
        let scope = BoardScope::new(
            &key.entity.domain,
            key.entity.entity_type,
            Some((key.period.period(), &key.label)),
        );
        out.entry(scope)
            .or_default()
            .insert(key.entity.entity_id.clone());
    }
    out
}

impl Leaderboards {
    /// Records which entities this delta changes, for
    /// [`Leaderboards::merge_pending`]: inside the flush transaction, or
    /// (without one) after the round's documents are written.
    pub(crate) async fn record_changes(
        &self,
        session: Option<&mut ClientSession>,
        delta: &RollupDelta,
    ) -> Result<(), StoreError> {
        let now = bson_time(Utc::now());
        let mut records = Vec::new();
        for (scope, ids) in changed(delta) {
            let ids: Vec<&String> = ids.iter().collect();
            for chunk in ids.chunks(PENDING_CHUNK) {
                let mut record = scope.to_doc();
                record.insert("created_at", now);
                record.insert("entity_ids", chunk.to_vec());
                records.push(record);
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let pending = self.db.collection::<Document>(LEADERBOARD_PENDING);
        match session {
            Some(session) => pending.insert_many(records).session(session).await?,
            None => pending.insert_many(records).await?,
        };
        Ok(())
    }

    /// Merges every pending change record into its boards and deletes it,
    /// those a stopped run left included (merging a record twice is
    /// harmless). Records of one bucket are merged together, up to
    /// [`MERGE_PAGE`] entities at a time: one read of their counts and one
    /// update per board, however many flush rounds wrote them, in bounded
    /// memory. Returns how many records were merged.
    pub async fn merge_pending(&self) -> Result<usize, StoreError> {
        let pending = self.db.collection::<Document>(LEADERBOARD_PENDING);
        let scope_of = doc! {"_id": {
            "domain": "$domain", "entity_type": "$entity_type",
            "period": "$period", "bucket": "$bucket",
        }};
        let scopes: Vec<Document> = pending
            .aggregate(vec![doc! {"$group": scope_of}])
            .await?
            .try_collect()
            .await?;
        // Buckets are independent (their own boards and records): a few at a
        // time keep both this worker and the server busy.
        futures_util::stream::iter(scopes.iter().map(|group| self.merge_scope(group)))
            .buffer_unordered(MERGE_CONCURRENCY)
            .try_fold(0, |merged, n| async move { Ok(merged + n) })
            .await
    }

    /// Merges one bucket's pending records (`group` is their `$group`
    /// result); returns the records merged.
    async fn merge_scope(&self, group: &Document) -> Result<usize, StoreError> {
        let pending = self.db.collection::<Document>(LEADERBOARD_PENDING);
        let Ok(key) = group.get_document("_id") else {
            return Ok(0);
        };
        let Some(scope) = BoardScope::from_doc(key) else {
            tracing::warn!(?key, "malformed leaderboard records dropped");
            pending.delete_many(key.clone()).await?;
            return Ok(0);
        };
        let mut records = pending
            .find(key.clone())
            .projection(doc! {"entity_ids": 1})
            .await?;
        let mut merged = 0;
        let mut entities = BTreeSet::new();
        let mut record_ids = Vec::new();
        while let Some(record) = records.try_next().await? {
            record_ids.push(record.get("_id").cloned().unwrap_or(Bson::Null));
            if let Ok(list) = record.get_array("entity_ids") {
                entities.extend(list.iter().filter_map(Bson::as_str).map(str::to_string));
            }
            if entities.len() >= MERGE_PAGE {
                merged += self.merge_page(&scope, &entities, &record_ids).await?;
                entities.clear();
                record_ids.clear();
            }
        }
        if !record_ids.is_empty() {
            merged += self.merge_page(&scope, &entities, &record_ids).await?;
        }
        Ok(merged)
    }

    /// Merges one page of a bucket's changed entities into both boards,
    /// then deletes the records that named them.
    async fn merge_page(
        &self,
        scope: &BoardScope,
        entities: &BTreeSet<String>,
        record_ids: &[Bson],
    ) -> Result<usize, StoreError> {
        let entities: Vec<&str> = entities.iter().map(String::as_str).collect();
        let mut current = Entries::new();
        for chunk in entities.chunks(PENDING_CHUNK) {
            current.extend(self.current_counts(scope, chunk).await?);
        }
        // Every measure's board: its entries carry all measures, so a change
        // in downloads refreshes the views board's entry too.
        for measure in Measure::ranked(scope.entity_type) {
            self.update_board(scope, *measure, Some(&current)).await?;
        }
        self.db
            .collection::<Document>(LEADERBOARD_PENDING)
            .delete_many(doc! {"_id": {"$in": record_ids}})
            .await?;
        Ok(record_ids.len())
    }

    /// Current counts of `ids` in `scope` (the bucket and the ids are the
    /// equality prefix of an index: `entity_id` last, so `$in` stays exact).
    async fn current_counts(
        &self,
        scope: &BoardScope,
        ids: &[&str],
    ) -> Result<Entries, StoreError> {
        let mut filter = scope.filter();
        filter.insert("entity_id", doc! {"$in": ids});
        let mut projection = doc! {"_id": 0, "entity_id": 1};
        for measure in Measure::ranked(scope.entity_type) {
            projection.insert(scope.measure_path(*measure), 1);
        }
        let cursor = self
            .db
            .collection::<Document>(scope.collection())
            .find(filter)
            .projection(projection)
            .await?;
        scope.collect(cursor).await
    }
}
