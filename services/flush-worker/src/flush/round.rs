//! One round: the batches claimed in one order range are applied to Mongo
//! exactly once (in one transaction, or by document marks), then the
//! movies' replicas are written, then the batches are deleted.

use std::time::{Duration, Instant};

use analytics_domain::rollup::RollupDelta;
use analytics_domain::{Action, EntityType};
use analytics_store::hot_counters::{count_units, Batch, CounterHash};
use analytics_store::rollups::{ApplyReport, BatchDelta};
use analytics_store::StoreError;
use futures_util::future::try_join_all;

use super::replicas::{ReplicaWriter, RoundMovies, CATALOGUE_DOMAIN};
use super::{elapsed_ms, FlushOptions, FlushReport};
use crate::fault::{self, FaultPoint};
use crate::stores::Stores;

#[tracing::instrument(name = "flush_round", skip_all, fields(batches = batches.len()))]
pub(super) async fn flush(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    batches: &[Batch],
    replicas: &mut ReplicaWriter,
    report: &mut FlushReport,
) -> Result<(), StoreError> {
    let started = Instant::now();
    // Each step below goes to Redis for every batch at once.
    let hashes = try_join_all(batches.iter().map(|b| stores.counters.read_batch(b))).await?;
    let units: Vec<i64> = hashes.iter().map(|h| count_units(h)).collect();
    let deltas: Vec<_> = hashes.into_iter().map(batch_delta).collect();
    // A partition's batches are applied one after another: its number names
    // the sequence a document's marks follow.
    let sequences: Vec<String> = batches.iter().map(|b| b.partition.to_string()).collect();
    let parts: Vec<BatchDelta> = batches
        .iter()
        .zip(&deltas)
        .zip(&sequences)
        .map(|((b, (keys, delta)), sequence)| BatchDelta {
            batch_id: &b.id,
            sequence,
            keys: *keys,
            delta,
        })
        .collect();
    let applying = Instant::now();
    report.redis_ms += elapsed_ms(started);
    let applied = apply(stores, opts, run_id, batches, &parts, report).await?;
    report.mongo_ms += elapsed_ms(applying);
    fault::trip(opts.fault, FaultPoint::AfterMongo);
    let writing_replicas = Instant::now();

    // The replicas' guard needs what this round added to each movie's
    // totals: nothing for a batch an earlier run applied.
    let mut movies = RoundMovies::new();
    for (batch, (_, delta)) in batches.iter().zip(&deltas) {
        let added_now = !applied.already_applied_ids.contains(&batch.id);
        for (entity, counts) in &delta.totals {
            if entity.domain.as_str() != CATALOGUE_DOMAIN || entity.entity_type != EntityType::Movie
            {
                continue;
            }
            let added = movies.entry(entity.entity_id.clone()).or_default();
            if added_now {
                added.views += counts.get(Action::View);
                added.downloads += counts.get(Action::Download);
            }
        }
    }
    replicas.write(stores, movies, report).await?;
    fault::trip(opts.fault, FaultPoint::AfterMysql);
    report.replica_ms += elapsed_ms(writing_replicas);
    let finishing = Instant::now();

    try_join_all(
        batches
            .iter()
            .zip(units)
            .map(|(b, units)| stores.counters.finish_batch(b, run_id, units)),
    )
    .await?;
    report.redis_ms += elapsed_ms(finishing);
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

/// The round's Mongo transaction, run again while it conflicts with
/// another one (a shard working beside this one, or a transaction a killed
/// run left open until the server expires it), within
/// `opts.transaction_retry`. Every attempt first renews the leases
/// (fencing: a run that lost a partition never writes its batches), and
/// waits a jittered, growing pause, as the driver's guidance for transient
/// transaction errors says.
async fn apply(
    stores: &Stores,
    opts: &FlushOptions,
    run_id: &str,
    batches: &[Batch],
    parts: &[BatchDelta<'_>],
    report: &mut FlushReport,
) -> Result<ApplyReport, StoreError> {
    let deadline = Instant::now() + opts.transaction_retry;
    let mut attempt = 0u32;
    loop {
        try_join_all(batches.iter().map(|b| {
            stores
                .counters
                .renew_lease(b.partition, run_id, opts.lease_ttl)
        }))
        .await?;
        let begin = stores.rollups.begin_apply(parts);
        let result = match stores.step("mongodb: the round's transaction", begin).await {
            Ok(open) => {
                fault::stall(opts.stall).await;
                fault::trip(opts.fault, FaultPoint::InTransaction);
                stores
                    .step("mongodb: the round's commit", open.commit())
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Err(e) if e.is_transient() && Instant::now() < deadline => {
                attempt += 1;
                report.transaction_retries += 1;
                tracing::info!(attempt, error = %e, "round transaction conflicted; retrying");
                tokio::time::sleep(retry_pause(attempt, opts.lease_ttl)).await;
            }
            other => return other,
        }
    }
}

/// Full jitter over an exponential ceiling (20 ms doubling, at most 2 s,
/// and at most a third of the lease so the next attempt renews it in
/// time): two conflicting shards rarely wake up together again.
fn retry_pause(attempt: u32, lease_ttl: Duration) -> Duration {
    let lease_bound = u64::try_from(lease_ttl.as_millis() / 3).unwrap_or(u64::MAX);
    let ceiling = 20u64
        .saturating_mul(1 << attempt.min(7))
        .min(2000)
        .min(lease_bound)
        .max(2);
    Duration::from_millis(rand::random_range(ceiling / 2..=ceiling))
}

/// Folds a batch's counter hashes into one delta; returns (keys, delta).
fn batch_delta(hashes: Vec<CounterHash>) -> (u64, RollupDelta) {
    let mut delta = RollupDelta::default();
    let mut keys = 0u64;
    for hash in &hashes {
        let Some(entity) = &hash.entity else {
            // Never guess at a key the pipeline did not write.
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

#[cfg(test)]
mod tests {
    use super::retry_pause;
    use std::time::Duration;

    #[test]
    fn retry_pauses_grow_and_stay_within_the_lease() {
        let lease = Duration::from_secs(60);
        for attempt in 1..20 {
            let pause = retry_pause(attempt, lease);
            assert!(pause >= Duration::from_millis(10), "{attempt}: {pause:?}");
            assert!(pause <= Duration::from_secs(2), "{attempt}: {pause:?}");
        }
        assert!(retry_pause(10, lease) >= Duration::from_secs(1));
        let short = Duration::from_millis(300);
        assert!((1..20).all(|a| retry_pause(a, short) <= Duration::from_millis(100)));
    }
}
