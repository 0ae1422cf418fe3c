//! The flush benchmark's two sides: `seed` counts synthetic events through
//! the real ingest script at volume (the mix the flush then takes), and
//! `bare-upsert` writes the same documents with a plain bulk upsert, the
//! rate the flush is compared with.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use analytics_domain::{Action, BucketMode, Domain, EntityKey, EntityType, Event, Period, UserId};
use analytics_runtime::StoreConfig;
use analytics_store::rollups::{period_counts_field, DAILY, HOURLY, TOTALS};
use chrono::{DateTime, FixedOffset};
use mongodb::bson::{doc, Document};
use mongodb::options::{UpdateOneModel, WriteModel};
use mongodb::Namespace;

/// The events the flush benchmark counts.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mix {
    /// Views only, no users: contract v1.
    V1,
    /// Views, progress with watch time, starts, finishes, likes and ratings
    /// by 100,000 users (unique-viewer registers), logged.
    V2,
}

/// Event `i` of the mix, on `entity`.
pub fn mix_event(mix: Mix, i: u64, entity: EntityKey, now: DateTime<FixedOffset>) -> Event {
    let mut event = Event {
        event_id: format!("seed-{i}"),
        entity,
        action: Action::View,
        value: 1,
        occurred_at: now,
        user_id: None,
        details: Default::default(),
    };
    if mix == Mix::V2 {
        event.user_id = Some(UserId::Int((i * 7919 % 100_000) as i64));
        let d = &mut event.details;
        match i % 50 {
            0..20 => {}
            20..40 => {
                event.action = Action::Progress;
                d.watched_seconds = Some((i % 55 + 5) as u32);
                d.position_seconds = Some((i % 5400) as u32);
            }
            40..45 => event.action = Action::Start,
            45..48 => {
                event.action = Action::Finish;
                d.position_seconds = Some((i * 31 % 5401) as u32);
                d.duration_seconds = Some(5400);
            }
            48 => event.action = Action::Like,
            _ => {
                event.action = Action::Rate;
                event.value = (i % 5 + 1) as i64;
            }
        }
    }
    event
}

pub async fn seed(
    s: &StoreConfig,
    events: u64,
    entities: u64,
    concurrency: u64,
    mix: Mix,
) -> anyhow::Result<()> {
    let counters = analytics_store::HotCounters::new(&s.redis_settings()?, s.key_space()?)?;
    let next = Arc::new(AtomicU64::new(0));
    let now = chrono::Utc::now().fixed_offset();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (counters, next) = (counters.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= events {
                    return Ok::<(), anyhow::Error>(());
                }
                let entity = EntityKey {
                    domain: Domain::new("jav")?,
                    entity_type: EntityType::Movie,
                    entity_id: format!("movie-{:06}", i % entities),
                };
                let event = mix_event(mix, i, entity, now);
                counters
                    .ingest_event(&event, &BucketMode::default(), mix == Mix::V2)
                    .await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {events} events over {entities} entities in {secs:.1}s ({:.0} events/s)",
        events as f64 / secs
    );
    Ok(())
}

// One function on purpose: the baseline is the flush's document writes
// inlined without its protocol, so the two can be read side by side.
pub async fn bare_upsert(
    s: &StoreConfig,
    entities: u64,
    batch: usize,
    mix: Mix,
) -> anyhow::Result<()> {
    let m = &s.mongo;
    // The same unique and read indexes the flush writes against.
    analytics_store::RollupStore::connect(&s.mongo_settings()?)
        .await?
        .ensure_indexes()
        .await?;
    let client = mongodb::Client::with_uri_str(&m.url).await?;
    let db = m.database.clone();
    let today = chrono::Utc::now().date_naive();
    let ns = |c: &str| Namespace::new(db.clone(), c);
    // What one entity's documents get: v1 two counts; v2 the mix's counts
    // and sums, and on the day ten viewers' registers.
    let inc = match mix {
        Mix::V1 => doc! {"view": 10_i64, "download": 0_i64},
        Mix::V2 => doc! {"view": 4_i64, "download": 0_i64, "progress": 4_i64, "start": 1_i64,
        "finish": 1_i64, "watch_seconds": 2000_i64, "completions": 1_i64,
        "watch_percent_sum": 50_i64, "watch_percent_samples": 1_i64},
    };
    let registers: Document = (0..10)
        .map(|r| {
            (
                format!("viewers.{}", r * 1500),
                mongodb::bson::Bson::Int32(3),
            )
        })
        .collect();
    // The totals document also takes this week's, month's and year's
    // counts, as the flush writes them.
    let mut totals_inc = inc.clone();
    for period in [Period::Week, Period::Month, Period::Year] {
        if let Some(field) = period_counts_field(period) {
            for (k, v) in &inc {
                totals_inc.insert(
                    format!("{field}.{}.{k}", period.bucket_of(today)),
                    v.clone(),
                );
            }
        }
    }
    let model = |collection: &str, filter: Document| {
        let inc = if collection == TOTALS {
            &totals_inc
        } else {
            &inc
        };
        let mut update = doc! {"$inc": inc.clone()};
        if mix == Mix::V2 && collection == DAILY {
            update.insert("$max", registers.clone());
        }
        WriteModel::UpdateOne(
            UpdateOneModel::builder()
                .namespace(ns(collection))
                .filter(filter)
                .update(update)
                .upsert(true)
                .build(),
        )
    };
    let mut models = Vec::new();
    for i in 0..entities {
        let id = format!("movie-{i:06}");
        let key = doc! {"domain": "jav", "entity_type": "movie", "entity_id": &id};
        models.push(model(TOTALS, key.clone()));
        let mut day = key.clone();
        day.insert(Period::Day.field(), Period::Day.bucket_of(today));
        models.push(model(DAILY, day));
    }
    models.push(model(HOURLY, doc! {"domain": "jav", "entity_type": "movie", "date": Period::Day.bucket_of(today), "hour": 0, "slot": 0}));
    let total = models.len();
    let started = Instant::now();
    for chunk in models.chunks(batch) {
        client.bulk_write(chunk.to_vec()).ordered(false).await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bare upsert: {total} documents in {secs:.1}s ({:.0} writes/s)",
        total as f64 / secs
    );
    Ok(())
}
