//! `flush-worker cutover [--dry-run]`: takes over a live catalogue from the
//! system this replaces without losing its history. In order:
//!
//! 1. rollup documents the old system duplicated (it had no unique index)
//!    are merged, then the unique indexes are built;
//! 2. each film's catalogue counts above its totals become an opening
//!    balance in the totals (recorded on the totals document; no day, week,
//!    month or year gets it), and the replicas are written from the result;
//! 3. the old system's unflushed Redis counters are drained into the hot
//!    counters (the next flush counts them, exactly once);
//! 4. its dedupe markers become dedupe entries that live at least as long,
//!    so a producer retrying across the switch is not counted twice.
//!
//! Step 2 comes before step 3 so the drained counts are never mistaken for
//! history. Every step is idempotent: a second run changes nothing and says
//! so. What each step did goes to stdout; progress on long work to stderr.

use std::time::Instant;

use analytics_domain::opening::{opening_balance, CatalogueCounts};
use analytics_domain::vocabulary::CATALOGUE_DOMAIN;
use analytics_domain::{Action, Domain, EntityType};
use analytics_store::hot_counters::{LegacyKeys, CUTOVER_ON_CLUSTER};
use analytics_store::rollups::{CutoverRecord, DuplicateReport, Opening};
use analytics_store::StoreError;
use anyhow::Context;
use clap::Args;

use crate::progress::Progress;
use crate::stores::Stores;

/// Catalogue rows locked and balanced at a time.
const PAGE: i64 = 1000;

#[derive(Debug, Clone, Args)]
pub struct CutoverOptions {
    /// Say what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What the opening balances did.
#[derive(Debug, Default, Clone, Copy)]
struct Balances {
    films: u64,
    balanced: u64,
    views: i64,
    downloads: i64,
    replicas: u64,
}

/// What draining the old counters did.
#[derive(Debug, Default, Clone, Copy)]
struct Drain {
    keys: u64,
    units: i64,
    left_out: u64,
    unnamed: u64,
}

/// What copying the old markers did.
#[derive(Debug, Default, Clone, Copy)]
struct Markers {
    seen: u64,
    copied: u64,
}

pub async fn run(
    stores: &Stores,
    legacy: &LegacyKeys,
    opts: &CutoverOptions,
) -> anyhow::Result<u8> {
    if stores.counters.is_cluster() {
        eprintln!("Refused: {CUTOVER_ON_CLUSTER}.");
        return Ok(2);
    }
    let started = Instant::now();
    let dry = opts.dry_run;

    // Merging an old database's duplicates and building the unique indexes
    // take as long as the collections need, as in `migrate`: bounded by the
    // Job's deadline, not a step's.
    let duplicates = stores
        .rollups
        .merge_duplicate_rollups(dry)
        .await
        .context("merging duplicate rollup documents")?;
    if !dry {
        stores.ensure_indexes().await?;
    }
    println!("{}", duplicates_line(duplicates, dry));

    let balances = open_balances(stores, dry).await?;
    println!("{}", balances_line(&balances, dry));
    let drain = drain_counters(stores, legacy, dry).await?;
    for line in drain_lines(&drain, dry) {
        println!("{line}");
    }
    let markers = copy_markers(stores, legacy, dry).await?;
    println!("{}", markers_line(markers, dry));

    let changed = duplicates.removed > 0
        || balances.balanced > 0
        || balances.replicas > 0
        || drain.keys > 0
        || markers.copied > 0;
    if dry {
        println!("Dry run: nothing was written.");
    } else if changed {
        let record = CutoverRecord {
            duplicates_removed: duplicates.removed,
            films_checked: balances.films,
            films_balanced: balances.balanced,
            opening_views: balances.views,
            opening_downloads: balances.downloads,
            legacy_keys_drained: drain.keys,
            legacy_counts_drained: drain.units,
            legacy_markers_copied: markers.copied,
        };
        publish(stores, &record).await?;
    } else {
        println!("Nothing changed: this catalogue was already taken over.");
    }
    eprintln!(
        "cutover: finished in {:.1} s ({} films, {:.0} films/s)",
        started.elapsed().as_secs_f64(),
        balances.films,
        balances.films as f64 / started.elapsed().as_secs_f64().max(0.001)
    );
    Ok(0)
}

/// After a cut-over that changed something: the boards take the balances
/// in, readers recompute what they keep, and the cut-over is recorded.
async fn publish(stores: &Stores, record: &CutoverRecord) -> anyhow::Result<()> {
    let boards = stores.rollups.leaderboards();
    if let Err(e) = stores.step("mongodb", boards.merge_pending()).await {
        tracing::warn!(error = %e, "leaderboards not merged yet; the next flush merges them");
    }
    if let Err(e) = stores.counters.raise_rollup_generation().await {
        tracing::warn!(error = %e, "could not raise the rollup generation");
    }
    stores
        .step("mongodb", stores.rollups.record_cutover(record))
        .await
        .context("recording the cut-over")?;
    Ok(())
}

/// `done` or, in a dry run, `planned`.
fn would(dry: bool, done: &'static str, planned: &'static str) -> &'static str {
    if dry {
        planned
    } else {
        done
    }
}

