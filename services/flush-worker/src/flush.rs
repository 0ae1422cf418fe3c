//! The exactly-once flush (brief §5), partition by partition:
//! lease → resume or claim a batch → apply to Mongo with its ledger entry →
//! sync MySQL replicas with absolute values → delete the batch.
//! Steps 3 and 4 are idempotent and step 5 runs only after them, so a crash
//! anywhere is repaired by simply running again.

use std::time::Duration;

use analytics_domain::rollup::RollupDelta;
use analytics_domain::{Domain, EntityType};
use analytics_store::hot_counters::{Batch, Claim};
use analytics_store::rollups::{ApplyOutcome, FlushRunRecord};
use analytics_store::StoreError;
use chrono::Utc;

use crate::fault::{self, FaultPoint};
use crate::stores::Stores;

/// The catalogue in MySQL holds this domain's movies.
pub const CATALOGUE_DOMAIN: &str = "jav";

#[derive(Debug, Clone)]
pub struct FlushOptions {
    pub partitions: Vec<u16>,
    pub batch_size: usize,
    pub lease_ttl: Duration,
    pub max_batches: u64,
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
    let started_at = Utc::now();
    let mut report = FlushReport::default();
    let mut budget = opts.max_batches;
    for &p in &opts.partitions {
        if budget == 0 {
            break;
        }
        match flush_partition(stores, opts, &run_id, p, &mut budget, &mut report).await {
            Ok(()) => {}
            Err(e) => {
                report.errors += 1;
                tracing::error!(partition = p, error = %e, "flush of partition failed; its open batch resumes next run");
            }
        }
    }
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

async fn flush_partition(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    p: u16,
    budget: &mut u64,
    report: &mut FlushReport,
) -> Result<(), StoreError> {
    let counters = &stores.counters;
    if !counters.acquire_lease(p, run_id, opts.lease_ttl).await? {
        report.skipped_partitions += 1;
        tracing::info!(
            partition = p,
            "partition leased by another flusher; skipped"
        );
        return Ok(());
    }
    let result = async {
        let mut n = 0u64;
        while *budget > 0 {
            counters.renew_lease(p, run_id, opts.lease_ttl).await?;
            let batch_id = format!("{run_id}-{p}-{n}");
            n += 1;
            let batch = match counters
                .claim_batch(p, run_id, &batch_id, opts.batch_size)
                .await?
            {
                Claim::Empty => break,
                Claim::Stale => continue,
                Claim::Batch(batch) => batch,
            };
            *budget -= 1;
            fault::trip(opts.fault, FaultPoint::AfterClaim);
            flush_batch(stores, opts, run_id, &batch, report).await?;
        }
        Ok(())
    }
    .await;
    // Releasing is best effort: an unreleased lease simply expires.
    if let Err(e) = counters.release_lease(p, run_id).await {
        tracing::warn!(partition = p, error = %e, "could not release flush lease");
    }
    result
}

async fn flush_batch(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    batch: &Batch,
    report: &mut FlushReport,
) -> Result<(), StoreError> {
    let hashes = stores.counters.read_batch(batch).await?;
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

    // Fencing: make sure the lease is still ours before writing anywhere.
    stores
        .counters
        .renew_lease(batch.partition, run_id, opts.lease_ttl)
        .await?;
    let outcome = stores.rollups.apply_batch(&batch.id, keys, &delta).await?;
    fault::trip(opts.fault, FaultPoint::AfterMongo);

    report.replicas_updated += sync_replicas(stores, &delta).await?;
    fault::trip(opts.fault, FaultPoint::AfterMysql);

    stores.counters.finish_batch(batch, run_id).await?;
    report.batches += 1;
    report.keys += keys;
    report.ignored_fields += delta.ignored_fields;
    if outcome == ApplyOutcome::Applied {
        report.documents += delta.document_count() as u64;
    }
    if batch.resumed {
        report.resumed_batches += 1;
    }
    tracing::debug!(
        batch = batch.id,
        keys,
        resumed = batch.resumed,
        already_applied = outcome == ApplyOutcome::AlreadyApplied,
        "batch flushed"
    );
    Ok(())
}

/// Sets `jav.views`/`jav.downloads` of the batch's movies to the Mongo
/// totals. Rows are locked before the totals are read, so whichever
/// flusher writes last also read last: replicas never go backwards.
async fn sync_replicas(stores: &Stores, delta: &RollupDelta) -> Result<u64, StoreError> {
    let ids: Vec<String> = delta
        .totals
        .keys()
        .filter(|e| e.domain.as_str() == CATALOGUE_DOMAIN && e.entity_type == EntityType::Movie)
        .map(|e| e.entity_id.clone())
        .collect();
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
