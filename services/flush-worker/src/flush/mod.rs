//! The exactly-once flush. Lease the partitions; then sweep the entity
//! order once, round by round: claim (or resume) one batch per partition in
//! the round's order range, apply them to Mongo in one transaction with
//! their ledger entries, write the MySQL replicas with absolute values,
//! delete the batches. The Mongo and MySQL steps are idempotent and the
//! delete runs only after them, so a crash anywhere is repaired by simply
//! running again. The raw event log is copied to MySQL beside the sweep;
//! the leases are renewed on a clock while both work.

mod event_log;
mod job_report;
mod leases;
mod replicas;
mod round;

use std::time::{Duration, Instant};

use analytics_domain::job_event::JobEventType;
use analytics_domain::sweep::{OrderRange, Sweep};
use analytics_store::hot_counters::{Batch, Claim};
use analytics_store::rollups::FlushRunRecord;
use analytics_store::StoreError;
use chrono::Utc;
use futures_util::future::try_join_all;
use tracing::Instrument;

use crate::fault::{self, FaultPoint};
use crate::stores::Stores;

pub use job_report::FLUSH_JOB_NAME;
pub use replicas::CATALOGUE_DOMAIN;

#[derive(Debug, Clone)]
pub struct FlushOptions {
    /// The partitions this run (shard) owns.
    pub partitions: Vec<u16>,
    /// All partitions of the key space (where a shard starts its sweep).
    pub partition_count: u16,
    pub batch_size: usize,
    pub lease_ttl: Duration,
    /// No new round starts after this; the rest waits for the next run.
    pub max_run_time: Duration,
    /// How long a round's transaction is retried while it conflicts with
    /// another (a concurrent shard, or one a killed run left open).
    pub transaction_retry: Duration,
    pub fault: Option<FaultPoint>,
    /// A pause inside each round's transaction (tests: a slow store).
    pub stall: Option<Duration>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FlushReport {
    pub keys: u64,
    pub batches: u64,
    pub resumed_batches: u64,
    pub errors: u64,
    pub ignored_fields: u64,
    /// Rollup documents upserted (Mongo writes).
    pub documents: u64,
    pub replicas_updated: u64,
    /// Movies whose replicas wait for MySQL (it was out).
    pub replicas_deferred: u64,
    /// Movies whose catalogue counts were above what the product wrote:
    /// kept, not lowered, until `flush-worker cutover` imports them.
    pub replicas_kept: u64,
    /// Partitions another flusher held; the next run takes them.
    pub skipped_partitions: u64,
    /// Transactions run again after a conflict.
    pub transaction_retries: u64,
    /// Whether the run stopped at `max_run_time` before its sweep ended.
    pub out_of_time: bool,
    /// Raw-log events copied to MySQL and trimmed from Redis, and the rows
    /// that were new there (fewer when a stopped run had copied some).
    pub log_entries: u64,
    pub log_rows: u64,
    /// Raw-log entries that were not what ingest writes: dropped, counted.
    pub log_malformed: u64,
    /// MySQL was out: the raw log waits in Redis for the next run.
    pub log_deferred: bool,
    /// How long the raw-log copy took (beside the sweep, not after it).
    pub log_copy_ms: u64,
    /// Where the sweep's time went: Redis (claiming, reading and deleting
    /// batches), the Mongo transactions, the MySQL replicas; then the
    /// leaderboard merge after the sweep.
    pub redis_ms: u64,
    pub mongo_ms: u64,
    pub replica_ms: u64,
    pub leaderboard_ms: u64,
}

/// Milliseconds since `start`, for the report's timings.
fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl FlushReport {
    fn add_log_copy(&mut self, log: event_log::LogCopyReport) {
        self.log_entries += log.entries;
        self.log_rows += log.rows;
        self.log_malformed += log.malformed;
        self.log_deferred |= log.deferred;
        self.out_of_time |= log.out_of_time;
        self.errors += log.errors;
        self.log_copy_ms = log.copy_ms;
    }

    /// Whether the run wrote rollups, replicas or raw-log rows (what
    /// readers compute from; a resumed batch or a log stretch copied again
    /// may finish what a stopped run began).
    pub fn changed_stores(&self) -> bool {
        self.batches > 0 || self.replicas_updated > 0 || self.log_entries > 0
    }
}

pub async fn run(stores: &Stores, opts: &FlushOptions) -> FlushReport {
    let run_id = uuid::Uuid::now_v7().to_string();
    let span = tracing::info_span!("flush_run", run_id = %run_id);
    run_as(stores, opts, run_id).instrument(span).await
}

async fn run_as(stores: &Stores, opts: &FlushOptions, run_id: String) -> FlushReport {
    let started_at = Utc::now();
    let mut report = FlushReport::default();
    job_report::send(stores, &run_id, JobEventType::Started, started_at, &report).await;

    let leased = lease_partitions(stores, opts, &run_id, &mut report).await;
    let deadline = Instant::now() + opts.max_run_time;
    let mut replicas = replicas::ReplicaWriter::default();
    let work = async {
        tokio::join!(
            sweep(stores, opts, &run_id, &leased, &mut replicas, &mut report),
            event_log::copy(stores, opts, &run_id, &leased, deadline),
        )
    };
    let (swept, log) = leases::kept_while(stores, &run_id, &leased, opts.lease_ttl, work).await;
    if let Err(e) = swept {
        report.errors += 1;
        tracing::error!(error = %e, "flush stopped; open batches resume on the next run");
    }
    report.add_log_copy(log);
    for &p in &leased {
        // Best effort: an unreleased lease simply expires.
        if let Err(e) = stores.counters.release_lease(p, &run_id).await {
            tracing::warn!(partition = p, error = %e, "could not release flush lease");
        }
    }
    // Outside the leases: replicas deferred by this or earlier runs, then
    // the leaderboards (this run's change records and any a stopped run left).
    replicas.catch_up(stores, &mut report).await;
    let merging = Instant::now();
    let merged = merge_leaderboards(stores).await;
    report.leaderboard_ms = elapsed_ms(merging);
    if report.changed_stores() || merged > 0 {
        // Readers recompute what they keep; should this fail, they do so
        // when their copy reaches its age limit.
        if let Err(e) = stores.counters.raise_rollup_generation().await {
            tracing::warn!(error = %e, "could not raise the rollup generation");
        }
    }
    finish(stores, &run_id, started_at, &report).await;
    report
}

/// Takes each of the run's partitions that no other flusher holds.
async fn lease_partitions(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    report: &mut FlushReport,
) -> Vec<u16> {
    let mut leased = Vec::new();
    for &p in &opts.partitions {
        match stores
            .counters
            .acquire_lease(p, run_id, opts.lease_ttl)
            .await
        {
            Ok(true) => leased.push(p),
            Ok(false) => {
                report.skipped_partitions += 1;
                tracing::info!(
                    partition = p,
                    "partition leased by another flusher; skipped"
                );
            }
            Err(e) => {
                report.errors += 1;
                tracing::error!(partition = p, error = %e, "could not take the flush lease");
            }
        }
    }
    leased
}

/// Records the run, reports its end to telemetry and logs what it did.
async fn finish(
    stores: &Stores,
    run_id: &str,
    started_at: chrono::DateTime<Utc>,
    report: &FlushReport,
) {
    let record = FlushRunRecord {
        run_id: run_id.to_string(),
        started_at,
        finished_at: Utc::now(),
        keys: report.keys,
        batches: report.batches,
        errors: report.errors,
        ignored_fields: report.ignored_fields,
        replicas_deferred: report.replicas_deferred,
        replicas_kept: report.replicas_kept,
        log_entries: report.log_entries,
        log_deferred: report.log_deferred,
    };
    if let Err(e) = stores
        .step(
            "mongodb: the run record",
            stores.rollups.record_run(&record),
        )
        .await
    {
        tracing::warn!(error = %e, "could not record the flush run");
    }
    let outcome = if report.errors == 0 {
        JobEventType::Completed
    } else {
        JobEventType::Failed
    };
    job_report::send(stores, run_id, outcome, record.finished_at, report).await;
    tracing::info!(
        run_id,
        keys = report.keys,
        batches = report.batches,
        resumed_batches = report.resumed_batches,
        errors = report.errors,
        ignored_fields = report.ignored_fields,
        documents = report.documents,
        replicas_updated = report.replicas_updated,
        replicas_deferred = report.replicas_deferred,
        replicas_kept = report.replicas_kept,
        skipped_partitions = report.skipped_partitions,
        transaction_retries = report.transaction_retries,
        out_of_time = report.out_of_time,
        log_entries = report.log_entries,
        log_rows = report.log_rows,
        log_malformed = report.log_malformed,
        log_deferred = report.log_deferred,
        log_copy_ms = report.log_copy_ms,
        redis_ms = report.redis_ms,
        mongo_ms = report.mongo_ms,
        replica_ms = report.replica_ms,
        leaderboard_ms = report.leaderboard_ms,
        "flush finished"
    );
}

/// Best effort: counting never waits on a leaderboard; a record that fails
/// to merge stays pending and the next run merges it. Returns the records
/// merged.
async fn merge_leaderboards(stores: &Stores) -> usize {
    let merge = stores.rollups.leaderboards().merge_pending();
    match stores.step("mongodb: the leaderboards", merge).await {
        Ok(records) => {
            tracing::debug!(records, "leaderboard changes merged");
            records
        }
        Err(e) => {
            tracing::warn!(error = %e, "leaderboard changes not merged yet; the next run retries");
            0
        }
    }
}

/// Renews the partition's lease and claims (or resumes) its batch in the
/// round's order range; `None` when nothing there waits.
async fn claim(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    p: u16,
    round_no: u64,
    range: OrderRange,
) -> Result<Option<Batch>, StoreError> {
    stores
        .counters
        .renew_lease(p, run_id, opts.lease_ttl)
        .await?;
    let batch_id = format!("{run_id}-{p}-{round_no}");
    loop {
        match stores
            .counters
            .claim_batch(p, run_id, &batch_id, opts.batch_size, range)
            .await?
        {
            Claim::Empty => return Ok(None),
            Claim::Stale => continue,
            Claim::Batch(batch) => return Ok(Some(batch)),
        }
    }
}

/// One pass over the entity order (see [`Sweep`]). A round in which some
/// partition filled a whole batch is repeated, so a dense part of the
/// backlog is not left behind, but only while the run has flushed fewer
/// keys than were waiting when it started: under continuous ingest a run
/// still ends, and newer keys wait for the next run.
async fn sweep(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    leased: &[u16],
    replicas: &mut replicas::ReplicaWriter,
    report: &mut FlushReport,
) -> Result<(), StoreError> {
    if leased.is_empty() {
        return Ok(());
    }
    // The shard's place in the order space comes from its configured
    // partitions, not from the ones it happened to lease.
    let first = opts.partitions.first().copied().unwrap_or(0);
    let mut backlog = 0u64;
    for &p in leased {
        backlog += stores.counters.dirty_count(p).await?;
    }
    let mut sweep = Sweep::new(
        Sweep::start_for(first, opts.partition_count),
        Sweep::step_for(opts.batch_size, backlog),
    );
    let budget = backlog.max(opts.batch_size as u64);
    let deadline = Instant::now() + opts.max_run_time;
    let mut next = sweep.next_range();
    let mut round_no = 0u64;
    while let Some(range) = next {
        if Instant::now() >= deadline {
            report.out_of_time = true;
            tracing::warn!("flush time budget spent; the rest waits for the next run");
            return Ok(());
        }
        // Partitions are independent: their claims go to Redis together.
        let claiming = Instant::now();
        let claims = leased
            .iter()
            .map(|&p| claim(stores, opts, run_id, p, round_no, range));
        let batches: Vec<_> = try_join_all(claims).await?.into_iter().flatten().collect();
        report.redis_ms += elapsed_ms(claiming);
        round_no += 1;
        let dense = batches
            .iter()
            .any(|b| b.resumed || b.claimed_keys >= opts.batch_size as u64);
        if !batches.is_empty() {
            fault::trip(opts.fault, FaultPoint::AfterClaim);
            round::flush(stores, opts, run_id, &batches, replicas, report).await?;
        }
        next = if dense && report.keys < budget {
            sweep.repeat_last()
        } else {
            sweep.next_range()
        };
    }
    Ok(())
}
