//! The run log: what each flush and parity check did, for `/pipeline`.

use chrono::{DateTime, Utc};
use mongodb::bson::{doc, Document};

use super::{bson_time, RollupStore, PARITY_RUNS, RUNS};
use crate::error::StoreError;

/// What one flush run did, as stored in `analytics_flush_runs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushRunRecord {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub keys: u64,
    pub batches: u64,
    pub errors: u64,
    pub ignored_fields: u64,
    /// Movies whose catalogue replicas wait for MySQL to come back.
    pub replicas_deferred: u64,
    /// Raw-log entries copied to MySQL, and whether MySQL was out (the
    /// rest of the log waits in Redis).
    pub log_entries: u64,
    pub log_deferred: bool,
}

impl RollupStore {
    pub async fn record_run(&self, run: &FlushRunRecord) -> Result<(), StoreError> {
        let doc = doc! {
            "_id": &run.run_id,
            "started_at": bson_time(run.started_at),
            "finished_at": bson_time(run.finished_at),
            "duration_ms": (run.finished_at - run.started_at).num_milliseconds(),
            "keys": run.keys as i64,
            "batches": run.batches as i64,
            "errors": run.errors as i64,
            "ignored_fields": run.ignored_fields as i64,
            "replicas_deferred": run.replicas_deferred as i64,
            "log_entries": run.log_entries as i64,
            "log_deferred": run.log_deferred,
            "status": if run.errors == 0 { "success" } else { "failed" },
        };
        self.db.collection::<Document>(RUNS).insert_one(doc).await?;
        Ok(())
    }

    /// The most recent run of a run collection (`RUNS`, `PARITY_RUNS`).
    pub async fn last_run(&self, collection: &str) -> Result<Option<Document>, StoreError> {
        Ok(self
            .db
            .collection::<Document>(collection)
            .find_one(doc! {})
            .sort(doc! {"started_at": -1})
            .await?)
    }

    /// Records a parity check's outcome for the pipeline view.
    pub async fn record_parity(
        &self,
        checked: i64,
        mismatches: i64,
        orphans: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut doc = doc! {
            "started_at": bson_time(Utc::now()),
            "checked": checked,
            "mismatches": mismatches,
        };
        if let Some(o) = orphans {
            doc.insert("orphans", o);
        }
        self.db
            .collection::<Document>(PARITY_RUNS)
            .insert_one(doc)
            .await?;
        Ok(())
    }
}
