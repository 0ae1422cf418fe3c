//! The exactly-once flush (brief §5). Lease the partitions; then per round:
//! resume or claim one batch per partition (the same entity range in each),
//! apply them to Mongo in one transaction with their ledger entries, sync
//! the MySQL replicas with absolute values, delete the batches. The Mongo
//! and MySQL steps are idempotent and the delete runs only after them, so a
//! crash anywhere is repaired by simply running again.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use analytics_domain::job_event::{JobEvent, JobEventType};
use analytics_domain::rollup::RollupDelta;
use analytics_domain::{Domain, EntityType};
use analytics_store::hot_counters::{Batch, Claim, CounterHash};
use analytics_store::rollups::{BatchDelta, FlushRunRecord};
use analytics_store::StoreError;
use chrono::Utc;
use tracing::Instrument;

use crate::fault::{self, FaultPoint};
use crate::stores::Stores;

/// The job name the flush reports itself under in `job_events`.
pub const FLUSH_JOB_NAME: &str = "analytics:flush";

/// The catalogue in MySQL holds this domain's movies.
pub const CATALOGUE_DOMAIN: &str = "jav";

#[derive(Debug, Clone)]
pub struct FlushOptions {
    pub partitions: Vec<u16>,
    pub batch_size: usize,
    pub lease_ttl: Duration,
    /// No new round starts after this; the rest waits for the next run.
    pub max_run_time: Duration,
    pub fault: Option<FaultPoint>,
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
    /// Partitions another flusher held; the next run takes them.
    pub skipped_partitions: u64,
}

pub async fn run(stores: &Stores, opts: &FlushOptions) -> FlushReport {
    let run_id = uuid::Uuid::now_v7().to_string();
    let span = tracing::info_span!("flush_run", run_id = %run_id);
    run_as(stores, opts, run_id).instrument(span).await
}

