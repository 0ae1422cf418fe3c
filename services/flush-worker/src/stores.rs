//! Connects the three stores the jobs need and prepares their schemas.

use std::time::Duration;

use analytics_store::block_signals::BlockSignalStore;
use analytics_store::{CatalogueStore, HotCounters, JobEventStore, RollupStore};

use crate::settings::Settings;

pub struct Stores {
    pub counters: HotCounters,
    pub rollups: RollupStore,
    pub catalogue: CatalogueStore,
    /// Where the jobs report their own runs, like any queue job.
    pub jobs: JobEventStore,
    /// The crawlers' block signals (pruned with the job telemetry).
    pub signals: BlockSignalStore,
    /// The deadline of each MongoDB or MariaDB step of a job
    /// (`flush.step_timeout_seconds`; see [`crate::deadline`]).
    pub step_timeout: Duration,
}

impl Stores {
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let s = &settings.stores;
        let counters = HotCounters::new(&s.redis_settings()?, s.key_space()?)?;
        let rollups = RollupStore::connect(&s.mongo_settings()?).await?;
        let catalogue = CatalogueStore::connect(&s.mysql_settings()?).await?;
        let retention = Duration::from_secs(u64::from(s.retention()?.telemetry_days) * 86_400);
        let jobs = JobEventStore::new(rollups.database(), retention);
        let signals = BlockSignalStore::new(rollups.database(), retention);
        Ok(Stores {
            counters,
            rollups,
            catalogue,
            jobs,
            signals,
            step_timeout: settings.flush.step_timeout(),
        })
    }

    /// Closes the MongoDB client before the process ends (see
    /// `RollupStore::shutdown`), giving it a moment at most.
    pub async fn close(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.rollups.shutdown()).await;
    }

    /// One step of a job under its deadline (`what` names it in the error).
    pub async fn step<T>(
        &self,
        what: &'static str,
        step: impl std::future::Future<Output = Result<T, analytics_store::StoreError>>,
    ) -> Result<T, analytics_store::StoreError> {
        crate::deadline::step(what, self.step_timeout, step).await
    }

    /// The schemas (`migrate`, a deploy step): MySQL migrations, Mongo
    /// indexes. Idempotent.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        self.catalogue.migrate().await?;
        self.ensure_indexes().await
    }

    /// Refuses to run a job on a database `migrate` has not prepared: the
    /// flush's exactly-once upserts rely on the unique keys. Checked, never
    /// built here (see `RollupStore::missing_indexes`); MySQL is left to
    /// `migrate` alone, so a job never fails because MySQL is out.
    pub async fn check_schema(&self) -> anyhow::Result<()> {
        let missing = self
            .step("mongodb: the schema check", self.rollups.missing_indexes())
            .await?;
        if let Some(first) = missing.first() {
            anyhow::bail!(
                "MongoDB lacks {} of the indexes this job relies on (the first: {first}): run `flush-worker migrate` (a deploy step) first.",
                missing.len()
            );
        }
        Ok(())
    }

    /// The Mongo indexes (unique rollup keys above all): `migrate` and the
    /// cut-over build them.
    pub async fn ensure_indexes(&self) -> anyhow::Result<()> {
        self.rollups.ensure_indexes().await?;
        self.jobs.ensure_indexes().await?;
        Ok(())
    }
}
