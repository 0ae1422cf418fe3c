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

mod flush_seed;
mod history;
mod import;
mod live;
mod measure;
mod pipeline;
mod rollup_seed;
mod soak;

use flush_seed::{bare_upsert, seed, Mix};
use rollup_seed::{damage_rollups, seed_rollups};

use std::time::Instant;

use analytics_runtime::StoreConfig;
use analytics_store::rollups::TOTALS;
use clap::{Parser, Subcommand};
use mongodb::bson::doc;

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