async fn run_as(stores: &Stores, opts: &FlushOptions, run_id: String) -> FlushReport {
    let started_at = Utc::now();
    let mut report = FlushReport::default();
    report_job(stores, &run_id, JobEventType::Started, started_at, &report).await;

    let mut leased = Vec::new();
    for &p in &opts.partitions {
        match stores
            .counters
            .acquire_lease(p, &run_id, opts.lease_ttl)
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
    if let Err(e) = flush_rounds(stores, opts, &run_id, &leased, &mut report).await {
        report.errors += 1;
        tracing::error!(error = %e, "flush stopped; open batches resume on the next run");
    }
    for &p in &leased {
        // Best effort: an unreleased lease simply expires.
        if let Err(e) = stores.counters.release_lease(p, &run_id).await {
            tracing::warn!(partition = p, error = %e, "could not release flush lease");
        }
    }
    // Outside the leases: the boards need none, and this run's change
    // records (and any a stopped run left) are merged together.
    merge_leaderboards(stores).await;

    let record = FlushRunRecord {
        run_id: run_id.clone(),
        started_at,
        finished_at: Utc::now(),
        keys: report.keys,
        batches: report.batches,
        errors: report.errors,
        ignored_fields: report.ignored_fields,
    };
    if let Err(e) = stores.rollups.record_run(&record).await {
        tracing::warn!(error = %e, "could not record the flush run");
    }
    let outcome = if report.errors == 0 {
        JobEventType::Completed
    } else {
        JobEventType::Failed
    };
    report_job(stores, &run_id, outcome, record.finished_at, &report).await;
    tracing::info!(
        run_id,
        keys = report.keys,
        batches = report.batches,
        resumed_batches = report.resumed_batches,
        errors = report.errors,
        ignored_fields = report.ignored_fields,
        documents = report.documents,
        replicas_updated = report.replicas_updated,
        skipped_partitions = report.skipped_partitions,
        "flush finished"
    );
    report
}

/// Best effort: counting never waits on a leaderboard; a record that fails
/// to merge stays pending and the next run merges it.
async fn merge_leaderboards(stores: &Stores) {
    match stores.rollups.merge_pending_leaderboards().await {
        Ok(records) => tracing::debug!(records, "leaderboard changes merged"),
        Err(e) => {
            tracing::warn!(error = %e, "leaderboard changes not merged yet; the next run retries")
        }
    }
}

/// Reports this run as a job event (`analytics:flush`), so operators see the
/// flush like any other queue job. Best effort: telemetry never fails a flush.
async fn report_job(
    stores: &Stores,
    run_id: &str,
    event_type: JobEventType,
    at: chrono::DateTime<Utc>,
    report: &FlushReport,
) {
    let mut meta = std::collections::BTreeMap::new();
    if event_type != JobEventType::Started {
        for (k, v) in [
            ("keys", report.keys),
            ("batches", report.batches),
            ("documents", report.documents),
            ("errors", report.errors),
            ("skipped_partitions", report.skipped_partitions),
        ] {
            meta.insert(k.to_string(), serde_json::json!(v));
        }
    }
    let event = JobEvent {
        event_type,
        job_uuid: run_id.to_string(),
        job_name: FLUSH_JOB_NAME.to_string(),
        queue: "cron".into(),
        connection: None,
        attempt: 1,
        site: "analytics".into(),
        source: "flush-worker".into(),
        url: None,
        timestamp: at.fixed_offset(),
        duration_ms: None,
        error_class: (event_type == JobEventType::Failed).then(|| "FlushErrors".to_string()),
        error_code: None,
        error_message_short: (event_type == JobEventType::Failed).then(|| {
            format!(
                "{} partition or round errors; see the flush log",
                report.errors
            )
        }),
        timeout_ms_observed: None,
        worker_host: std::env::var("HOSTNAME").ok(),
        payload_meta: meta,
    };
    if let Err(e) = stores.jobs.record(&event).await {
        tracing::warn!(error = %e, "could not record the flush as a job event");
    }
}

/// Rounds sweep the entity order from low to high: each round raises a
/// threshold and every partition claims (or resumes) its dirty keys up to
/// it. All partition keys of one entity share its order, so they land in the
/// same round and merge into one write per document. The step is sized so a
/// round holds about `batch_size` keys; once the sweep reaches the top it
/// repeats there until every partition is dry (events keep arriving).
async fn flush_rounds(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    leased: &[u16],
    report: &mut FlushReport,
) -> Result<(), StoreError> {
    let mut backlog = 0u64;
    for &p in leased {
        backlog += stores.counters.dirty_count(p).await?;
    }
    let step = sweep_step(opts.batch_size, backlog);
    let deadline = Instant::now() + opts.max_run_time;
    let mut threshold = 0u32;
    let mut round = 0u64;
    loop {
        if Instant::now() >= deadline {
            tracing::warn!("flush time budget spent; the rest waits for the next run");
            return Ok(());
        }
        threshold = threshold.saturating_add(step);
        let mut batches = Vec::new();
        for &p in leased {
            stores
                .counters
                .renew_lease(p, run_id, opts.lease_ttl)
                .await?;
            let batch_id = format!("{run_id}-{p}-{round}");
            loop {
                match stores
                    .counters
                    .claim_batch(p, run_id, &batch_id, opts.batch_size, threshold)
                    .await?
                {
                    Claim::Empty => break,
                    Claim::Stale => continue,
                    Claim::Batch(batch) => {
                        batches.push(batch);
                        break;
                    }
                }
            }
        }
        round += 1;
        if batches.is_empty() {
            if threshold == u32::MAX {
                return Ok(());
            }
            continue;
        }
        fault::trip(opts.fault, FaultPoint::AfterClaim);
        flush_group(stores, opts, run_id, &batches, report).await?;
    }
}

/// How far the entity-order threshold moves per round for rounds of about
/// `batch_size` keys out of `backlog` (the order is uniform over u32).
fn sweep_step(batch_size: usize, backlog: u64) -> u32 {
    let space = u64::from(u32::MAX) + 1;
    let step = space * batch_size as u64 / backlog.max(1);
    u32::try_from(step.max(1)).unwrap_or(u32::MAX)
}

/// Applies one round's batches: Mongo (one transaction), then the MySQL
/// replicas, then deletes the batches.
#[tracing::instrument(name = "flush_round", skip_all, fields(batches = batches.len()))]
async fn flush_group(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    batches: &[Batch],
    report: &mut FlushReport,
) -> Result<(), StoreError> {
    let mut deltas = Vec::with_capacity(batches.len());
    for batch in batches {
        deltas.push(batch_delta(stores.counters.read_batch(batch).await?));
    }

    // Fencing: make sure every lease is still ours before writing anywhere.
    for batch in batches {
        stores
            .counters
            .renew_lease(batch.partition, run_id, opts.lease_ttl)
            .await?;
    }
    let parts: Vec<BatchDelta> = batches
        .iter()
        .zip(&deltas)
        .map(|(b, (keys, delta))| BatchDelta {
            batch_id: &b.id,
            keys: *keys,
            delta,
        })
        .collect();
    let applied = stores.rollups.apply_batches(&parts).await?;
    fault::trip(opts.fault, FaultPoint::AfterMongo);

    let movies: BTreeSet<&str> = deltas
        .iter()
        .flat_map(|(_, d)| d.totals.keys())
        .filter(|e| e.domain.as_str() == CATALOGUE_DOMAIN && e.entity_type == EntityType::Movie)
        .map(|e| e.entity_id.as_str())
        .collect();
    report.replicas_updated +=
        sync_replicas(stores, movies.into_iter().map(String::from).collect()).await?;
    fault::trip(opts.fault, FaultPoint::AfterMysql);

    for batch in batches {
        stores.counters.finish_batch(batch, run_id).await?;
    }
    report.batches += batches.len() as u64;
    report.resumed_batches += batches.iter().filter(|b| b.resumed).count() as u64;
    report.keys += deltas.iter().map(|(k, _)| k).sum::<u64>();
    report.ignored_fields += deltas.iter().map(|(_, d)| d.ignored_fields).sum::<u64>();
    report.documents += applied.documents as u64;
    tracing::debug!(
        batches = batches.len(),
        documents = applied.documents,
        already_applied = applied.already_applied,
        "round flushed"
    );
    Ok(())
}

/// Folds a batch's counter hashes into one delta; returns (keys, delta).
fn batch_delta(hashes: Vec<CounterHash>) -> (u64, RollupDelta) {
    let mut delta = RollupDelta::default();
    let mut keys = 0u64;
    for hash in &hashes {
        let Some(entity) = &hash.entity else {
            // Never guess at a key we did not write (legacy W-8).
            tracing::warn!(key = hash.key, "malformed counter key ignored");
            continue;
        };
        keys += 1;
        for (field, n) in &hash.fields {
            if !delta.add_field(entity, field, *n) {
                tracing::warn!(
                    key = hash.key,
                    field,
                    value = n,
                    "malformed counter field ignored"
                );
            }
        }
    }
    (keys, delta)
}

/// Sets `jav.views`/`jav.downloads` of these movies to the Mongo
/// totals. Rows are locked before the totals are read, so whichever
/// flusher writes last also read last: replicas never go backwards.
async fn sync_replicas(stores: &Stores, ids: Vec<String>) -> Result<u64, StoreError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let lock = stores.catalogue.lock_movies(&ids).await?;
    let domain = Domain::new(CATALOGUE_DOMAIN).map_err(|e| StoreError::Config(e.to_string()))?;
    let totals = stores
        .rollups
        .totals_for(&domain, EntityType::Movie, lock.present())
        .await?;
    let rows: Vec<(String, i64, i64)> = lock
        .present()
        .iter()
        .filter_map(|id| {
            totals.get(id).map(|c| {
                (
                    id.clone(),
                    c.get(analytics_domain::Action::View),
                    c.get(analytics_domain::Action::Download),
                )
            })
        })
        .collect();
    lock.write(&rows).await
}

#[cfg(test)]
mod tests {
    use super::sweep_step;

    #[test]
    fn the_sweep_step_sizes_rounds_to_the_backlog() {
        assert_eq!(sweep_step(1000, 0), u32::MAX);
        assert_eq!(sweep_step(1000, 1000), u32::MAX);
        assert_eq!(sweep_step(1000, 4000), 1 << 30);
        assert_eq!(sweep_step(1, u64::MAX), 1);
    }
}
