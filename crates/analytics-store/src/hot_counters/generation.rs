//! The rollups' generation: a number each flush that changed the stores
//! raises, so a reader can keep what it computed from them until it does.

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
}
