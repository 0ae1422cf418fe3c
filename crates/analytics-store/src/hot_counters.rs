//! Redis hot path (brief §4) and the Redis half of the flush (brief §5).
//! Every multi-key step is one Lua script on keys sharing a `{p}` hash tag:
//! atomic on a single node and slot-local on Redis Cluster.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use analytics_domain::rollup::ActionCounts;
use analytics_domain::{CounterField, EntityKey, Event, KeySpace};
use deadpool_redis::redis::{self, Script};
use deadpool_redis::{Connection, Pool, PoolConfig, Runtime, Timeouts};

use crate::error::{bounded, StoreError};

/// What waits for a flush on one partition.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionBacklog {
    pub partition: u16,
    /// Counter keys with increments not claimed by a flush yet.
    pub dirty_keys: u64,
    /// The batch claimed and not yet finished, if any.
    pub open_batch: Option<String>,
    /// The sum of the values of the events counted and not yet flushed
    /// (fresh keys and the open batch): one per event of value 1.
    pub counts_waiting: u64,
}

/// Dedupe window of the event markers (brief §4: 48 h).
pub const DEDUPE_TTL_SECS: u64 = 172_800;

/// Dedupe, increment, mark dirty and add to the partition's waiting sum
/// together or not at all. The dirty set is sorted by entity order (ARGV[5])
/// so every partition is claimed in the same entity order.
/// Returns 0 = counted, 1 = duplicate (same fingerprint), 2 = conflict.
const INGEST_LUA: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('HINCRBY', KEYS[2], ARGV[3], ARGV[4])
  redis.call('ZADD', KEYS[3], ARGV[5], KEYS[2])
  redis.call('INCRBY', KEYS[4], ARGV[4])
  return 0
end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 2
"#;

/// Claims a batch: with the lease held, resumes the open batch if there is
/// one, else moves up to N dirty counter keys whose entity order is at most
/// ARGV[5] under a new manifest by RENAME, so events arriving meanwhile land
/// in fresh keys. Reply: {status, batch_id, keys}; status -1 lease lost,
/// 0 nothing dirty up to the threshold, 1 resumed, 2 claimed, 3 only stale
/// dirty entries were taken (claim again).
const CLAIM_LUA: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-1, '', 0} end
local open = redis.call('GET', KEYS[2])
if open then
  return {1, open, redis.call('SCARD', ARGV[4] .. open)}
end
local popped = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[5], 'LIMIT', 0, tonumber(ARGV[3]))
if #popped == 0 then return {0, '', 0} end
local manifest = ARGV[4] .. ARGV[2]
local n = 0
for _, k in ipairs(popped) do
  redis.call('ZREM', KEYS[3], k)
  if redis.call('EXISTS', k) == 1 then
    redis.call('RENAME', k, manifest .. ':' .. k)
    redis.call('SADD', manifest, k)
    n = n + 1
  end
end
if n == 0 then return {3, '', 0} end
redis.call('SET', KEYS[2], ARGV[2])
return {2, ARGV[2], n}
"#;

/// Deletes a finished batch, only while the lease is still ours, and takes
/// its values off the partition's waiting sum (once: a second call finds
/// the batch no longer open); a sum down to zero is deleted, so an idle
/// partition leaves no keys behind.
const FINISH_LUA: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
local manifest = ARGV[3]
local flushed = 0
for _, k in ipairs(redis.call('SMEMBERS', manifest)) do
  local key = manifest .. ':' .. k
  for _, v in ipairs(redis.call('HVALS', key)) do
    flushed = flushed + (tonumber(v) or 0)
  end
  redis.call('DEL', key)
end
redis.call('DEL', manifest, KEYS[2])
if flushed ~= 0 and redis.call('DECRBY', KEYS[3], flushed) <= 0 then
  redis.call('DEL', KEYS[3])
end
return 1
"#;

const RENEW_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

const RELEASE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    Counted,
    Duplicate,
    /// The id was already used by an event with another fingerprint.
    Conflict,
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: String,
    pub pool_size: usize,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// Multiplexed connections the ingest hot path shares.
    pub shared_connections: usize,
}

/// A claimed batch of counter keys on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub partition: u16,
    pub id: String,
    /// True when this batch was left open by an earlier, interrupted run.
    pub resumed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Batch(Batch),
    /// Nothing left to flush on this partition.
    Empty,
    /// Only stale dirty entries were popped; claim again.
    Stale,
}

