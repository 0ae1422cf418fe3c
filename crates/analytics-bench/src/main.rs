//! Helpers for the benchmark scripts (not tests):
//! `seed` counts synthetic events through the real ingest script at volume;
//! `bare-upsert` measures the plain Mongo bulk-upsert rate the flush is
//! compared with; `soak` drives a steady load through ingest-svc with the
//! real flush beside it and checks the totals; `pipeline` finds the rate the
//! flush keeps up with on a realistic v2 mix; `seed-history` lays down days
//! of that mix for the read benchmark, `live-clients` holds WebSocket
//! clients on the live feed, `seed-catalogue` fills the MySQL catalogue
//! for the admin snapshot, `import` sends old events to the import
//! route. Store settings come from the
//! usual `ANALYTICS__…` env.

mod history;
mod import;
mod live;
mod measure;
mod pipeline;
mod soak;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use analytics_domain::{Action, BucketMode, Domain, EntityKey, EntityType, Event, Period, UserId};
use analytics_runtime::StoreConfig;
use analytics_store::rollups::{period_counts_field, DAILY, HOURLY, TOTALS};
use chrono::{DateTime, FixedOffset};
use clap::{Parser, Subcommand};
use mongodb::bson::{doc, Document};
use mongodb::options::{UpdateOneModel, WriteModel};
use mongodb::Namespace;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Ingest N events spread evenly over M movies, C at a time: views
    /// only (`--mix v1`), or the v2 mix with users, playback fields and the
    /// raw event log (`--mix v2`).
    Seed {
        #[arg(long)]
        events: u64,
        #[arg(long)]
        entities: u64,
        #[arg(long, default_value_t = 64)]
        concurrency: u64,
        #[arg(long, value_enum, default_value_t = Mix::V1)]
        mix: Mix,
    },
    /// Insert rollups for M movies (totals and today's daily bucket) so
    /// read-api can be measured on a large catalogue.
    SeedRollups {
        #[arg(long)]
        entities: u64,
    },
    /// Days of a realistic v2 mix through the real ingest script (dated
    /// over the last days), for the read benchmark to flush and read.
    SeedHistory(history::HistoryArgs),
    /// Fill the (migrated, empty) MySQL catalogue with a realistic shape:
    /// movies, actors, tags, links, engagement over 90 days, queue rows.
    SeedCatalogue {
        #[arg(long, default_value_t = analytics_bench::catalogue_data::Shape::FULL.movies)]
        movies: usize,
        #[arg(long, default_value_t = analytics_bench::catalogue_data::Shape::FULL.actors)]
        actors: usize,
        #[arg(long, default_value_t = analytics_bench::catalogue_data::Shape::FULL.tags)]
        tags: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// N WebSocket clients on read-api's live feed: fan-out lag and cadence.
    LiveClients(live::LiveArgs),
    /// Old events through ingest-svc's import route, in batches.
    Import(import::ImportArgs),
    /// The sum of one action's count over every entity's totals.
    SumTotals {
        #[arg(long)]
        action: String,
    },
    /// Drop the configured Mongo database (benchmark clean-up).
    DropDatabase,
    /// Loses one local day of the rollups (the rebuild benchmark): its day
    /// and hour documents deleted, and what their views added taken out of
    /// their weeks, months, years and totals, as a lost day would be.
    DamageRollups {
        #[arg(long)]
        date: chrono::NaiveDate,
    },
    /// How many documents a collection of the configured database holds.
    CountDocuments {
        #[arg(long)]
        collection: String,
    },
    /// Steady ingest at a fixed rate through ingest-svc for a while, with
    /// the real flush every few seconds; prints the figures and fails on any
    /// 5xx or a total that is not exact.
    Soak(soak::SoakArgs),
    /// A realistic v2 mix in batches at fixed rates with the real flush
    /// every few seconds: backlog bounded or not, ingest→visible delay,
    /// flush memory, Redis bytes per event.
    Pipeline(pipeline::PipelineArgs),
    /// Upsert, without transaction or ledger, the documents a flush of M
    /// movies (all events in one hour) writes, B per bulk write.
    BareUpsert {
        #[arg(long)]
        entities: u64,
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        #[arg(long, value_enum, default_value_t = Mix::V1)]
        mix: Mix,
    },
}