fn balances_line(b: &Balances, dry: bool) -> String {
    if b.balanced == 0 {
        return format!("Opening balances: none ({} films checked).", b.films);
    }
    format!(
        "Opening balances: {} {} of {} films (+{} views, +{} downloads); {} replicas {}.",
        would(dry, "recorded for", "would be recorded for"),
        b.balanced,
        b.films,
        b.views,
        b.downloads,
        b.replicas,
        would(dry, "written", "to write"),
    )
}

fn drain_lines(d: &Drain, dry: bool) -> Vec<String> {
    let mut lines = vec![if d.keys == 0 {
        "Legacy counters: none.".to_string()
    } else {
        format!(
            "Legacy counters: {} {} keys (+{} counts) into the hot counters{}.",
            would(dry, "drained", "would drain"),
            d.keys,
            d.units,
            would(dry, "; the next flush applies them", ""),
        )
    }];
    if d.left_out > 0 {
        lines.push(format!(
            "Legacy counters: {} fields were not counts of view or download and were dropped.",
            d.left_out
        ));
    }
    if d.unnamed > 0 {
        lines.push(format!(
            "Legacy counters: {} keys name no entity and were left as they are.",
            d.unnamed
        ));
    }
    lines
}

fn duplicates_line(d: DuplicateReport, dry: bool) -> String {
    if d.keys == 0 {
        return "Duplicate rollup documents: none.".into();
    }
    format!(
        "Duplicate rollup documents: {} {} into the first of their key ({} keys).",
        if dry { "would merge" } else { "merged" },
        d.removed,
        d.keys
    )
}

fn markers_line(m: Markers, dry: bool) -> String {
    if m.seen == 0 {
        return "Legacy dedupe markers: none.".into();
    }
    if dry {
        return format!(
            "Legacy dedupe markers: {} would be honoured for at least their remaining lifetime.",
            m.seen
        );
    }
    format!(
        "Legacy dedupe markers: {} honoured for at least their remaining lifetime ({} new).",
        m.seen, m.copied
    )
}

