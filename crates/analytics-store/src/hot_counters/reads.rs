//! Reads of what still waits in Redis: an entity's unflushed counts (for
//! fresh display counts) and each partition's backlog (for operators).

use analytics_domain::rollup::Counts;
use analytics_domain::{CounterField, EntityKey};
use deadpool_redis::redis;

use super::{HashFields, HotCounters};
use crate::error::StoreError;

/// What waits for a flush on one partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartitionBacklog {
    pub partition: u16,
    /// Counter keys with increments not claimed by a flush yet.
    pub dirty_keys: u64,
    /// The batch claimed and not yet finished, if any.
    pub open_batch: Option<String>,
    /// Whether a flush holds the partition's lease right now (an open batch
    /// without one was left by a run that stopped).
    pub leased: bool,
    /// The sum of the values of the events counted and not yet flushed
    /// (fresh keys and the open batch): one per event of value 1.
    pub counts_waiting: u64,
    /// Raw-log stream entries not yet copied to MySQL (each holds the
    /// events of one ingest call on this partition).
    pub log_waiting: u64,
}

/// One partition's backlog reads: ZCARD dirty, GET open batch, GET
/// waiting, EXISTS lease, XLEN log.
type BacklogReply = (u64, Option<String>, Option<i64>, bool, u64);

/// Counts of one entity that have not reached the Mongo totals for sure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingCounts {
    pub fresh: Counts,
    pub in_batches: Vec<(String, Counts)>,
}

fn add_fields(counts: &mut Counts, fields: &[(String, i64)]) {
    for (field, n) in fields {
        if let Some(f) = CounterField::parse(field) {
            counts.add_field(&f, *n);
        }
    }
}

impl HotCounters {
    /// An entity's counts still in Redis: in fresh counter keys, and in open
    /// (claimed, not yet deleted) batches, by batch id. Callers add the
    /// batches the ledger does not have yet to the Mongo totals.
    pub async fn pending(&self, entity: &EntityKey) -> Result<PendingCounts, StoreError> {
        let mut pipe = redis::pipe();
        for p in self.keys.partitions() {
            pipe.get(self.keys.open_batch(p))
                .hgetall(self.keys.counter(p, entity));
        }
        let replies: Vec<(Option<String>, HashFields)> =
            self.run(async |c| pipe.query_async(c).await).await?;
        let mut pending = PendingCounts::default();
        let mut in_open = redis::pipe();
        let mut open_ids = Vec::new();
        for (p, (open, fields)) in self.keys.partitions().zip(replies) {
            add_fields(&mut pending.fresh, &fields);
            if let Some(batch_id) = open {
                let counter = self.keys.counter(p, entity);
                in_open.hgetall(self.keys.batched_counter(p, &batch_id, &counter));
                open_ids.push(batch_id);
            }
        }
        if !open_ids.is_empty() {
            let batches: Vec<HashFields> = self.run(async |c| in_open.query_async(c).await).await?;
            for (id, fields) in open_ids.into_iter().zip(batches) {
                if !fields.is_empty() {
                    let mut counts = Counts::default();
                    add_fields(&mut counts, &fields);
                    pending.in_batches.push((id, counts));
                }
            }
        }
        Ok(pending)
    }

    /// What waits for a flush, per partition (four O(1) reads each).
    pub async fn backlog(&self) -> Result<Vec<PartitionBacklog>, StoreError> {
        let mut pipe = redis::pipe();
        for p in self.keys.partitions() {
            pipe.zcard(self.keys.dirty(p))
                .get(self.keys.open_batch(p))
                .get(self.keys.waiting(p))
                .exists(self.keys.lease(p))
                .cmd("XLEN")
                .arg(self.keys.log(p));
        }
        let replies: Vec<BacklogReply> = self.run(async |c| pipe.query_async(c).await).await?;
        Ok(self
            .keys
            .partitions()
            .zip(replies)
            .map(
                |(partition, (dirty_keys, open_batch, waiting, leased, log_waiting))| {
                    PartitionBacklog {
                        partition,
                        dirty_keys,
                        open_batch,
                        leased,
                        log_waiting,
                        // Below zero only if batches counted before this sum existed
                        // were flushed after it did.
                        counts_waiting: u64::try_from(waiting.unwrap_or(0)).unwrap_or(0),
                    }
                },
            )
            .collect())
    }

    /// Counter keys waiting for a flush on partition `p`.
    pub async fn dirty_count(&self, p: u16) -> Result<u64, StoreError> {
        let key = self.keys.dirty(p);
        self.run(async |c| redis::cmd("ZCARD").arg(&key).query_async(c).await)
            .await
    }
}