/// The events the flush benchmark counts.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mix {
    /// Views only, no users: contract v1.
    V1,
    /// Views, progress with watch time, starts, finishes, likes and ratings
    /// by 100,000 users (unique-viewer registers), logged.
    V2,
}

/// Event `i` of the mix, on `entity`.
fn mix_event(mix: Mix, i: u64, entity: EntityKey, now: DateTime<FixedOffset>) -> Event {
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let stores: StoreConfig = analytics_runtime::load()?;
    match Cli::parse().command {
        Command::Seed {
            events,
            entities,
            concurrency,
            mix,
        } => seed(&stores, events, entities, concurrency, mix).await,
        Command::BareUpsert {
            entities,
            batch,
            mix,
        } => bare_upsert(&stores, entities, batch, mix).await,
        Command::SeedRollups { entities } => seed_rollups(&stores, entities).await,
        Command::Soak(args) => soak::run(&stores, args).await,
        Command::Pipeline(args) => pipeline::run(&stores, args).await,
        Command::SeedHistory(args) => history::run(&stores, args).await,
        Command::LiveClients(args) => live::run(args).await,
        Command::Import(args) => import::run(args).await,
        Command::SumTotals { action } => {
            let store = analytics_store::RollupStore::connect(&stores.mongo_settings()?).await?;
            let mut cursor = store
                .collection(TOTALS)
                .find(doc! {})
                .projection(doc! {action.as_str(): 1})
                .await?;
            let mut sum = 0i64;
            while let Some(d) = futures_util::TryStreamExt::try_next(&mut cursor).await? {
                sum += match d.get(&action) {
                    Some(mongodb::bson::Bson::Int64(n)) => *n,
                    Some(mongodb::bson::Bson::Int32(n)) => i64::from(*n),
                    _ => 0,
                };
            }
            println!("{sum}");
            // shutdown waits for every cursor to be dropped first.
            drop(cursor);
            store.shutdown().await;
            Ok(())
        }
        Command::SeedCatalogue {
            movies,
            actors,
            tags,
            seed,
        } => seed_catalogue(&stores, movies, actors, tags, seed).await,
        Command::DamageRollups { date } => {
            let store = analytics_store::RollupStore::connect(&stores.mongo_settings()?).await?;
            let (days, views) = damage_rollups(&store, date).await?;
            println!("{days} day documents of {date} lost with their {views} views");
            store.shutdown().await;
            Ok(())
        }
        Command::CountDocuments { collection } => {
            let store = analytics_store::RollupStore::connect(&stores.mongo_settings()?).await?;
            let n = store
                .collection(&collection)
                .count_documents(doc! {})
                .await?;
            println!("{n}");
            store.shutdown().await;
            Ok(())
        }
        Command::DropDatabase => {
            let store = analytics_store::RollupStore::connect(&stores.mongo_settings()?).await?;
            store.database().drop().await?;
            store.shutdown().await;
            Ok(())
        }
    }
}

