//! `flush-worker rebuild --from DATE --to DATE [--entity-type T]`:
//! recomputes the day and hour rollups of those local days from the raw
//! event log and replaces them; the week, month, year and total documents
//! move by each day's difference (they hold other days too), and every
//! board is re-ranked. For a rollup damaged by a bug, a bad import or a
//! manual edit.
//!
//! Safe beside ingest and flushes: it holds every partition's flush lease
//! while it works (flushes skip those partitions and take them next run),
//! and it refuses days that still have events waiting in Redis, since
//! those are in neither the log nor the rollups yet, or in one only (run
//! `flush-worker flush` first). New events keep arriving meanwhile: they
//! wait in Redis and are applied by the next flush on top of the rebuilt
//! documents. Idempotent: a second run finds nothing to change. It reads
//! and corrects a page of entities at a time (their days, weeks, months,
//! years and totals belong to them alone), then the range's hours, which
//! every page adds to: memory is one page, not the range. Each chunk
//! of the correction commits with its ledger entry, so a run stopped midway
//! leaves whole chunks, and the next computes its correction from them.

use std::collections::BTreeSet;
use std::time::Duration;

use analytics_domain::rollup::RollupDelta;
use analytics_domain::{Domain, EntityKey, EntityType, EventRules, ValueLimits};
use analytics_runtime::config::Retention;
use analytics_store::hot_counters::WaitingInRange;
use analytics_store::rollups::rebuild::{LogWindow, LoggedEntity};
use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use clap::Args;

use crate::progress::Progress;
use crate::stores::Stores;

mod correct;

use correct::{correct_hours, correct_page, PageReader};

/// Lease lifetime while rebuilding; renewed between steps.
const LEASE_TTL: Duration = Duration::from_secs(60);
/// Entities per transaction of the correction: a week of days with their
/// periods is about a thousand documents, the size MongoDB advises.
const ENTITIES_PER_CHUNK: usize = 100;
/// Catalogue rows locked at a time for their replicas.
const REPLICAS_PER_LOCK: usize = 1000;
/// The longest range one run rebuilds.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Clone, Args)]
pub struct RebuildOptions {
    /// First local day to rebuild (YYYY-MM-DD).
    #[arg(long)]
    pub from: NaiveDate,
    /// Last local day to rebuild (YYYY-MM-DD, inclusive).
    #[arg(long)]
    pub to: NaiveDate,
    /// Only this entity type (movie, actor, tag); default all.
    #[arg(long)]
    pub entity_type: Option<String>,
    /// Seconds to wait for a flush that holds a partition.
    #[arg(long, default_value_t = 60)]
    pub wait_seconds: u64,
    /// Entities read from the log and corrected at a time: a run holds one
    /// page of events in memory, whatever the range.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u16).range(1..))]
    pub entities_per_page: u16,
}

/// What a run read and changed.
#[derive(Debug, Default)]
struct Rebuilt {
    events: u64,
    days_changed: usize,
    hours_changed: usize,
    documents: usize,
    registers: usize,
    replicas: u64,
}

