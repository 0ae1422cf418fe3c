//! Forgetting a user: every event the pipeline keeps of them, one by one,
//! is deleted wherever it is kept with their id — the partitions' Redis
//! logs not yet copied, the MySQL raw log and filtered table, the live feed
//! and the live viewers — and the erasure is recorded in
//! `analytics_erasures` by a SHA-256 of the id, never the id itself.
//!
//! What stays: counts and sums in the rollups and boards (they hold no
//! user), the unique-viewer registers (HyperLogLog ranks of many users
//! mixed in one number: no user can be taken out, none can be read back),
//! and the dedupe entries of the last 48 to 72 h (a hash of the event id
//! holding a hash of the event, no user id; they expire by themselves). The erased events' ids stay in
//! `analytics_erased_events` with entity and action but no user, so an
//! import that sends them again counts nothing twice.
//!
//! Order: the flush leases of every partition first, so no flush is copying
//! a stream while its lines are taken out (and none can copy a line into
//! MySQL after the rows are deleted); then the streams, then MySQL in
//! chunks (each its own short transaction), then the live keys. Stopped
//! anywhere, a second erasure of the same user finishes the job.

use std::time::Duration;

use chrono::{DateTime, Utc};
use mongodb::bson::{doc, Document};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{MySql, QueryBuilder};

use crate::catalogue::CatalogueStore;
use crate::error::{bounded, StoreError};
use crate::event_log::{naive, LogEntry, ERASED_TABLE, FILTERED_TABLE, LOG_TABLE};
use crate::hot_counters::HotCounters;
use crate::rollups::RollupStore;

/// The audit trail of erasures.
pub const ERASURES: &str = "analytics_erasures";
/// Raw-log rows per transaction: one short lock along the user index.
const CHUNK: u64 = 1000;
/// The leases are renewed between steps; a crashed eraser frees the
/// partitions within this.
const LEASE_TTL: Duration = Duration::from_secs(30);

/// What an erasure leaves, as its answers say.
pub const KEPT: [&str; 3] = [
    "counts and sums in the rollups and leaderboards (they hold no user)",
    "unique-viewer registers (HyperLogLog ranks of many users in one number: none can be taken out or read back)",
    "dedupe entries of the last 48 to 72 h (a 64-bit hash of the event id holding a 64-bit hash of the event, no user id; they expire by themselves)",
];

/// The stores an erasure reaches.
pub struct ErasureStores<'a> {
    pub counters: &'a HotCounters,
    pub catalogue: &'a CatalogueStore,
    pub rollups: &'a RollupStore,
    /// The longest one MariaDB or MongoDB step may take: a store that stops
    /// answering ends the erasure with an error (run again, it finishes).
    pub step_timeout: Duration,
}

/// What one erasure deleted; its audit record, and the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErasureReport {
    /// Hex SHA-256 of the user id: whoever knows the id can find its
    /// erasure; the record alone does not name the user.
    pub user_id_sha256: String,
    pub requested_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    /// Rows deleted from the raw event log (MySQL).
    pub raw_log_rows: u64,
    /// Rows deleted from the filtered events (MySQL).
    pub filtered_rows: u64,
    /// Events taken out of the Redis logs before the flush copied them.
    pub waiting_events: u64,
    /// Samples deleted from the live feed.
    pub live_feed_samples: u64,
    /// Whether the user was among the live viewers.
    pub live_viewer: bool,
}

impl ErasureReport {
    pub fn events_erased(&self) -> u64 {
        self.raw_log_rows + self.filtered_rows + self.waiting_events + self.live_feed_samples
    }
}

