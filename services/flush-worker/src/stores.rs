//! Connects the three stores the jobs need and prepares their schemas.

use analytics_store::{CatalogueStore, HotCounters, RollupStore};

use crate::settings::Settings;

pub struct Stores {
    pub counters: HotCounters,
    pub rollups: RollupStore,
    pub catalogue: CatalogueStore,
}

impl Stores {
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let s = &settings.stores;
        let counters = HotCounters::new(&s.redis_settings()?, s.key_space()?)?;
        let rollups = RollupStore::connect(&s.mongo_settings()?).await?;
        let catalogue = CatalogueStore::connect(&s.mysql_settings()?).await?;
        Ok(Stores {
            counters,
            rollups,
            catalogue,
        })
    }

    /// Idempotent: MySQL migrations and Mongo indexes.
    pub async fn prepare(&self) -> anyhow::Result<()> {
        self.catalogue.migrate().await?;
        self.rollups.ensure_indexes().await?;
        Ok(())
    }
}
