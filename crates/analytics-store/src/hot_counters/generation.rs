//! Plain counters: the rollups' generation (a number each flush that
//! changed the stores raises, so a reader can keep what it computed from
//! them until it does) and the jobs a site started per second.

use deadpool_redis::redis;

use super::HotCounters;
use crate::error::StoreError;

impl HotCounters {
    /// Raises the generation (after a flush wrote something).
    pub async fn raise_rollup_generation(&self) -> Result<u64, StoreError> {
        let key = self.keys.rollup_generation();
        self.run(async |c| redis::cmd("INCR").arg(&key).query_async(c).await)
            .await
    }

    /// The current generation (0 before the first flush).
    pub async fn rollup_generation(&self) -> Result<u64, StoreError> {
        let key = self.keys.rollup_generation();
        let current: Option<u64> = self
            .run(async |c| redis::cmd("GET").arg(&key).query_async(c).await)
            .await?;
        Ok(current.unwrap_or(0))
    }

    /// Counts a job a site started in `second` (epoch seconds); returns the
    /// count so far. The counter lives two minutes: long enough for late
    /// events of that second, short enough to cost nothing.
    pub async fn count_job_start(&self, site: &str, second: i64) -> Result<u64, StoreError> {
        let key = self.keys.job_starts(second, site);
        let (count,): (u64,) = self
            .run(async |c| {
                redis::pipe()
                    .cmd("INCR")
                    .arg(&key)
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(JOB_RATE_TTL_SECONDS)
                    .ignore()
                    .query_async(c)
                    .await
            })
            .await?;
        Ok(count)
    }
}

const JOB_RATE_TTL_SECONDS: u64 = 120;