pub async fn run(
    stores: &Stores,
    rules: &EventRules,
    retention: &Retention,
    raw_log: bool,
    opts: &RebuildOptions,
) -> anyhow::Result<u8> {
    let entity_type = match checked(opts, retention, raw_log) {
        Ok(entity_type) => entity_type,
        Err(refusal) => return refuse(&refusal),
    };
    let run_id = format!("rebuild-{}", uuid::Uuid::now_v7());
    let counters = &stores.counters;
    counters
        .lease_every_partition(&run_id, LEASE_TTL, Duration::from_secs(opts.wait_seconds))
        .await?;
    // Reading a long range takes longer than a lease lives: a keeper
    // renews them meanwhile (the steps renew too, and stop on a lost one).
    let keeper = tokio::spawn({
        let (counters, run_id) = (counters.clone(), run_id.clone());
        async move {
            loop {
                tokio::time::sleep(LEASE_TTL / 4).await;
                if counters
                    .renew_every_partition(&run_id, LEASE_TTL)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    let result = rebuild_under_leases(stores, rules, &run_id, entity_type, opts).await;
    keeper.abort();
    counters.release_every_partition(&run_id).await;
    let done = result?;
    let boards = stores
        .step("mongodb", stores.rollups.leaderboards().rebuild())
        .await
        .context("re-ranking the leaderboards")?;
    if done.documents > 0 || done.registers > 0 {
        // Readers recompute what they cached from the old documents.
        counters.raise_rollup_generation().await?;
    }
    print_report(&done, boards, entity_type, opts);
    Ok(0)
}

/// The options checked before anything is read: the entity type they
/// name, or the refusal to print.
fn checked(
    opts: &RebuildOptions,
    retention: &Retention,
    raw_log: bool,
) -> Result<Option<EntityType>, String> {
    let entity_type = match opts.entity_type.as_deref() {
        None => None,
        Some(t) => Some(
            EntityType::parse_from_producer(t)
                .ok_or("--entity-type must be one of movie, actor, tag.")?,
        ),
    };
    let today = Utc::now().date_naive();
    if opts.from > opts.to {
        return Err("--from must not be after --to.".into());
    }
    if opts.to > today + chrono::Duration::days(1) {
        return Err(format!("--to must not be after {today} (today)."));
    }
    if (opts.to - opts.from).num_days() >= MAX_DAYS {
        return Err(format!("A run rebuilds at most {MAX_DAYS} days."));
    }
    if !raw_log {
        return Err(
            "The raw event log is off (events.raw_log): there is nothing to rebuild from.".into(),
        );
    }
    if let Some(days) = retention.raw_log_days {
        let first = today - chrono::Duration::days(i64::from(days) - 1);
        if opts.from < first {
            return Err(format!(
                "The raw event log keeps {days} days (retention.raw_log_days): --from must be on or after {first}."
            ));
        }
    }
    Ok(entity_type)
}

fn print_report(
    done: &Rebuilt,
    boards: usize,
    entity_type: Option<EntityType>,
    opts: &RebuildOptions,
) {
    let scope = entity_type.map_or("every entity type".to_string(), |t| {
        format!("{}s", t.as_str())
    });
    println!(
        "Read {} raw-log events of {}..{} ({scope}).",
        done.events, opts.from, opts.to
    );
    if done.days_changed == 0 && done.hours_changed == 0 {
        println!("Nothing changed: the rollups of these days match the raw log.");
    } else {
        println!(
            "Corrected {} day and {} hour documents ({} documents written with their totals, which hold the weeks, months and years).",
            done.days_changed, done.hours_changed, done.documents
        );
    }
    println!(
        "Replaced the unique-viewer registers of {} documents; re-ranked {boards} leaderboards; {} catalogue replicas written.",
        done.registers, done.replicas
    );
}

fn refuse(message: &str) -> anyhow::Result<u8> {
    eprintln!("{message}");
    Ok(2)
}

async fn rebuild_under_leases(
    stores: &Stores,
    rules: &EventRules,
    run_id: &str,
    entity_type: Option<EntityType>,
    opts: &RebuildOptions,
) -> anyhow::Result<Rebuilt> {
    refuse_waiting_days(stores, opts, entity_type).await?;
    let import = rules.for_import(None);
    let window = LogWindow {
        since: opts.from.and_time(chrono::NaiveTime::MIN).and_utc() - chrono::Duration::days(1),
        until: (opts.to + chrono::Duration::days(2))
            .and_time(chrono::NaiveTime::MIN)
            .and_utc(),
        from: opts.from,
        to: opts.to,
    };
    let (entities, events) = range_entities(stores, &import, &window, entity_type).await?;
    let keys = stores.counters.keys().clone();
    let mut reader = PageReader {
        rules: &import,
        keys: &keys,
        limits: ValueLimits::contract(),
        now: Utc::now(),
        window,
        progress: Progress::new("rebuild: raw-log events read", events),
        read: 0,
    };
    let mut done = Rebuilt::default();
    // The hours every page adds to: a few documents per hour, corrected last.
    let mut hours = RollupDelta::default();
    for (n, page) in entities
        .chunk_by(|a, b| (&a.domain, a.entity_type) == (&b.domain, b.entity_type))
        .flat_map(|group| group.chunks(usize::from(opts.entities_per_page)))
        .enumerate()
    {
        let ids: Vec<String> = page.iter().map(|e| e.entity_id.clone()).collect();
        let mut rebuilt = reader.read(stores, page, &ids).await?;
        hours.merge(&RollupDelta {
            hourly: std::mem::take(&mut rebuilt.hourly),
            hour_users: std::mem::take(&mut rebuilt.hour_users),
            ..RollupDelta::default()
        });
        let chunk_id = format!("{run_id}-{n}");
        correct_page(
            stores, &chunk_id, &page[0], &ids, &rebuilt, &window, &mut done,
        )
        .await?;
        stores
            .counters
            .renew_every_partition(run_id, LEASE_TTL)
            .await?;
    }
    done.events = reader.read;
    correct_hours(
        stores,
        run_id,
        &import,
        &window,
        entity_type,
        &hours,
        &mut done,
    )
    .await?;
    Ok(done)
}

/// Refuses days that still have events waiting in Redis: those are in
/// neither the log nor the rollups yet, or in one only.
async fn refuse_waiting_days(
    stores: &Stores,
    opts: &RebuildOptions,
    entity_type: Option<EntityType>,
) -> anyhow::Result<()> {
    let counters = &stores.counters;
    let mut waiting = WaitingInRange::default();
    for p in counters.keys().partitions() {
        let w = counters
            .waiting_in_range(p, opts.from, opts.to, entity_type)
            .await?;
        waiting.open_batches += w.open_batches;
        waiting.counter_fields += w.counter_fields;
        waiting.log_lines += w.log_lines;
    }
    if !waiting.is_empty() {
        bail!(
            "These days still have events waiting in Redis ({} counter fields, {} raw-log lines, {} batches an interrupted flush left open): run flush-worker flush, then rebuild.",
            waiting.counter_fields,
            waiting.log_lines,
            waiting.open_batches
        );
    }
    Ok(())
}

/// Every entity to correct, in key order (so they page by domain and type),
/// and the log's event count: the log's entities of the window and the
/// entities with day documents in it (the log may no longer hold them;
/// those of a domain no longer configured are left as they are).
async fn range_entities(
    stores: &Stores,
    rules: &EventRules,
    window: &LogWindow,
    entity_type: Option<EntityType>,
) -> anyhow::Result<(Vec<EntityKey>, u64)> {
    let logged = stores
        .step(
            "mariadb",
            stores.catalogue.logged_entities(window, entity_type),
        )
        .await
        .context("listing the raw log's entities")?;
    let (mut entities, events) = configured_entities(rules, &logged)?;
    let with_days = stores
        .step(
            "mongodb",
            stores
                .rollups
                .entities_with_days(window.from, window.to, entity_type),
        )
        .await
        .context("listing the rollups' entities")?;
    entities.extend(
        with_days
            .into_iter()
            .filter(|e| rules.domains.contains_key(&e.domain)),
    );
    Ok((entities.into_iter().collect(), events))
}

/// The log's entities and their event count, once every one is known to
/// belong to a configured domain and type. Refuses, before anything is
/// written, a range with events of a domain or type no longer configured:
/// rebuilding would take them out of their days.
fn configured_entities(
    rules: &EventRules,
    logged: &[LoggedEntity],
) -> anyhow::Result<(BTreeSet<EntityKey>, u64)> {
    let mut entities = BTreeSet::new();
    let mut events = 0;
    let mut unreadable: Option<(u64, &str)> = None;
    for e in logged {
        let n = u64::try_from(e.events).unwrap_or(0);
        events += n;
        let key = Domain::new(&e.domain)
            .ok()
            .filter(|d| rules.domains.contains_key(d))
            .zip(EntityType::parse_from_producer(&e.entity_type))
            .map(|(domain, entity_type)| EntityKey {
                domain,
                entity_type,
                entity_id: e.entity_id.clone(),
            });
        match (key, &mut unreadable) {
            (Some(key), _) => {
                entities.insert(key);
            }
            (None, Some((count, first))) => {
                *count += n;
                *first = (*first).min(e.first_event.as_str());
            }
            (None, None) => unreadable = Some((n, &e.first_event)),
        }
    }
    if let Some((n, first)) = unreadable {
        bail!(
            "{n} raw-log events of the range do not validate under the configuration now (the first: event {}); nothing was written.",
            serde_json::Value::from(first)
        );
    }
    Ok((entities, events))
}