/// Step 2, a page of catalogue rows at a time: the rows are locked (as a
/// flush's replica write locks them), the totals and recorded bases read,
/// the balances applied with the pending records cleared in one Mongo
/// transaction, then the replicas written and the rows released. A run
/// stopped between the two finds the balances in the totals and adds none
/// again.
// One function on purpose: lock, read, apply and release are one page's
// steps, and their order is the exactly-once argument.
async fn open_balances(stores: &Stores, dry: bool) -> anyhow::Result<Balances> {
    let domain = Domain::new(CATALOGUE_DOMAIN).map_err(|e| StoreError::Config(e.to_string()))?;
    let mut progress = Progress::new(
        "cutover: films balanced",
        stores
            .step("mariadb", stores.catalogue.movie_count())
            .await?,
    );
    let mut out = Balances::default();
    let mut after: Option<String> = None;
    loop {
        let lock = stores
            .step(
                "mariadb",
                stores.catalogue.lock_movie_page(after.as_deref(), PAGE),
            )
            .await?;
        let ids = lock.present().to_vec();
        let Some(last) = ids.last() else { break };
        after = Some(last.clone());
        let totals = stores
            .step(
                "mongodb",
                stores.rollups.totals_for(&domain, EntityType::Movie, &ids),
            )
            .await?;
        let bases = stores
            .step("mongodb", stores.rollups.unimported_bases(&ids))
            .await?;
        let mut openings = Vec::new();
        let mut rows = Vec::new();
        for id in &ids {
            let (views, downloads) = lock.current(id).unwrap_or_default();
            let catalogue = CatalogueCounts::new(views, downloads);
            let now = totals
                .get(id)
                .map(|c| CatalogueCounts::new(c.get(Action::View), c.get(Action::Download)))
                .unwrap_or_default();
            let base = bases
                .get(id)
                .map(|&(v, d)| CatalogueCounts::new(v, d))
                .unwrap_or(now);
            let opening = opening_balance(catalogue, base);
            let replica =
                CatalogueCounts::new(now.views + opening.views, now.downloads + opening.downloads);
            if !opening.is_zero() {
                out.balanced += 1;
                out.views += opening.views;
                out.downloads += opening.downloads;
                openings.push(Opening {
                    uuid: id.clone(),
                    views: opening.views,
                    downloads: opening.downloads,
                });
            }
            // Raise only: a replica below the catalogue is the guard's case.
            let raises = replica.views >= catalogue.views
                && replica.downloads >= catalogue.downloads
                && replica != catalogue;
            if raises {
                rows.push((id.clone(), replica.views, replica.downloads));
            }
        }
        out.films += ids.len() as u64;
        out.replicas += rows.len() as u64;
        if !dry {
            let settled: Vec<String> = ids
                .iter()
                .filter(|id| bases.contains_key(*id))
                .cloned()
                .collect();
            if !openings.is_empty() || !settled.is_empty() {
                stores
                    .step(
                        "mongodb",
                        stores.rollups.apply_openings(&domain, &openings, &settled),
                    )
                    .await?;
            }
            stores.step("mariadb", lock.write(&rows)).await?;
        }
        progress.tick(out.films);
    }
    Ok(out)
}

/// Step 3: both patterns of old counter keys, a SCAN step at a time.
async fn drain_counters(stores: &Stores, legacy: &LegacyKeys, dry: bool) -> anyhow::Result<Drain> {
    let mut out = Drain::default();
    let mut progress = Progress::new("cutover: legacy counter keys drained", 0);
    for pattern in 0..2 {
        let mut cursor = 0;
        loop {
            let (next, keys) = stores
                .counters
                .scan_legacy_counters(legacy, pattern, cursor)
                .await?;
            for key in keys {
                let Some(entity) = &key.entity else {
                    out.unnamed += 1;
                    continue;
                };
                let drained = stores
                    .counters
                    .drain_legacy_counter(&key.key, entity, dry)
                    .await?;
                out.keys += 1;
                out.units += drained.units;
                out.left_out += drained.left_out;
            }
            progress.tick(out.keys);
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    Ok(out)
}

/// Step 4: every old marker, a SCAN step at a time.
async fn copy_markers(stores: &Stores, legacy: &LegacyKeys, dry: bool) -> anyhow::Result<Markers> {
    let mut out = Markers::default();
    let mut progress = Progress::new("cutover: legacy markers honoured", 0);
    let mut cursor = 0;
    loop {
        let (next, page) = stores
            .counters
            .copy_legacy_markers(legacy, cursor, dry)
            .await?;
        out.seen += page.seen;
        out.copied += page.copied;
        progress.tick(out.seen);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    Ok(out)
}
