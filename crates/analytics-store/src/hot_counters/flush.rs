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

/// What these hashes added to their partition's waiting sum at ingest: every
/// field but sums (`+…`) and unique-viewer registers (`~…`).
pub fn count_units(hashes: &[CounterHash]) -> i64 {
    hashes
        .iter()
        .flat_map(|h| &h.fields)
        .filter(|(field, _)| !field.starts_with(['+', '~']))
        .map(|(_, n)| n)
        .sum()
}

impl HotCounters {
    /// Takes the partition's flush lease for `ttl` if nobody holds it.
    pub async fn acquire_lease(
        &self,
        p: u16,
        run_id: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let taken = self
            .lease_script(&self.scripts.take_lease, p, run_id, ttl)
            .await?;
        Ok(taken == 1)
    }

    /// Extends the lease; `LeaseLost` if another run holds it now (fencing).
    pub async fn renew_lease(&self, p: u16, run_id: &str, ttl: Duration) -> Result<(), StoreError> {
        let renewed = self
            .lease_script(&self.scripts.renew_lease, p, run_id, ttl)
            .await?;
        if renewed == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost { partition: p })
        }
    }

    /// Takes or renews partition `p`'s lease for `run_id` (the scripts share
    /// their keys and arguments); 1 when it did.
    async fn lease_script(
        &self,
        script: &redis::Script,
        p: u16,
        run_id: &str,
        ttl: Duration,
    ) -> Result<i64, StoreError> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.keys.lease(p))
            .arg(run_id)
            .arg(ttl.as_millis() as u64);
        self.run(async |c| invocation.invoke_async(c).await).await
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

    /// Deletes a batch once its counts are durable elsewhere, taking its
    /// count units ([`count_units`] of what [`Self::read_batch`] returned)
    /// off the partition's waiting sum.
    pub async fn finish_batch(
        &self,
        batch: &Batch,
        run_id: &str,
        units: i64,
    ) -> Result<(), StoreError> {
        let p = batch.partition;
        let mut invocation = self.scripts.finish.prepare_invoke();
        invocation
            .key(self.keys.lease(p))
            .key(self.keys.open_batch(p))
            .key(self.keys.waiting(p))
            .arg(run_id)
            .arg(&batch.id)
            .arg(self.keys.batch_manifest(p, &batch.id))
            .arg(self.keys.batched_prefix(p, &batch.id))
            .arg(units);
        let status: i64 = self.run(async |c| invocation.invoke_async(c).await).await?;
        if status == -1 {
            return Err(StoreError::LeaseLost { partition: p });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{count_units, CounterHash};

    fn hash(fields: &[(&str, i64)]) -> CounterHash {
        CounterHash {
            key: "anl:{3}:cnt:jav:movie:m1".into(),
            entity: None,
            fields: fields.iter().map(|(f, n)| (f.to_string(), *n)).collect(),
        }
    }

    #[test]
    fn count_units_add_counts_but_neither_sums_nor_registers() {
        let hashes = [
            hash(&[
                ("view|2026-11-26|17", 3),
                ("+watch_seconds|2026-11-26|17", 600),
                ("~2026-11-26|1234", 7),
                ("progress|2026-11-26|18", 2),
            ]),
            hash(&[("~2026-11-26|17|99", 4), ("like|2026-11-26|17", 1)]),
        ];
        assert_eq!(count_units(&hashes), 6);
        assert_eq!(count_units(&[]), 0);
    }
}
