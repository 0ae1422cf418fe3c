//! `flush-worker erase-user USER_ID`: forget a user, as the read API's
//! `DELETE /api/v1/admin/analytics/users/{user_id}` does (see
//! `analytics_store::erasure`), for an operator or a queue of requests.
//! Idempotent: run it again after a failure and it finishes the job.

use std::time::Duration;

use analytics_domain::event::MAX_USER_ID_CHARS;
use analytics_domain::validation::operator_id;
use analytics_store::erasure::{erase_user, ErasureStores, KEPT};
use clap::Args;

use crate::stores::Stores;

#[derive(Debug, Clone, Args)]
pub struct EraseOptions {
    /// The user id as producers send it (an integer id by its digits).
    pub user_id: String,
    /// Who asked, for the audit trail (`analytics_erasures`).
    #[arg(long, default_value = "flush-worker")]
    pub requested_by: String,
    /// Seconds to wait for a flush that holds a partition.
    #[arg(long, default_value_t = 60)]
    pub wait_seconds: u64,
}

pub async fn run(stores: &Stores, opts: &EraseOptions) -> anyhow::Result<u8> {
    let Some(user_id) = operator_id(&opts.user_id, MAX_USER_ID_CHARS) else {
        eprintln!(
            "USER_ID must be 1..{MAX_USER_ID_CHARS} characters without control or bidirectional formatting characters."
        );
        return Ok(2);
    };
    let erasure = ErasureStores {
        counters: &stores.counters,
        catalogue: &stores.catalogue,
        rollups: &stores.rollups,
        step_timeout: stores.step_timeout,
    };
    let wait = Duration::from_secs(opts.wait_seconds);
    let r = erase_user(&erasure, user_id, &opts.requested_by, wait).await?;
    println!(
        "Erased user {} (requested by {}): {} raw-log rows, {} filtered rows, {} events waiting in Redis, {} live-feed samples; live viewer: {}.",
        r.user_id_sha256,
        r.requested_by,
        r.raw_log_rows,
        r.filtered_rows,
        r.waiting_events,
        r.live_feed_samples,
        if r.live_viewer { "removed" } else { "no" },
    );
    for kept in KEPT {
        println!("Kept: {kept}.");
    }
    Ok(0)
}
