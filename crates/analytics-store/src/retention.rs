//! Deleting what retention lets go, a bounded chunk per statement: no
//! statement holds locks for long, each commits on its own, and a run
//! stopped anywhere is simply resumed by the next (what it deleted stays
//! deleted, the rest waits).

use std::time::{Duration, Instant};

use analytics_domain::{Domain, EntityType, Period};
use chrono::{DateTime, NaiveDate, Utc};
use mongodb::bson::{doc, Bson, Document};
use mongodb::Collection;

use crate::block_signals::BlockSignalStore;
use crate::catalogue::CatalogueStore;
use crate::error::StoreError;
use crate::event_log::naive;
use crate::job_events::JobEventStore;
use crate::rollups::leaderboard::LEADERBOARDS;
use crate::rollups::{RollupStore, DAILY, HOURLY};

/// What one chunk deleted, and how long its statement took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub deleted: u64,
    pub took: Duration,
}

impl CatalogueStore {
    /// Deletes up to `limit` rows of a raw-log table (`analytics_events`,
    /// `analytics_events_filtered`) that occurred before `before` (UTC), the
    /// oldest first, along the `occurred_at` index.
    pub async fn prune_events(
        &self,
        table: &'static str,
        before: DateTime<Utc>,
        limit: u64,
    ) -> Result<Chunk, StoreError> {
        let started = Instant::now();
        let deleted = sqlx::query(&format!(
            "DELETE FROM {table} WHERE occurred_at < ? ORDER BY occurred_at LIMIT ?"
        ))
        .bind(naive(&before))
        .bind(limit)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(Chunk {
            deleted,
            took: started.elapsed(),
        })
    }

    /// Rows of a raw-log table that occurred before `before` (a dry run).
    pub async fn count_events_before(
        &self,
        table: &'static str,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE occurred_at < ?"
        ))
        .bind(naive(&before))
        .fetch_one(self.pool())
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Deletes up to `limit` documents matching `filter` (their ids first, so
/// the delete is bounded whatever the filter).
async fn delete_chunk(
    coll: &Collection<Document>,
    filter: Document,
    limit: i64,
    dry_run: bool,
) -> Result<Chunk, StoreError> {
    let started = Instant::now();
    if dry_run {
        let n = coll.count_documents(filter).await?;
        return Ok(Chunk {
            deleted: n,
            took: started.elapsed(),
        });
    }
    let mut cursor = coll
        .find(filter)
        .projection(doc! {"_id": 1})
        .limit(limit)
        .await?;
    let mut ids: Vec<Bson> = Vec::new();
    while cursor.advance().await? {
        if let Ok(id) = cursor.current().get("_id") {
            if let Some(id) = id.and_then(|raw| Bson::try_from(raw.to_raw_bson()).ok()) {
                ids.push(id);
            }
        }
    }
    if ids.is_empty() {
        return Ok(Chunk {
            deleted: 0,
            took: started.elapsed(),
        });
    }
    let deleted = coll
        .delete_many(doc! {"_id": {"$in": ids}})
        .await?
        .deleted_count;
    Ok(Chunk {
        deleted,
        took: started.elapsed(),
    })
}

/// How a MongoDB prune goes: documents per chunk, whether it only counts,
/// and how long one chunk may take (a frozen server ends the run with an
/// error instead of holding the Job).
#[derive(Debug, Clone, Copy)]
pub struct Chunks {
    pub size: i64,
    pub dry_run: bool,
    pub deadline: Duration,
}

/// Runs chunks until one deletes less than a chunk's size (or, in a dry
/// run, once: the count is all there is), calling `progress` with each.
async fn delete_all<F, Fut>(
    chunks: Chunks,
    mut chunk: F,
    progress: &mut dyn FnMut(Chunk),
) -> Result<(), StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Chunk, StoreError>>,
{
    loop {
        let c = crate::error::bounded("mongodb", chunks.deadline, chunk()).await?;
        progress(c);
        if chunks.dry_run || c.deleted < u64::try_from(chunks.size).unwrap_or(0) {
            return Ok(());
        }
    }
}

/// What pruning the rollups deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RollupsPruned {
    pub days: u64,
    pub hours: u64,
    pub day_boards: u64,
}

impl RollupStore {
    /// Deletes the per-day and per-hour documents of local days before
    /// `before`, and the day boards of those days, a chunk at a time per
    /// (domain, type) so each chunk is a range of an index. Weeks, months,
    /// years and totals stay.
    pub async fn prune_days(
        &self,
        domains: &[Domain],
        before: NaiveDate,
        chunks: Chunks,
        progress: &mut dyn FnMut(Chunk),
    ) -> Result<RollupsPruned, StoreError> {
        let label = Period::Day.bucket_of(before);
        let mut out = RollupsPruned::default();
        let day_field = Period::Day.field();
        for domain in domains {
            for entity_type in EntityType::ALL {
                let filter = doc! {
                    "domain": domain.as_str(),
                    "entity_type": entity_type.as_str(),
                    day_field: {"$lt": &label},
                };
                for (collection, total) in [(DAILY, &mut out.days), (HOURLY, &mut out.hours)] {
                    let coll = self.db.collection::<Document>(collection);
                    delete_all(
                        chunks,
                        || delete_chunk(&coll, filter.clone(), chunks.size, chunks.dry_run),
                        &mut |c| {
                            *total += c.deleted;
                            progress(c);
                        },
                    )
                    .await?;
                }
            }
        }
        let boards = self.db.collection::<Document>(LEADERBOARDS);
        let filter = doc! {"period": day_field, "bucket": {"$lt": &label}};
        delete_all(
            chunks,
            || delete_chunk(&boards, filter.clone(), chunks.size, chunks.dry_run),
            &mut |c| {
                out.day_boards += c.deleted;
                progress(c);
            },
        )
        .await?;
        Ok(out)
    }
}

impl JobEventStore {
    /// Deletes the job events recorded before `before` (the TTL index only
    /// expires them at the retention they were written with).
    pub async fn prune(
        &self,
        before: DateTime<Utc>,
        chunks: Chunks,
        progress: &mut dyn FnMut(Chunk),
    ) -> Result<u64, StoreError> {
        prune_by_timestamp(self.collection(), before, chunks, progress).await
    }
}

impl BlockSignalStore {
    /// Deletes the block signals recorded before `before`.
    pub async fn prune(
        &self,
        before: DateTime<Utc>,
        chunks: Chunks,
        progress: &mut dyn FnMut(Chunk),
    ) -> Result<u64, StoreError> {
        prune_by_timestamp(self.collection(), before, chunks, progress).await
    }
}

async fn prune_by_timestamp(
    coll: &Collection<Document>,
    before: DateTime<Utc>,
    chunks: Chunks,
    progress: &mut dyn FnMut(Chunk),
) -> Result<u64, StoreError> {
    let filter = doc! {"timestamp": {"$lt": mongodb::bson::DateTime::from_millis(before.timestamp_millis())}};
    let mut total = 0;
    delete_all(
        chunks,
        || delete_chunk(coll, filter.clone(), chunks.size, chunks.dry_run),
        &mut |c| {
            total += c.deleted;
            progress(c);
        },
    )
    .await?;
    Ok(total)
}
