//! What ingest's backpressure watches — Redis's memory against its
//! `maxmemory`, and the counts waiting for the flush — and the reason ingest
//! publishes while it holds back, for the operator page.

use deadpool_redis::redis;

use super::HotCounters;
use crate::error::StoreError;

/// One reading of the figures backpressure decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pressure {
    /// `used_memory` of `INFO memory`.
    pub used_memory: u64,
    /// `maxmemory`; 0 when Redis has no limit.
    pub max_memory: u64,
    /// The partitions' waiting sums: counted and not yet flushed.
    pub counts_waiting: i64,
}

/// How long a published reason stands unless ingest publishes it again: a
/// stopped ingest process leaves no stale warning behind.
const HOLDING_BACK_TTL_MS: u64 = 5_000;

impl HotCounters {
    pub async fn pressure(&self) -> Result<Pressure, StoreError> {
        let waiting_keys: Vec<String> = self
            .keys
            .partitions()
            .map(|p| self.keys.waiting(p))
            .collect();
        let (info, waiting): (redis::Value, Vec<Option<i64>>) = self
            .run(async |c| {
                redis::pipe()
                    .cmd("INFO")
                    .arg("memory")
                    .cmd("MGET")
                    .arg(&waiting_keys)
                    .query_async(c)
                    .await
            })
            .await?;
        // A cluster answers INFO per master: the fullest one decides, as
        // the first to refuse writes.
        let (used_memory, max_memory) = node_infos(info)
            .iter()
            .map(|info| {
                (
                    info_field(info, "used_memory"),
                    info_field(info, "maxmemory"),
                )
            })
            .max_by(|a, b| share(*a).total_cmp(&share(*b)))
            .unwrap_or((0, 0));
        Ok(Pressure {
            used_memory,
            max_memory,
            counts_waiting: waiting.into_iter().flatten().sum(),
        })
    }

    /// Says why ingest holds back (`None`: it does not), for a few seconds.
    pub async fn publish_holding_back(&self, reason: Option<&str>) -> Result<(), StoreError> {
        let key = self.keys.holding_back();
        match reason {
            Some(reason) => {
                self.run(async |c| {
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(reason)
                        .arg("PX")
                        .arg(HOLDING_BACK_TTL_MS)
                        .query_async::<()>(c)
                        .await
                })
                .await
            }
            None => {
                self.run(async |c| redis::cmd("DEL").arg(&key).query_async::<()>(c).await)
                    .await
            }
        }
    }

    /// Why an ingest process holds back now, if one does.
    pub async fn holding_back(&self) -> Result<Option<String>, StoreError> {
        let key = self.keys.holding_back();
        self.run(async |c| redis::cmd("GET").arg(&key).query_async(c).await)
            .await
    }
}

/// `INFO`'s text: one Redis answers it, a cluster a map of node to text.
fn node_infos(reply: redis::Value) -> Vec<String> {
    match reply {
        redis::Value::Map(nodes) => nodes
            .into_iter()
            .filter_map(|(_, info)| redis::from_redis_value(info).ok())
            .collect(),
        one => redis::from_redis_value(one).into_iter().collect(),
    }
}

fn info_field(info: &str, name: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0)
}

/// Used memory as a share of `maxmemory` (0 without a limit).
fn share((used, max): (u64, u64)) -> f64 {
    if max == 0 {
        0.0
    } else {
        used as f64 / max as f64
    }
}
