//! `flush-worker prune [--dry-run]`: applies the retention settings, a
//! bounded chunk per statement (no long lock; each chunk commits, so a run
//! stopped anywhere is resumed by the next):
//!
//! - the raw event log (`analytics_events`, `analytics_events_filtered`):
//!   rows that occurred before the first day `retention.raw_log_days` keeps,
//!   and the ids erased users' events left behind (`analytics_erased_events`);
//! - with `retention.rollup_days`, the per-day and per-hour rollup documents
//!   and the day boards of older days (weeks, months, years and totals stay);
//! - job telemetry older than `retention.telemetry_days` (their TTL index
//!   expires them at the retention they were written with; this applies a
//!   shorter one at once).
//!
//! What it deleted goes to stdout; progress and the longest statement (the
//! longest any lock was held) to stderr.

use std::time::Duration;

use analytics_domain::Domain;
use analytics_runtime::config::Retention;
use analytics_store::event_log::{ERASED_TABLE, FILTERED_TABLE, LOG_TABLE};
use analytics_store::retention::{Chunk, Chunks};
use chrono::Utc;
use clap::Args;

use crate::progress::Progress;
use crate::stores::Stores;

/// Rows or documents deleted per statement: a few hundred milliseconds of
/// one MariaDB core for raw-log rows with their five indexes.
const CHUNK: u64 = 5000;

#[derive(Debug, Clone, Args)]
pub struct PruneOptions {
    /// Count what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The longest statement of the run, and the progress line.
struct Watch {
    longest: Duration,
    deleted: u64,
    progress: Progress,
}

impl Watch {
    fn saw(&mut self, c: Chunk) {
        self.longest = self.longest.max(c.took);
        self.deleted += c.deleted;
        self.progress.tick(self.deleted);
    }
}

pub async fn run(
    stores: &Stores,
    retention: &Retention,
    domains: &[Domain],
    opts: &PruneOptions,
) -> anyhow::Result<u8> {
    let dry = opts.dry_run;
    // The MongoDB loops chunk inside the store: each chunk under the
    // step deadline too.
    let chunks = Chunks {
        size: CHUNK as i64,
        dry_run: dry,
        deadline: stores.step_timeout,
    };
    let verb = if dry { "would be deleted" } else { "deleted" };
    let mut watch = Watch {
        longest: Duration::ZERO,
        deleted: 0,
        progress: Progress::new("prune: rows and documents deleted", 0),
    };
    let today = Utc::now().date_naive();

    match retention.raw_log_since(today) {
        None => println!("Raw event log: kept (retention.raw_log_days = 0)."),
        Some(before) => {
            let first = before.date_naive();
            for (table, name) in [
                (LOG_TABLE, "Raw event log"),
                (FILTERED_TABLE, "Filtered events"),
                (ERASED_TABLE, "Erased events' ids"),
            ] {
                let n = prune_table(stores, table, before, dry, &mut watch).await?;
                println!("{name}: {n} rows {verb} (occurred before {first} UTC).");
            }
        }
    }

    match retention.rollup_days {
        None => println!("Rollups: day and hour documents kept (retention.rollup_days = 0)."),
        Some(days) => {
            let before = today - chrono::Duration::days(i64::from(days));
            let pruned = stores
                .rollups
                .prune_days(domains, before, chunks, &mut |c| watch.saw(c))
                .await?;
            println!(
                "Rollups: {} day documents, {} hour documents and {} day boards {verb} (days before {before}).",
                pruned.days, pruned.hours, pruned.day_boards
            );
        }
    }

    let before = Utc::now() - chrono::Duration::days(i64::from(retention.telemetry_days));
    let events = stores
        .jobs
        .prune(before, chunks, &mut |c| watch.saw(c))
        .await?;
    let signals = stores
        .signals
        .prune(before, chunks, &mut |c| watch.saw(c))
        .await?;
    println!(
        "Telemetry: {events} job events and {signals} block signals {verb} (older than {} days).",
        retention.telemetry_days
    );
    eprintln!(
        "prune: {} deleted; the longest statement took {:.3} s",
        watch.deleted,
        watch.longest.as_secs_f64()
    );
    Ok(0)
}

/// One raw-log table's rows that occurred before `before`: deleted a chunk
/// at a time (each under the step deadline), or counted in a dry run.
async fn prune_table(
    stores: &Stores,
    table: &'static str,
    before: chrono::DateTime<Utc>,
    dry: bool,
    watch: &mut Watch,
) -> anyhow::Result<u64> {
    if dry {
        let count = stores.catalogue.count_events_before(table, before);
        return Ok(stores
            .step("mysql: counting the rows to prune", count)
            .await?);
    }
    let mut n = 0;
    loop {
        let chunk = stores.catalogue.prune_events(table, before, CHUNK);
        let c = stores.step("mysql: a prune chunk", chunk).await?;
        watch.saw(c);
        n += c.deleted;
        if c.deleted < CHUNK {
            return Ok(n);
        }
    }
}
