//! Copies each leased partition's raw event log from Redis to MySQL, up to
//! the entry that was newest when the copy started (so it ends under
//! continuous ingest). Entries are deleted from Redis only after the
//! insert that holds them committed; a run stopped in between copies them
//! again and `INSERT IGNORE` on the unique event id keeps one row each.
//! MySQL being out defers the copy: the entries wait in Redis.
//!
//! The copy runs beside the rollup sweep, not after it: the two move
//! different keys (the log stream, the counter batches) to different
//! stores, each fenced by the same leases and each idempotent on its own, so
//! neither waits for the other and MySQL's inserts overlap Mongo's writes.

use std::time::Instant;

use analytics_store::event_log::LogEntry;
use analytics_store::StoreError;

use super::FlushOptions;
use crate::fault::{self, FaultPoint};
use crate::stores::Stores;

/// Stream entries copied per round (each holds the events of one ingest
/// call: one for a single event, a partition's share of a batch).
const COPY_CHUNK: usize = 500;

/// What a copy did, folded into the run's report when both halves end.
#[derive(Debug, Default)]
pub(super) struct LogCopyReport {
    /// Events copied and trimmed from Redis, and the rows new in MySQL.
    pub entries: u64,
    pub rows: u64,
    /// Lines that were not what ingest writes: dropped, counted.
    pub malformed: u64,
    /// MySQL was out: the log waits in Redis.
    pub deferred: bool,
    pub out_of_time: bool,
    pub errors: u64,
    pub copy_ms: u64,
}

pub(super) async fn copy(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    leased: &[u16],
    deadline: Instant,
) -> LogCopyReport {
    let started = Instant::now();
    let mut report = LogCopyReport::default();
    for &p in leased {
        match copy_partition(stores, opts, run_id, p, deadline, &mut report).await {
            Ok(()) => {}
            Err(e) if e.store() == "mysql" => {
                report.deferred = true;
                tracing::warn!(partition = p, error = %e, "raw event log not copied; it waits in Redis for the next run");
                break;
            }
            Err(e) => {
                report.errors += 1;
                tracing::error!(partition = p, error = %e, "raw event log copy stopped");
                break;
            }
        }
    }
    report.copy_ms = super::elapsed_ms(started);
    report
}

async fn copy_partition(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    p: u16,
    deadline: Instant,
    report: &mut LogCopyReport,
) -> Result<(), StoreError> {
    let Some(end) = stores.counters.log_end(p).await? else {
        return Ok(());
    };
    loop {
        if Instant::now() >= deadline {
            report.out_of_time = true;
            return Ok(());
        }
        let records = stores.counters.read_log(p, &end, COPY_CHUNK).await?;
        let Some((last, _)) = records.last() else {
            return Ok(());
        };
        let reached_end = *last == end || records.len() < COPY_CHUNK;
        let mut entries = Vec::with_capacity(records.len());
        for (id, raw) in &records {
            for line in raw.lines() {
                match LogEntry::parse(line) {
                    Some(entry) => entries.push(entry),
                    None => {
                        // Never guess at an entry the pipeline did not write.
                        report.malformed += 1;
                        tracing::warn!(partition = p, id, "malformed raw log line dropped");
                    }
                }
            }
        }
        report.rows += stores
            .step(
                "mysql: the raw event log",
                stores.catalogue.insert_events(&entries),
            )
            .await?;
        fault::trip(opts.fault, FaultPoint::AfterLogCopy);
        let ids: Vec<String> = records.into_iter().map(|(id, _)| id).collect();
        // Fenced by the lease: a run that lost it deletes nothing.
        stores.counters.trim_log(p, run_id, &ids).await?;
        report.entries += entries.len() as u64;
        if reached_end {
            return Ok(());
        }
    }
}
