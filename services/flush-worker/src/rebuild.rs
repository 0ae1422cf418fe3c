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

use analytics_domain::rebuild::{correction, Current};
use analytics_domain::rollup::RollupDelta;
use analytics_domain::vocabulary::CATALOGUE_DOMAIN;
use analytics_domain::{Action, Domain, EntityKey, EntityType, EventRules, KeySpace, ValueLimits};
use analytics_runtime::config::Retention;
use analytics_store::hot_counters::WaitingInRange;
use analytics_store::rollups::rebuild::{LogWindow, LoggedEntity};
use anyhow::{bail, Context};
use chrono::{NaiveDate, Utc};
use clap::Args;

use crate::progress::Progress;
use crate::stores::Stores;

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
    let entity_type = match opts.entity_type.as_deref() {
        None => None,
        Some(t) => match EntityType::parse_from_producer(t) {
            Some(t) => Some(t),
            None => return refuse("--entity-type must be one of movie, actor, tag."),
        },
    };
    let today = Utc::now().date_naive();
    if opts.from > opts.to {
        return refuse("--from must not be after --to.");
    }
    if opts.to > today + chrono::Duration::days(1) {
        return refuse(&format!("--to must not be after {today} (today)."));
    }
    if (opts.to - opts.from).num_days() >= MAX_DAYS {
        return refuse(&format!("A run rebuilds at most {MAX_DAYS} days."));
    }
    if !raw_log {
        return refuse(
            "The raw event log is off (events.raw_log): there is nothing to rebuild from.",
        );
    }
    if let Some(days) = retention.raw_log_days {
        let first = today - chrono::Duration::days(i64::from(days) - 1);
        if opts.from < first {
            return refuse(&format!(
                "The raw event log keeps {days} days (retention.raw_log_days): --from must be on or after {first}."
            ));
        }
    }

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
    Ok(0)
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

/// Makes one page's days, weeks, months, years, totals, registers and
/// replicas what the log says (`first`: the page's first entity, which
/// names its domain and type).
async fn correct_page(
    stores: &Stores,
    chunk_id: &str,
    first: &EntityKey,
    ids: &[String],
    rebuilt: &RollupDelta,
    window: &LogWindow,
    done: &mut Rebuilt,
) -> anyhow::Result<()> {
    let current = Current {
        days: stores
            .step(
                "mongodb",
                stores.rollups.current_days(
                    window.from,
                    window.to,
                    &first.domain,
                    first.entity_type,
                    ids,
                ),
            )
            .await
            .context("reading the rollups of the range")?,
        hours: Default::default(),
    };
    let fix = correction(&current, rebuilt);
    done.count_changes(&fix);
    done.documents += stores
        .step(
            "mongodb",
            stores
                .rollups
                .apply_correction(chunk_id, &fix, ENTITIES_PER_CHUNK),
        )
        .await
        .context("writing the correction")?;
    done.replicas += sync_replicas(stores, &fix)
        .await
        .context("writing the catalogue replicas")?;
    done.registers += stores
        .step(
            "mongodb",
            stores.rollups.replace_registers(
                &current,
                &rebuilt.day_viewers,
                &Default::default(),
                &[],
            ),
        )
        .await
        .context("replacing the registers")?;
    Ok(())
}

/// Makes the range's hour documents what every page added up to.
async fn correct_hours(
    stores: &Stores,
    run_id: &str,
    rules: &EventRules,
    window: &LogWindow,
    entity_type: Option<EntityType>,
    hours: &RollupDelta,
    done: &mut Rebuilt,
) -> anyhow::Result<()> {
    let (from, to) = (window.from, window.to);
    let current = Current {
        days: Default::default(),
        hours: stores
            .step(
                "mongodb",
                stores.rollups.current_hours(from, to, entity_type),
            )
            .await
            .context("reading the hour rollups of the range")?
            .into_iter()
            .filter(|(k, _)| rules.domains.contains_key(&k.domain))
            .collect(),
    };
    let fix = correction(&current, hours);
    done.count_changes(&fix);
    let chunk_id = format!("{run_id}-hours");
    done.documents += stores
        .step(
            "mongodb",
            stores
                .rollups
                .apply_correction(&chunk_id, &fix, ENTITIES_PER_CHUNK),
        )
        .await
        .context("writing the correction")?;
    // The site's hourly unique users mix every entity type: replaced only
    // when every type is rebuilt.
    if entity_type.is_none() {
        let site_hours = stores
            .step("mongodb", stores.rollups.site_hour_keys(from, to))
            .await
            .context("listing the site's hours")?;
        done.registers += stores
            .step(
                "mongodb",
                stores.rollups.replace_registers(
                    &current,
                    &Default::default(),
                    &hours.hour_users,
                    &site_hours,
                ),
            )
            .await
            .context("replacing the registers")?;
    }
    Ok(())
}

impl Rebuilt {
    fn count_changes(&mut self, fix: &RollupDelta) {
        self.days_changed += fix
            .buckets
            .keys()
            .filter(|k| k.period.period() == analytics_domain::Period::Day)
            .count();
        self.hours_changed += fix.hourly.len();
    }
}

