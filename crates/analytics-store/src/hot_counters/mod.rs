//! The Redis side of the pipeline: the ingest hot path, the Redis half of
//! the exactly-once flush, and the reads of what still waits in Redis.
//! Every multi-key step is one Lua script (`lua/`) on keys sharing a `{p}`
//! hash tag: atomic on a single node and slot-local on Redis Cluster.

mod connections;
mod erasure;
mod event_log;
mod flush;
mod generation;
mod ingest;
mod legacy;
mod live;
mod pressure;
mod reads;
mod rebuild;
pub mod scripts;

use std::sync::Arc;
use std::time::Duration;

use analytics_domain::KeySpace;
use deadpool_redis::redis;

use crate::error::{bounded, StoreError};
use connections::Connections;
use scripts::Scripts;

pub use crate::settings::RedisSettings;
pub use connections::Link;

pub use erasure::{is_users_line, UsersEntry};
pub use event_log::LogRecord;
pub use flush::{count_units, CounterHash};
pub use ingest::{IngestItem, IngestReply};
pub use legacy::{
    parse_legacy_counter, Drained, LegacyCounter, LegacyKeys, MarkersCopied, CUTOVER_ON_CLUSTER,
    LEGACY_MARKER,
};
pub use live::LiveWindow;
pub use pressure::Pressure;
pub use reads::{PartitionBacklog, PendingCounts};
pub use rebuild::WaitingInRange;
pub use scripts::{Batch, Claim, IngestOutcome};

/// Dedupe window: an accepted event is found again for 48 h at least (its
/// entry's hash expires this long after the end of the day it was accepted
/// on; the scripts get it as an argument, see `lua/ingest.lua`). The
/// accepted lateness of an event stays below it, so a replay after its
/// entry expired is refused.
pub const DEDUPE_TTL_SECS: u64 = 172_800;

/// A counter hash's `(field, count)` pairs as HGETALL returns them.
pub type HashFields = Vec<(String, i64)>;

/// The hot counters of one key space. Cheap to build and lazy: nothing
/// connects until the first command. Build one per HTTP worker (see
/// [`connections`]).
#[derive(Clone)]
pub struct HotCounters {
    settings: RedisSettings,
    links: Arc<Connections>,
    keys: KeySpace,
    command_timeout: Duration,
    scripts: Arc<Scripts>,
}

impl HotCounters {
    pub fn new(settings: &RedisSettings, keys: KeySpace) -> Result<Self, StoreError> {
        Ok(HotCounters {
            settings: settings.clone(),
            links: Arc::new(Connections::new(settings)?),
            keys,
            command_timeout: settings.command_timeout,
            scripts: Arc::new(Scripts::load()),
        })
    }

    /// The same key space on connections of its own: each HTTP worker
    /// calls this, so its connections live (and stop) with it. (Building
    /// cannot fail once `new` succeeded with the same settings; should it,
    /// the worker shares these connections rather than not start.)
    pub fn for_worker(&self) -> Self {
        HotCounters::new(&self.settings, self.keys.clone()).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "per-worker Redis connections unavailable; sharing");
            self.clone()
        })
    }

    pub fn keys(&self) -> &KeySpace {
        &self.keys
    }

    /// Whether this key space lives on a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.links.is_cluster()
    }

    /// A connection of this key space's Redis, for tools and tests that
    /// send their own commands (routed by key on a cluster).
    pub async fn link(&self) -> Result<Link, StoreError> {
        self.conn().await
    }

    async fn conn(&self) -> Result<Link, StoreError> {
        bounded("redis", self.command_timeout, self.links.pooled()).await
    }

    /// Runs one Redis exchange on a pooled connection, with the connect
    /// and command time bounded.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: AsyncFnOnce(&mut Link) -> redis::RedisResult<T>,
    {
        let mut conn = self.conn().await?;
        bounded("redis", self.command_timeout, f(&mut conn)).await
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(async |c| redis::cmd("PING").query_async::<String>(c).await)
            .await
            .map(drop)
    }

    /// Readiness of a writer: a small expiring write on every partition. A
    /// `PING` answers while Redis refuses writes (full, a failed snapshot,
    /// a replica), and ingest would then fail every event.
    pub async fn ping_writable(&self) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        // Each reply on its own: a pipeline's combined error hides the
        // server's code (`OOM`, `READONLY`), which says what is wrong.
        pipe.ignore_errors();
        for p in self.keys.partitions() {
            pipe.cmd("SET")
                .arg(self.keys.write_probe(p))
                .arg(1)
                .arg("PX")
                .arg(10_000);
        }
        let replies = self
            .run(async |c| pipe.query_async::<Vec<redis::RedisResult<()>>>(c).await)
            .await?;
        replies
            .into_iter()
            .collect::<redis::RedisResult<()>>()
            .map_err(StoreError::Redis)
    }
}
