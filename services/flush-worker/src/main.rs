use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use analytics_domain::vocabulary::CATALOGUE_DOMAIN;
use analytics_domain::Domain;
use anyhow::Context;
use clap::{Parser, Subcommand};
use flush_worker::cutover::{self, CutoverOptions};
use flush_worker::erase::{self, EraseOptions};
use flush_worker::evidence::{self, GenerateOptions, VerifyOptions};
use flush_worker::flush::{self, FlushOptions};
use flush_worker::parity::{self, ParityOptions};
use flush_worker::prune::{self, PruneOptions};
use flush_worker::rebuild::{self, RebuildOptions};
use flush_worker::settings::{parse_partitions, Settings};
use flush_worker::stores::Stores;
use flush_worker::summary_report::{self, SummaryOptions};
use flush_worker::{deadline, fault};

#[derive(Parser)]
#[command(name = "flush-worker", version, about = "Analytics batch jobs")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Flush Redis counters into the Mongo rollups and the MySQL replicas.
    Flush {
        /// Counter keys per batch (overrides flush.batch_size).
        #[arg(long)]
        batch_size: Option<usize>,
        /// Partitions this shard owns, e.g. "0-7" (overrides flush.partitions).
        #[arg(long)]
        partitions: Option<String>,
    },
    /// Compare MySQL jav.views/downloads with the Mongo totals.
    ParityCheck {
        /// How many movies to check, top by views (ties by uuid).
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Check every movie and report Mongo totals with no jav row.
        #[arg(long)]
        all: bool,
        /// Print the artifact as one JSON line.
        #[arg(long)]
        print_json: bool,
        /// Write the pretty-printed artifact to this path.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Create the MySQL tables and Mongo indexes (idempotent; a deploy
    /// step: the other jobs never touch the MySQL schema).
    Migrate,
    /// Take over a live catalogue from the system this replaces: merge its
    /// duplicate rollup documents, carry the catalogue counts the rollups
    /// do not hold into the totals as opening balances, drain its unflushed
    /// Redis counters and honour its dedupe markers. Idempotent.
    Cutover(CutoverOptions),
    /// Forget a user: delete their events from the raw log, the Redis logs
    /// not yet flushed and the live feed; record the erasure. Idempotent.
    EraseUser(EraseOptions),
    /// Delete what retention lets go (retention.raw_log_days, rollup_days,
    /// telemetry_days), a bounded chunk per statement; resumable.
    Prune(PruneOptions),
    /// Recompute the day and hour rollups of a range of local days from the
    /// raw event log (weeks, months, years and totals by the difference;
    /// boards re-ranked). Idempotent; refuses days still waiting in Redis.
    Rebuild(RebuildOptions),
    /// Re-rank every top-N leaderboard from the rollups (after a restore or
    /// a manual fix of the rollups; safe while flushes run).
    RebuildLeaderboards,
    /// Rebuild what is derived from the catalogue: the actor–genre index
    /// the actor analytics read and the snapshot's whole-catalogue figures
    /// (a CronJob: the catalogue changes outside this product).
    RefreshCatalogueIndex,
    /// Evidence files for the cut-over's reviewers.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// Check parity today, then write the parity recorded on each of the
    /// last days, optionally the rollback file and an archive of them.
    Generate(GenerateOptions),
    /// The catalogue snapshot, provider shares, xcity coverage, top lists
    /// and recent job telemetry in one report (exit 2 on a bad option).
    Summary(SummaryOptions),
    /// Check the artifacts of a directory, or of an archive (checksums
    /// included); exit 1 if any is invalid.
    Verify(VerifyOptions),
}