/// A counter hash's `(field, count)` pairs as HGETALL returns them.
pub type HashFields = Vec<(String, i64)>;

/// One counter hash of a batch, read back for the rollup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterHash {
    pub key: String,
    pub entity: Option<EntityKey>,
    pub fields: HashFields,
}

/// Shared multiplexed connections for the ingest hot path. A multiplexed
/// connection pipelines concurrent commands on one socket, so handing out
/// clones avoids the pool's per-checkout `UNWATCH`+`PING` round trip (half
/// of Redis's work per event). A slot that errors is dropped and reconnects
/// on next use, so ingest recovers by itself after a Redis restart.
struct SharedConnections {
    client: redis::Client,
    slots: Vec<RwLock<Option<redis::aio::MultiplexedConnection>>>,
    next: AtomicUsize,
    config: redis::AsyncConnectionConfig,
}

impl SharedConnections {
    fn new(settings: &RedisSettings, slots: usize) -> Result<Self, StoreError> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| StoreError::Config(format!("redis.url: {e}")))?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout));
        Ok(SharedConnections {
            client,
            slots: (0..slots.max(1)).map(|_| RwLock::new(None)).collect(),
            next: AtomicUsize::new(0),
            config,
        })
    }

    async fn get(&self) -> Result<(usize, redis::aio::MultiplexedConnection), StoreError> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let cached = self.slots[slot]
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(conn) = cached {
            return Ok((slot, conn));
        }
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        *self.slots[slot].write().unwrap_or_else(|p| p.into_inner()) = Some(conn.clone());
        Ok((slot, conn))
    }

    fn discard(&self, slot: usize) {
        *self.slots[slot].write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// Counts of one entity that have not reached the Mongo totals for sure.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingCounts {
    pub fresh: ActionCounts,
    pub in_batches: Vec<(String, ActionCounts)>,
}

fn add_fields(counts: &mut ActionCounts, fields: &[(String, i64)]) {
    for (field, n) in fields {
        if let Some(f) = CounterField::parse(field) {
            counts.add(f.action, *n);
        }
    }
}

#[derive(Clone)]
pub struct HotCounters {
    pool: Pool,
    shared: Arc<SharedConnections>,
    keys: KeySpace,
    command_timeout: Duration,
    ingest: Script,
    claim: Script,
    finish: Script,
    renew: Script,
    release: Script,
}