async fn seed_catalogue(
    s: &StoreConfig,
    movies: usize,
    actors: usize,
    tags: usize,
    seed: u64,
) -> anyhow::Result<()> {
    use analytics_bench::catalogue_data::{CatalogueData, Shape};
    use sqlx::Connection;
    let shape = Shape {
        movies,
        actors,
        tags,
        ..Shape::FULL
    };
    let started = Instant::now();
    let data = CatalogueData::generate(shape, seed, chrono::Utc::now());
    let mut conn = sqlx::MySqlConnection::connect(&s.mysql_settings()?.url).await?;
    data.insert(&mut conn).await?;
    println!(
        "catalogue: {} movies, {} actors, {} tags, {} actor and {} tag links, {} engagement rows, {} queue rows in {:.1}s",
        data.movies.len(),
        data.actors.len(),
        data.tags.len(),
        data.actor_links.len(),
        data.tag_links.len(),
        data.favorites.len() + data.watchlists.len() + data.ratings.len() + data.history.len(),
        data.jobs.len() + data.failed_jobs.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn seed(
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

async fn bare_upsert(s: &StoreConfig, entities: u64, batch: usize, mix: Mix) -> anyhow::Result<()> {
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

async fn seed_rollups(s: &StoreConfig, entities: u64) -> anyhow::Result<()> {
    let store = analytics_store::RollupStore::connect(&s.mongo_settings()?).await?;
    store.ensure_indexes().await?;
    let date = chrono::Utc::now().date_naive();
    let today = Period::Day.bucket_of(date);
    let started = Instant::now();
    let ids: Vec<u64> = (0..entities).collect();
    for chunk in ids.chunks(10_000) {
        let mut totals = Vec::with_capacity(chunk.len());
        let mut daily = Vec::with_capacity(chunk.len());
        for i in chunk {
            let id = format!("movie-{i:07}");
            let (view, download) = (((i * 7919) % 100_000) as i64 + 1, (i % 13) as i64);
            let mut t = doc! {"domain": "jav", "entity_type": "movie", "entity_id": &id, "view": view, "download": download};
            // This week, month and year hold everything, inside the totals.
            for period in [Period::Week, Period::Month, Period::Year] {
                if let Some(field) = period_counts_field(period) {
                    t.insert(
                        field,
                        doc! {period.bucket_of(date): {"view": view, "download": download}},
                    );
                }
            }
            totals.push(t);
            daily.push(doc! {"domain": "jav", "entity_type": "movie", "entity_id": &id, "date": &today, "view": view, "download": download});
        }
        store
            .collection(TOTALS)
            .insert_many(totals)
            .ordered(false)
            .await?;
        store
            .collection(DAILY)
            .insert_many(daily)
            .ordered(false)
            .await?;
    }
    println!(
        "seeded rollups of {entities} movies in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    // As after a restore: the rollups are there, the leaderboards are not.
    let started = Instant::now();
    let boards = store.leaderboards().rebuild().await?;
    println!(
        "rebuilt {boards} leaderboards in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// See [`Command::DamageRollups`]; returns the day documents and views lost.
async fn damage_rollups(
    store: &analytics_store::RollupStore,
    date: chrono::NaiveDate,
) -> anyhow::Result<(u64, i64)> {
    use analytics_domain::Period;
    use analytics_store::rollups::{counts_of, HOURLY};
    let day = Period::Day.bucket_of(date);
    let daily = store.collection(DAILY);
    let docs: Vec<mongodb::bson::Document> =
        futures_util::TryStreamExt::try_collect(daily.find(doc! {"date": &day}).await?).await?;
    let mut lost = 0;
    for d in &docs {
        let n = counts_of(d).get(analytics_domain::Action::View);
        let entity = doc! {"domain": d.get_str("domain")?, "entity_type": d.get_str("entity_type")?,
        "entity_id": d.get_str("entity_id")?};
        // The day's views leave the totals and their week, month and year.
        let mut lose = doc! {"view": -n};
        for period in [Period::Week, Period::Month, Period::Year] {
            if let Some(field) = period_counts_field(period) {
                lose.insert(format!("{field}.{}.view", period.bucket_of(date)), -n);
            }
        }
        store
            .collection(TOTALS)
            .update_one(entity, doc! {"$inc": lose})
            .await?;
        lost += n;
    }
    daily.delete_many(doc! {"date": &day}).await?;
    store
        .collection(HOURLY)
        .delete_many(doc! {"date": &day})
        .await?;
    Ok((docs.len() as u64, lost))
}