#[tokio::main]
async fn main() -> ExitCode {
    // Held to the end: dropping it flushes the spans still queued.
    let _telemetry = analytics_runtime::logging::init_stderr("flush-worker");
    match run(Cli::parse()).await {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<u8> {
    match &cli.command {
        // Verifying files needs no store (and no configuration).
        Command::Report {
            command: ReportCommand::Verify(opts),
        } => return Ok(evidence::verify(opts)),
        Command::Report {
            command: ReportCommand::Summary(opts),
        } => {
            let problems = opts.problems();
            if !problems.is_empty() {
                for p in problems {
                    eprintln!("{p}");
                }
                return Ok(2);
            }
        }
        _ => {}
    }
    let settings: Settings = analytics_runtime::load()?;
    settings.flush.validate()?;
    settings.cutover.validate()?;
    let step_timeout = settings.flush.step_timeout();
    // Said before anything can wait on a store, so a stuck job shows where.
    let command = std::env::args().nth(1).unwrap_or_default();
    tracing::info!(%command, "flush-worker starting");
    let stores = deadline::step_anyhow(
        "connecting to the stores",
        step_timeout,
        Stores::connect(&settings),
    )
    .await?;
    let result = dispatch(cli, &settings, &stores).await;
    stores.close().await;
    result
}

/// `migrate`: the schema and indexes, then the dedupe markers of an
/// earlier release moved into the day hashes (events accepted under them
/// stay duplicates; roll ingest out before this runs).
async fn migrate(stores: &Stores) -> anyhow::Result<u8> {
    stores.migrate().await?;
    println!("Migrations applied; indexes ensured.");
    let moved = stores
        .counters
        .move_old_markers()
        .await
        .context("moving the old dedupe markers into the day hashes")?;
    if moved > 0 {
        println!("Moved {moved} dedupe markers of the earlier layout into the day hashes.");
    }
    Ok(0)
}

/// `flush`: one run over this shard's partitions, cut at the run's deadline.
async fn run_flush(
    settings: &Settings,
    stores: &Stores,
    batch_size: Option<usize>,
    partitions: Option<String>,
) -> anyhow::Result<u8> {
    let spec = partitions.unwrap_or_else(|| settings.flush.partitions.clone());
    let partition_count = stores.counters.keys().partition_count();
    let opts = FlushOptions {
        partitions: parse_partitions(&spec, partition_count)?,
        partition_count,
        batch_size: batch_size.unwrap_or(settings.flush.batch_size).max(1),
        lease_ttl: Duration::from_millis(settings.flush.lease_ttl_ms),
        max_run_time: Duration::from_secs(settings.flush.max_run_seconds),
        transaction_retry: Duration::from_secs(settings.flush.transaction_retry_seconds),
        fault: fault::configured()?,
        stall: fault::configured_stall()?,
    };
    // Every step has its deadline; this one holds whatever the steps missed.
    let deadline = settings.flush.run_deadline();
    let Ok(report) = tokio::time::timeout(deadline, flush::run(stores, &opts)).await else {
        anyhow::bail!(
            "the flush did not end within {} s (flush.max_run_seconds, transaction_retry_seconds and step_timeout_seconds); the next run takes over",
            deadline.as_secs()
        );
    };
    println!("Flushed {} keys, {} errors.", report.keys, report.errors);
    Ok(u8::from(report.errors > 0))
}

/// `refresh-catalogue-index`: the actor–genre index and the catalogue's
/// whole-catalogue figures.
async fn refresh_catalogue_index(stores: &Stores) -> anyhow::Result<u8> {
    let started = std::time::Instant::now();
    let (actors, pairs) = stores
        .step("mariadb", stores.catalogue.refresh_actor_index())
        .await
        .context("refreshing the actor-genre index")?;
    stores
        .step("mariadb", stores.catalogue.refresh_catalogue_stats())
        .await
        .context("refreshing the catalogue figures")?;
    println!(
        "Indexed {pairs} actor genres of {actors} actors and the catalogue figures in {:.1}s.",
        started.elapsed().as_secs_f64()
    );
    Ok(0)
}

/// Runs the command on connected stores.
async fn dispatch(cli: Cli, settings: &Settings, stores: &Stores) -> anyhow::Result<u8> {
    if matches!(cli.command, Command::Migrate) {
        return migrate(stores).await;
    }
    // The cut-over merges an old database's duplicates before it builds
    // the indexes (a dry run builds nothing); every other job only checks.
    if !matches!(cli.command, Command::Cutover(_)) {
        stores.check_schema().await?;
    }
    match cli.command {
        Command::Flush {
            batch_size,
            partitions,
        } => run_flush(settings, stores, batch_size, partitions).await,
        Command::ParityCheck {
            limit,
            all,
            print_json,
            output,
        } => {
            let opts = ParityOptions {
                limit: limit.max(1),
                all,
                print_json,
                output,
            };
            let artifact = parity::check(stores, &opts).await?;
            if let Err(e) = stores.rollups.record_parity(&artifact).await {
                tracing::warn!(error = %e, "could not record the parity result");
            }
            Ok(u8::try_from(parity::report(&artifact, &opts)).unwrap_or(1))
        }
        Command::Migrate => Ok(0),
        Command::Prune(opts) => {
            let retention = settings.stores.retention()?;
            let domains: Vec<Domain> = settings.stores.event_rules()?.domains.into_keys().collect();
            prune::run(stores, &retention, &domains, &opts).await
        }
        Command::EraseUser(opts) => erase::run(stores, &opts).await,
        Command::Rebuild(opts) => {
            let rules = settings.stores.event_rules()?;
            let retention = settings.stores.retention()?;
            rebuild::run(stores, &rules, &retention, settings.stores.raw_log(), &opts).await
        }
        Command::Cutover(opts) => {
            cutover::run(stores, &settings.cutover.legacy_keys(), &opts).await
        }
        Command::RefreshCatalogueIndex => refresh_catalogue_index(stores).await,
        Command::Report { command } => match command {
            ReportCommand::Generate(opts) => evidence::generate(stores, &opts).await,
            ReportCommand::Summary(opts) => {
                let rules = settings.stores.event_rules()?;
                let mode = Domain::new(CATALOGUE_DOMAIN)
                    .map(|d| rules.bucket_mode(&d))
                    .unwrap_or_default();
                summary_report::run(stores, &mode, &opts).await
            }
            ReportCommand::Verify(_) => Ok(0),
        },
        Command::RebuildLeaderboards => {
            let started = std::time::Instant::now();
            let boards = stores.rollups.leaderboards().rebuild().await?;
            println!(
                "Rebuilt {boards} leaderboards in {:.1}s.",
                started.elapsed().as_secs_f64()
            );
            Ok(0)
        }
    }
}