/// Reads one page of entities' events from the log into the delta a flush
/// of them would build; counts what it read for the progress line.
struct PageReader<'a> {
    rules: &'a EventRules,
    keys: &'a KeySpace,
    limits: ValueLimits,
    now: chrono::DateTime<Utc>,
    window: LogWindow,
    progress: Progress,
    read: u64,
}

impl PageReader<'_> {
    /// `page`: entities of one domain and type; `ids` their ids.
    async fn read(
        &mut self,
        stores: &Stores,
        page: &[EntityKey],
        ids: &[String],
    ) -> anyhow::Result<RollupDelta> {
        let (domain, entity_type) = (&page[0].domain, page[0].entity_type);
        let mut rebuilt = RollupDelta::default();
        let mut unreadable = 0u64;
        let mut first_unreadable: Option<String> = None;
        stores
            .catalogue
            .for_each_logged(
                &self.window,
                domain,
                entity_type,
                ids,
                stores.step_timeout,
                |body| {
                    match self.rules.validate(&body, self.now, &self.limits) {
                        Ok(event) => {
                            add_event(&mut rebuilt, self.keys, self.rules, &event, &self.window)
                        }
                        Err(_) => {
                            unreadable += 1;
                            if first_unreadable.is_none() {
                                first_unreadable = body.get("event_id").map(|id| id.to_string());
                            }
                        }
                    }
                    self.read += 1;
                    self.progress.tick(self.read);
                },
            )
            .await
            .context("reading the raw event log")?;
        // An event that no longer validates would be taken out of its day:
        // this page and those after it are not written.
        if let Some(id) = first_unreadable {
            bail!(
                "{unreadable} raw-log events of {} do not validate under the configuration now (the first: event {id}); the entities before it were rebuilt, it and those after were not written. Fix the configuration and run the rebuild again.",
                page[0]
            );
        }
        Ok(rebuilt)
    }
}

/// The catalogue replicas of the films whose totals moved. A replica that
/// holds the old totals (the product wrote it) gets the new ones, lower
/// ones too: the flush's guard would take a lowered total's old replica
/// for history not yet cut over and keep it. A replica holding anything
/// else is left to the flush and the cut-over, as always.
async fn sync_replicas(stores: &Stores, fix: &RollupDelta) -> anyhow::Result<u64> {
    let changed: Vec<(&str, (i64, i64))> = fix
        .totals
        .iter()
        .filter(|(e, _)| {
            e.domain.as_str() == CATALOGUE_DOMAIN && e.entity_type == EntityType::Movie
        })
        .map(|(e, c)| {
            (
                e.entity_id.as_str(),
                (c.get(Action::View), c.get(Action::Download)),
            )
        })
        .filter(|(_, d)| *d != (0, 0))
        .collect();
    let domain = Domain::new(CATALOGUE_DOMAIN)?;
    let mut written = 0;
    for page in changed.chunks(REPLICAS_PER_LOCK) {
        let ids: Vec<String> = page.iter().map(|(id, _)| id.to_string()).collect();
        let diffs: std::collections::HashMap<&str, (i64, i64)> = page.iter().copied().collect();
        let lock = stores
            .step("mariadb", stores.catalogue.lock_movies(&ids))
            .await?;
        let totals = stores
            .step(
                "mongodb",
                stores
                    .rollups
                    .totals_for(&domain, EntityType::Movie, lock.present()),
            )
            .await?;
        let mut rows = Vec::new();
        for id in lock.present() {
            let (Some(t), Some(&(dv, dd))) = (totals.get(id), diffs.get(id.as_str())) else {
                continue;
            };
            let (views, downloads) = (t.get(Action::View), t.get(Action::Download));
            if lock.current(id) == Some((views - dv, downloads - dd)) {
                rows.push((id.clone(), views, downloads));
            }
        }
        written += stores.step("mariadb", lock.write(&rows)).await?;
    }
    Ok(written)
}

/// One logged event into the rebuilt delta, as a flush of it would add it,
/// if it falls on the range's days in its domain's zone now.
fn add_event(
    delta: &mut RollupDelta,
    keys: &KeySpace,
    rules: &EventRules,
    event: &analytics_domain::Event,
    window: &LogWindow,
) {
    let mode = rules.bucket_mode(&event.entity.domain);
    let date = mode.local_hour(&event.occurred_at).date;
    if date < window.from || date > window.to {
        return;
    }
    let inc = event.increments(&mode);
    for (field, n) in &inc.counter {
        delta.add_field(&event.entity, &field.encode(), *n);
    }
    if let Some((field, rank)) = &inc.day_register {
        delta.add_field(&event.entity, &field.encode(), i64::from(*rank));
    }
    if let Some((field, rank)) = &inc.hour_register {
        let site = KeySpace::site_entity(&event.entity.domain, keys.partition_of(&event.event_id));
        delta.add_field(&site, &field.encode(), i64::from(*rank));
    }
}