/// Hex SHA-256 of a user id as the audit trail keeps it.
pub fn user_id_sha256(user_id: &str) -> String {
    Sha256::digest(user_id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Erases `user_id`'s events (see the module). `lease_wait` bounds the wait
/// for a flush holding a partition (then `PartitionsBusy`, an outage).
pub async fn erase_user(
    stores: &ErasureStores<'_>,
    user_id: &str,
    requested_by: &str,
    lease_wait: Duration,
) -> Result<ErasureReport, StoreError> {
    let started_at = Utc::now();
    let run_id = format!("erase-{}", uuid::Uuid::now_v7());
    let counters = stores.counters;
    counters
        .lease_every_partition(&run_id, LEASE_TTL, lease_wait)
        .await?;
    let held = erase_under_leases(stores, &run_id, user_id).await;
    counters.release_every_partition(&run_id).await;
    let (waiting_events, raw_log_rows, filtered_rows) = held?;
    let (live_feed_samples, live_viewer) = counters.scrub_live(user_id).await?;
    // Reports computed from the deleted rows (a user's statistics) are
    // recomputed rather than served from a cache.
    counters.raise_rollup_generation().await?;
    let report = ErasureReport {
        user_id_sha256: user_id_sha256(user_id),
        requested_by: requested_by.to_string(),
        started_at,
        finished_at: Utc::now(),
        raw_log_rows,
        filtered_rows,
        waiting_events,
        live_feed_samples,
        live_viewer,
    };
    bounded(
        "mongodb",
        stores.step_timeout,
        stores.rollups.record_erasure(&report),
    )
    .await?;
    Ok(report)
}

/// The streams, then the MySQL rows, with every lease renewed between
/// steps: `(waiting events, raw-log rows, filtered rows)`.
async fn erase_under_leases(
    stores: &ErasureStores<'_>,
    run_id: &str,
    user_id: &str,
) -> Result<(u64, u64, u64), StoreError> {
    let counters = stores.counters;
    let mut waiting = 0;
    for p in counters.keys().partitions() {
        // A long backlog takes a while to read: the leases outlive it.
        counters.renew_every_partition(run_id, LEASE_TTL).await?;
        let entries = counters.users_log_entries(p, user_id).await?;
        // Their ids first: an import of these events long after must find
        // them, even if the run stops between the two steps.
        let events: Vec<LogEntry> = entries
            .iter()
            .flat_map(|e| &e.theirs)
            .filter_map(|line| LogEntry::parse(line))
            .filter(|e| e.filtered.is_none())
            .collect();
        bounded(
            "mariadb",
            stores.step_timeout,
            stores.catalogue.keep_erased_ids(&events),
        )
        .await?;
        for entry in &entries {
            if counters.replace_log_entry(p, run_id, entry).await? {
                waiting += entry.theirs.len() as u64;
            }
        }
    }
    let mut rows = [0u64; 2];
    for (n, table) in rows.iter_mut().zip([LOG_TABLE, FILTERED_TABLE]) {
        loop {
            counters.renew_every_partition(run_id, LEASE_TTL).await?;
            let deleted = bounded(
                "mariadb",
                stores.step_timeout,
                stores.catalogue.erase_user_rows(table, user_id, CHUNK),
            )
            .await?;
            *n += deleted;
            if deleted < CHUNK {
                break;
            }
        }
    }
    Ok((waiting, rows[0], rows[1]))
}

impl CatalogueStore {
    /// Deletes up to `limit` of the user's rows of a raw-log table in one
    /// transaction (the log's rows leave their ids in
    /// `analytics_erased_events`); returns the rows deleted.
    pub async fn erase_user_rows(
        &self,
        table: &'static str,
        user_id: &str,
        limit: u64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let ids: Vec<u64> = sqlx::query_scalar(&format!(
            "SELECT id FROM {table} WHERE user_id = ? LIMIT ? FOR UPDATE"
        ))
        .bind(user_id)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let in_ids = |sql: String| {
            let mut q = QueryBuilder::<MySql>::new(sql);
            let mut list = q.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
            q.push(")");
            q
        };
        if table == LOG_TABLE {
            in_ids(format!(
                "INSERT IGNORE INTO {ERASED_TABLE} (event_id, domain, entity_type, entity_id, \
                 action, value, occurred_at, erased_at) SELECT event_id, domain, entity_type, \
                 entity_id, action, value, occurred_at, UTC_TIMESTAMP(3) FROM {LOG_TABLE} \
                 WHERE id IN ("
            ))
            .build()
            .execute(&mut *tx)
            .await?;
        }
        let deleted = in_ids(format!("DELETE FROM {table} WHERE id IN ("))
            .build()
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted)
    }

    /// Keeps the ids (with entity and action, not the user) of erased
    /// events that never reached the raw log.
    pub async fn keep_erased_ids(&self, events: &[LogEntry]) -> Result<(), StoreError> {
        for chunk in events.chunks(500) {
            let mut q = QueryBuilder::<MySql>::new(format!(
                "INSERT IGNORE INTO {ERASED_TABLE} (event_id, domain, entity_type, entity_id, \
                 action, value, occurred_at, erased_at) "
            ));
            q.push_values(chunk, |mut row, e| {
                row.push_bind(&e.event_id)
                    .push_bind(&e.domain)
                    .push_bind(&e.entity_type)
                    .push_bind(&e.entity_id)
                    .push_bind(&e.action)
                    .push_bind(e.value)
                    .push_bind(naive(&e.occurred_at))
                    .push("UTC_TIMESTAMP(3)");
            });
            q.build().execute(self.pool()).await?;
        }
        Ok(())
    }
}

impl RollupStore {
    /// Appends an erasure to the audit trail.
    pub async fn record_erasure(&self, report: &ErasureReport) -> Result<(), StoreError> {
        let at = |t: &DateTime<Utc>| mongodb::bson::DateTime::from_millis(t.timestamp_millis());
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let record: Document = doc! {
            "user_id_sha256": &report.user_id_sha256,
            "requested_by": &report.requested_by,
            "started_at": at(&report.started_at),
            "finished_at": at(&report.finished_at),
            "raw_log_rows": count(report.raw_log_rows),
            "filtered_rows": count(report.filtered_rows),
            "waiting_events": count(report.waiting_events),
            "live_feed_samples": count(report.live_feed_samples),
            "live_viewer": report.live_viewer,
        };
        self.db
            .collection::<Document>(ERASURES)
            .insert_one(record)
            .await?;
        Ok(())
    }

    /// The erasures recorded of one user id, oldest first.
    pub async fn erasures_of(&self, user_id: &str) -> Result<Vec<Document>, StoreError> {
        use futures_util::TryStreamExt;
        let found = self
            .db
            .collection::<Document>(ERASURES)
            .find(doc! {"user_id_sha256": user_id_sha256(user_id)})
            .sort(doc! {"started_at": 1})
            .await?;
        Ok(found.try_collect().await?)
    }
}
