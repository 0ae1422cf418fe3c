//! The run log: what each flush and parity check did, for `/pipeline`.

use std::collections::HashMap;

use analytics_domain::artifact::ParityArtifact;
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, DateTime as BsonDateTime, Document};
use serde_json::{json, Map, Value};

use super::{bson_time, RollupStore, PARITY_RUNS, RUNS};
use crate::error::StoreError;

/// A logged run as the operators' views show it, whatever its kind: its
/// scalar fields as JSON (times in RFC 3339, `_id` as `run_id`; nested
/// values such as a parity artifact left out), and when it finished, or
/// started if it has no end.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRun {
    pub fields: Map<String, Value>,
    pub at: Option<DateTime<Utc>>,
}

impl LoggedRun {
    fn of(doc: &Document) -> Self {
        let time = |t: &BsonDateTime| {
            DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or_default()
        };
        let mut fields = Map::new();
        for (k, v) in doc {
            let value = match v {
                Bson::DateTime(t) => json!(time(t).to_rfc3339_opts(SecondsFormat::Secs, true)),
                Bson::Int64(n) => json!(n),
                Bson::Int32(n) => json!(n),
                Bson::String(s) => json!(s),
                Bson::Boolean(b) => json!(b),
                _ => continue,
            };
            let name = if k == "_id" { "run_id" } else { k.as_str() };
            fields.insert(name.to_string(), value);
        }
        let at = doc
            .get_datetime("finished_at")
            .or_else(|_| doc.get_datetime("started_at"))
            .ok()
            .map(time);
        LoggedRun { fields, at }
    }
}

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
    /// Movies whose catalogue counts were kept because the rollups do not
    /// hold them (the cut-over has not imported them).
    pub replicas_kept: u64,
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
            "replicas_kept": run.replicas_kept as i64,
            "log_entries": run.log_entries as i64,
            "log_deferred": run.log_deferred,
            "status": if run.errors == 0 { "success" } else { "failed" },
        };
        self.db.collection::<Document>(RUNS).insert_one(doc).await?;
        Ok(())
    }

    /// The most recent run of a run collection (`RUNS`, `PARITY_RUNS`).
    pub async fn last_run(&self, collection: &str) -> Result<Option<LoggedRun>, StoreError> {
        let found = self
            .db
            .collection::<Document>(collection)
            .find_one(doc! {})
            .sort(doc! {"started_at": -1})
            .await?;
        Ok(found.as_ref().map(LoggedRun::of))
    }

    /// Records a parity check: its outcome for the pipeline view, and the
    /// whole artifact, so the evidence of a past day is what was found that
    /// day.
    pub async fn record_parity(&self, artifact: &ParityArtifact) -> Result<(), StoreError> {
        let mut doc = doc! {
            "started_at": bson_time(Utc::now()),
            "artifact_date": &artifact.artifact_date,
            "checked": artifact.checked,
            "mismatches": artifact.mismatches,
            "artifact": mongodb::bson::to_document(artifact)
                .map_err(|e| mongo_protocol(format!("parity artifact: {e}")))?,
        };
        if let Some(o) = &artifact.orphans {
            doc.insert("orphans", o.len() as i64);
        }
        self.db
            .collection::<Document>(PARITY_RUNS)
            .insert_one(doc)
            .await?;
        Ok(())
    }

    /// The last parity artifact recorded on each of these dates (a date
    /// with no recorded check is absent).
    pub async fn parity_history(
        &self,
        dates: &[String],
    ) -> Result<HashMap<String, ParityArtifact>, StoreError> {
        let mut cursor = self
            .db
            .collection::<Document>(PARITY_RUNS)
            .find(doc! {"artifact_date": {"$in": dates}, "artifact": {"$exists": true}})
            .sort(doc! {"started_at": 1})
            .await?;
        let mut out = HashMap::new();
        while let Some(doc) = cursor.try_next().await? {
            let artifact = doc
                .get_document("artifact")
                .map_err(|e| mongo_protocol(format!("parity run: {e}")))?;
            let artifact: ParityArtifact = mongodb::bson::from_document(artifact.clone())
                .map_err(|e| mongo_protocol(format!("parity artifact: {e}")))?;
            // Oldest first: the last recorded check of a date wins.
            out.insert(artifact.artifact_date.clone(), artifact);
        }
        Ok(out)
    }
}

fn mongo_protocol(detail: String) -> StoreError {
    StoreError::Protocol {
        store: "mongodb",
        detail,
    }
}
