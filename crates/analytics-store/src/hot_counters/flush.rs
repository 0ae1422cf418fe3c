//! The Redis half of the exactly-once flush: partition leases (fencing),
//! claiming batches by RENAME, reading them, and deleting them once their
//! counts are durable in the rollups.

use std::time::Duration;

use deadpool_redis::redis;

use super::scripts::{Batch, Claim, ClaimReply};
use super::{HashFields, HotCounters};
use crate::error::StoreError;
use analytics_domain::sweep::OrderRange;
use analytics_domain::EntityKey;

/// One counter hash of a batch, read back for the rollup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterHash {
    pub key: String,
    /// `None` for a key the pipeline did not write: never guessed at.
    pub entity: Option<EntityKey>,
    pub fields: HashFields,
}

impl HotCounters {
    /// Takes the partition's flush lease for `ttl` if nobody holds it.
    pub async fn acquire_lease(
        &self,
        p: u16,
        run_id: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = self.keys.lease(p);
        let reply: Option<String> = self
            .run(async |c| {
                redis::cmd("SET")
                    .arg(&key)
                    .arg(run_id)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl.as_millis() as u64)
                    .query_async(c)
                    .await
            })
            .await?;
        Ok(reply.is_some())
    }

    /// Extends the lease; `LeaseLost` if another run holds it now (fencing).
    pub async fn renew_lease(&self, p: u16, run_id: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut invocation = self.scripts.renew_lease.prepare_invoke();
        invocation
            .key(self.keys.lease(p))
            .arg(run_id)
            .arg(ttl.as_millis() as u64);
        let renewed: i64 = self.run(async |c| invocation.invoke_async(c).await).await?;
        if renewed == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost { partition: p })
        }
    }

    pub async fn release_lease(&self, p: u16, run_id: &str) -> Result<(), StoreError> {
        let mut invocation = self.scripts.release_lease.prepare_invoke();
        invocation.key(self.keys.lease(p)).arg(run_id);
        self.run(async |c| invocation.invoke_async::<i64>(c).await)
            .await
            .map(drop)
    }

    /// Claims (or resumes) a batch of up to `max_keys` counter keys whose
    /// entity order is within `range`.
    pub async fn claim_batch(
        &self,
        p: u16,
        run_id: &str,
        new_batch_id: &str,
        max_keys: usize,
        range: OrderRange,
    ) -> Result<Claim, StoreError> {
        let mut invocation = self.scripts.claim.prepare_invoke();
        invocation
            .key(self.keys.lease(p))
            .key(self.keys.open_batch(p))
            .key(self.keys.dirty(p))
            .arg(run_id)
            .arg(new_batch_id)
            .arg(max_keys)
            .arg(self.keys.batch_manifest(p, new_batch_id))
            .arg(self.keys.batched_prefix(p, new_batch_id))
            .arg(range.min)
            .arg(range.max);
        let reply: ClaimReply = self.run(async |c| invocation.invoke_async(c).await).await?;
        Claim::decode(p, reply)
    }

    /// Reads every counter hash of a batch (one pipelined round trip).
    pub async fn read_batch(&self, batch: &Batch) -> Result<Vec<CounterHash>, StoreError> {
        let manifest = self.keys.batch_manifest(batch.partition, &batch.id);
        let members: Vec<String> = self
            .run(async |c| redis::cmd("SMEMBERS").arg(&manifest).query_async(c).await)
            .await?;
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for key in &members {
            pipe.hgetall(self.keys.batched_counter(batch.partition, &batch.id, key));
        }
        let hashes: Vec<HashFields> = self.run(async |c| pipe.query_async(c).await).await?;
        Ok(members
            .into_iter()
            .zip(hashes)
            .map(|(key, fields)| CounterHash {
                entity: self.keys.parse_counter(&key).map(|(_, e)| e),
                key,
                fields,
            })
            .collect())
    }

    /// Deletes a batch once its counts are durable elsewhere.
    pub async fn finish_batch(&self, batch: &Batch, run_id: &str) -> Result<(), StoreError> {
        let p = batch.partition;
        let mut invocation = self.scripts.finish.prepare_invoke();
        invocation
            .key(self.keys.lease(p))
            .key(self.keys.open_batch(p))
            .key(self.keys.waiting(p))
            .arg(run_id)
            .arg(&batch.id)
            .arg(self.keys.batch_manifest(p, &batch.id))
            .arg(self.keys.batched_prefix(p, &batch.id));
        let status: i64 = self.run(async |c| invocation.invoke_async(c).await).await?;
        if status == -1 {
            return Err(StoreError::LeaseLost { partition: p });
        }
        Ok(())
    }
}