impl HotCounters {
    pub fn new(settings: &RedisSettings, keys: KeySpace) -> Result<Self, StoreError> {
        let mut cfg = deadpool_redis::Config::from_url(settings.url.clone());
        cfg.pool = Some(PoolConfig {
            max_size: settings.pool_size,
            timeouts: Timeouts {
                wait: Some(settings.command_timeout),
                create: Some(settings.connect_timeout),
                recycle: Some(settings.command_timeout),
            },
            ..PoolConfig::default()
        });
        let pool = cfg
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| StoreError::Config(format!("redis.url: {e}")))?;
        Ok(HotCounters {
            pool,
            shared: Arc::new(SharedConnections::new(
                settings,
                settings.shared_connections,
            )?),
            keys,
            command_timeout: settings.command_timeout,
            ingest: Script::new(INGEST_LUA),
            claim: Script::new(CLAIM_LUA),
            finish: Script::new(FINISH_LUA),
            renew: Script::new(RENEW_LUA),
            release: Script::new(RELEASE_LUA),
        })
    }

    pub fn keys(&self) -> &KeySpace {
        &self.keys
    }

    async fn conn(&self) -> Result<Connection, StoreError> {
        bounded("redis", self.command_timeout, self.pool.get()).await
    }

    /// Runs one Redis exchange with the connect and command time bounded.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut Connection) -> redis::RedisResult<T>,
    {
        let mut conn = self.conn().await?;
        bounded("redis", self.command_timeout, f(&mut conn)).await
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(async |c| redis::cmd("PING").query_async::<String>(c).await)
            .await
            .map(drop)
    }

    /// Counts one validated event exactly once (brief §4).
    pub async fn ingest(
        &self,
        event: &Event,
        field: &CounterField,
    ) -> Result<IngestOutcome, StoreError> {
        let p = self.keys.partition_of(&event.event_id);
        let mut invocation = self.ingest.prepare_invoke();
        invocation
            .key(self.keys.event_marker(p, &event.event_id))
            .key(self.keys.counter(p, &event.entity))
            .key(self.keys.dirty(p))
            .key(self.keys.waiting(p))
            .arg(event.fingerprint())
            .arg(DEDUPE_TTL_SECS)
            .arg(field.encode())
            .arg(event.value)
            .arg(KeySpace::entity_order(&event.entity));
        let (slot, mut conn) = bounded("redis", self.command_timeout, self.shared.get()).await?;
        let code: i64 = match bounded(
            "redis",
            self.command_timeout,
            invocation.invoke_async(&mut conn),
        )
        .await
        {
            Ok(code) => code,
            Err(e) => {
                self.shared.discard(slot);
                return Err(e);
            }
        };
        match code {
            0 => Ok(IngestOutcome::Counted),
            1 => Ok(IngestOutcome::Duplicate),
            2 => Ok(IngestOutcome::Conflict),
            other => Err(StoreError::Protocol {
                store: "redis",
                detail: format!("ingest script returned {other}"),
            }),
        }
    }

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
        let mut invocation = self.renew.prepare_invoke();
        invocation
            .key(self.keys.lease(p))
            .arg(run_id)
            .arg(ttl.as_millis() as u64);
        let ok: i64 = self.run(async |c| invocation.invoke_async(c).await).await?;
        if ok == 1 {
            Ok(())
        } else {
            Err(StoreError::LeaseLost { partition: p })
        }
    }

    pub async fn release_lease(&self, p: u16, run_id: &str) -> Result<(), StoreError> {
        let mut invocation = self.release.prepare_invoke();
        invocation.key(self.keys.lease(p)).arg(run_id);
        self.run(async |c| invocation.invoke_async::<i64>(c).await)
            .await
            .map(drop)
    }

    /// Claims (or resumes) a batch of up to `max_keys` counter keys whose
    /// entity order ([`KeySpace::entity_order`]) is at most `max_order`.
    pub async fn claim_batch(
        &self,
        p: u16,
        run_id: &str,
        new_batch_id: &str,
        max_keys: usize,
        max_order: u32,
    ) -> Result<Claim, StoreError> {
        let mut invocation = self.claim.prepare_invoke();
        invocation
            .key(self.keys.lease(p))
            .key(self.keys.open_batch(p))
            .key(self.keys.dirty(p))
            .arg(run_id)
            .arg(new_batch_id)
            .arg(max_keys)
            .arg(self.keys.batch_manifest(p, ""))
            .arg(max_order);
        let (status, id, _keys): (i64, String, i64) =
            self.run(async |c| invocation.invoke_async(c).await).await?;
        match status {
            -1 => Err(StoreError::LeaseLost { partition: p }),
            0 => Ok(Claim::Empty),
            3 => Ok(Claim::Stale),
            1 | 2 => Ok(Claim::Batch(Batch {
                partition: p,
                id,
                resumed: status == 1,
            })),
            other => Err(StoreError::Protocol {
                store: "redis",
                detail: format!("claim script returned {other}"),
            }),
        }
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
            pipe.hgetall(format!("{manifest}:{key}"));
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
        let mut invocation = self.finish.prepare_invoke();
        invocation
            .key(self.keys.lease(p))
            .key(self.keys.open_batch(p))
            .key(self.keys.waiting(p))
            .arg(run_id)
            .arg(&batch.id)
            .arg(self.keys.batch_manifest(p, &batch.id));
        let status: i64 = self.run(async |c| invocation.invoke_async(c).await).await?;
        if status == -1 {
            return Err(StoreError::LeaseLost { partition: p });
        }
        Ok(())
    }

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
                let manifest = self.keys.batch_manifest(p, &batch_id);
                in_open.hgetall(format!("{manifest}:{}", self.keys.counter(p, entity)));
                open_ids.push(batch_id);
            }
        }
        if !open_ids.is_empty() {
            let batches: Vec<HashFields> = self.run(async |c| in_open.query_async(c).await).await?;
            for (id, fields) in open_ids.into_iter().zip(batches) {
                if !fields.is_empty() {
                    let mut counts = ActionCounts::default();
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
                .get(self.keys.waiting(p));
        }
        let replies: Vec<(u64, Option<String>, Option<i64>)> =
            self.run(async |c| pipe.query_async(c).await).await?;
        Ok(self
            .keys
            .partitions()
            .zip(replies)
            .map(
                |(partition, (dirty_keys, open_batch, waiting))| PartitionBacklog {
                    partition,
                    dirty_keys,
                    open_batch,
                    // Below zero only if batches counted before this sum existed
                    // were flushed after it did.
                    counts_waiting: u64::try_from(waiting.unwrap_or(0)).unwrap_or(0),
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
