//! Keeps a run's partition leases alive while it works. The lease is what
//! tells other flushers a live process owns the partition, so it is renewed
//! on a clock (every third of its TTL), not only between steps: a step that
//! is merely slow (a long transaction, a MySQL connection waited for on a
//! loaded machine) no longer loses the partitions of a run that is still
//! working. A killed run stops renewing and its leases expire after their
//! TTL, as before. The steps' own fencing stays: a claim, a batch's delete
//! and a log trim each check the lease in Redis, so a run that did lose a
//! partition (Redis unreachable for a whole TTL) writes nothing more there.

use std::future::Future;
use std::time::Duration;

use analytics_store::StoreError;
use futures_util::future::join_all;

use crate::stores::Stores;

/// Runs `work` while renewing `leased` for `run_id`, and returns its output.
pub(super) async fn kept_while<T>(
    stores: &Stores,
    run_id: &str,
    leased: &[u16],
    ttl: Duration,
    work: impl Future<Output = T>,
) -> T {
    let mut work = std::pin::pin!(work);
    tokio::select! {
        out = &mut work => out,
        // `renew` ends only when every lease is lost: the work then meets
        // the fencing and ends on its own.
        () = renew(stores, run_id, leased, ttl) => work.await,
    }
}

async fn renew(stores: &Stores, run_id: &str, leased: &[u16], ttl: Duration) {
    let mut held = leased.to_vec();
    let mut tick = tokio::time::interval((ttl / 3).max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate; the leases were just taken.
    tick.tick().await;
    while !held.is_empty() {
        tick.tick().await;
        // All at once: on a cluster each is a round trip to its own master,
        // and one after the other they could outlast a short lease.
        let renewals = join_all(
            held.iter()
                .map(|&p| async move { (p, stores.counters.renew_lease(p, run_id, ttl).await) }),
        )
        .await;
        let mut still = Vec::with_capacity(held.len());
        for (p, renewed) in renewals {
            match renewed {
                Ok(()) => still.push(p),
                Err(StoreError::LeaseLost { .. }) => {
                    tracing::warn!(partition = p, "flush lease lost to another run; its work there stops at the next fenced step");
                }
                // Redis out for a moment: the next tick tries again, within
                // the TTL.
                Err(e) => {
                    tracing::warn!(partition = p, error = %e, "could not renew the flush lease");
                    still.push(p);
                }
            }
        }
        held = still;
    }
}
