//! Connects the three stores the jobs need and prepares their schemas.

use std::time::Duration;

use analytics_store::{CatalogueStore, HotCounters, JobEventStore, RollupStore};

use crate::settings::Settings;

pub struct Stores {
    pub counters: HotCounters,
    pub rollups: RollupStore,
    pub catalogue: CatalogueStore,
    /// Where the jobs report their own runs, like any queue job.
    pub jobs: JobEventStore,
}

impl Stores {
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let s = &settings.stores;
        let counters = HotCounters::new(&s.redis_settings()?, s.key_space()?)?;
        let rollups = RollupStore::connect(&s.mongo_settings()?).await?;
        let catalogue = CatalogueStore::connect(&s.mysql_settings()?).await?;
        let retention = Duration::from_secs(settings.telemetry.retention_days.max(1) * 86_400);
        let jobs = JobEventStore::new(rollups.database(), retention);
        Ok(Stores {
            counters,
            rollups,
            catalogue,
            jobs,
        })
    }

    /// Idempotent: MySQL migrations and Mongo indexes.
    pub async fn prepare(&self) -> anyhow::Result<()> {
        self.catalogue.migrate().await?;
        self.rollups.ensure_indexes().await?;
        self.jobs.ensure_indexes().await?;
        Ok(())
    }
}
