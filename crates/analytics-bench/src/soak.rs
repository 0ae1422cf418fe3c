//! The soak: events posted to a running ingest-svc at a fixed rate (each
//! with its own id, spread over a set of movies), the real `flush-worker
//! flush` every few seconds as the CronJob would run it, and every ten
//! seconds a sample of ingest's memory, Redis's memory and the backlog. At
//! the end the flush drains what is left and every movie's Mongo total must
//! equal the 202s it got.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use analytics_domain::{Action, Domain, EntityType};
use analytics_runtime::StoreConfig;
use analytics_store::{HotCounters, RollupStore};

use crate::measure::{drain, flush_once, percentile, redis_used_memory, rss_kb, FlushRun};

#[derive(clap::Args)]
pub struct SoakArgs {
    /// ingest-svc's base URL.
    #[arg(long)]
    ingest: String,
    /// ingest-svc's pid (its memory is sampled).
    #[arg(long)]
    ingest_pid: u32,
    /// Events per second.
    #[arg(long)]
    rate: u64,
    #[arg(long)]
    seconds: u64,
    #[arg(long, default_value_t = 10_000)]
    movies: u64,
    /// Seconds between flush runs.
    #[arg(long, default_value_t = 30)]
    flush_every: u64,
    /// The flush-worker binary.
    #[arg(long)]
    flush_bin: PathBuf,
    /// Connections (each sends at rate / connections).
    #[arg(long, default_value_t = 32)]
    connections: u64,
}

/// What the senders saw.
#[derive(Default)]
struct Sent {
    accepted_per_movie: HashMap<u64, i64>,
    statuses: HashMap<u16, u64>,
    transport_errors: u64,
    latencies_us: Vec<u32>,
}

impl Sent {
    fn merge(&mut self, other: Sent) {
        for (m, n) in other.accepted_per_movie {
            *self.accepted_per_movie.entry(m).or_default() += n;
        }
        for (s, n) in other.statuses {
            *self.statuses.entry(s).or_default() += n;
        }
        self.transport_errors += other.transport_errors;
        self.latencies_us.extend(other.latencies_us);
    }

    fn accepted(&self) -> i64 {
        self.accepted_per_movie.values().sum()
    }
}

async fn send(args: Arc<SoakArgs>, task: u64, stop: Arc<AtomicBool>) -> Sent {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/analytics/events", args.ingest);
    let period = Duration::from_secs_f64(args.connections as f64 / args.rate.max(1) as f64);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sent = Sent::default();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let movie = (task * 7919 + i * 104_729) % args.movies;
        let body = format!(
            r#"{{"event_id":"soak-{task}-{i}","domain":"jav","entity_type":"movie","entity_id":"soak-m{movie}","action":"view","occurred_at":"{}"}}"#,
            chrono::Utc::now().to_rfc3339()
        );
        i += 1;
        let started = Instant::now();
        let resp = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        sent.latencies_us
            .push(u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX));
        match resp {
            Ok(r) => {
                let status = r.status().as_u16();
                *sent.statuses.entry(status).or_default() += 1;
                if status == 202 {
                    *sent.accepted_per_movie.entry(movie).or_default() += 1;
                }
            }
            Err(_) => sent.transport_errors += 1,
        }
    }
    sent
}

/// Every 10 s until the load's time is up: ingest's RSS, Redis's memory
/// and the dirty keys, printed; returns the peak RSS and backlog.
async fn sample(
    args: &SoakArgs,
    counters: &HotCounters,
    redis_url: &str,
    started: Instant,
    rss_start: u64,
) -> anyhow::Result<(u64, u64)> {
    let (mut rss_peak, mut backlog_peak) = (rss_start, 0u64);
    let deadline = started + Duration::from_secs(args.seconds);
    println!(
        "sample  {:>7}  {:>10}  {:>12}  {:>12}",
        "t (s)", "ingest RSS", "Redis memory", "dirty keys"
    );
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(10).min(deadline - Instant::now())).await;
        let rss = rss_kb(args.ingest_pid);
        rss_peak = rss_peak.max(rss);
        let dirty: u64 = counters.backlog().await?.iter().map(|b| b.dirty_keys).sum();
        backlog_peak = backlog_peak.max(dirty);
        println!(
            "sample  {:>7.0}  {:>7.1} MB  {:>9.1} MB  {:>12}",
            started.elapsed().as_secs_f64(),
            rss as f64 / 1024.0,
            redis_used_memory(redis_url).await? as f64 / 1_048_576.0,
            dirty
        );
    }
    Ok((rss_peak, backlog_peak))
}

/// The real flush every `flush_every` seconds until the load stops, each
/// run recorded.
async fn flush_every(
    args: Arc<SoakArgs>,
    stop: Arc<AtomicBool>,
    flushes: Arc<Mutex<Vec<FlushRun>>>,
    started: Instant,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(Duration::from_secs(args.flush_every));
    tick.tick().await;
    loop {
        // Wake at the next tick, or at once when the load stops.
        tokio::select! {
            _ = tick.tick() => {}
            _ = wait_for_stop(&stop) => return Ok(()),
        }
        let run = flush_once(&args.flush_bin).await?;
        println!(
            "flush   {:>6.1}s  took {:.1}s  {}",
            started.elapsed().as_secs_f64(),
            run.seconds,
            run.output
        );
        flushes
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .push(run);
    }
}

/// How many movies' view totals differ from the 202s their events got.
async fn wrong_totals(rollups: &RollupStore, sent: &Sent) -> anyhow::Result<usize> {
    let domain = Domain::new("jav")?;
    let ids: Vec<u64> = sent.accepted_per_movie.keys().copied().collect();
    let mut wrong = 0usize;
    for chunk in ids.chunks(1000) {
        let names: Vec<String> = chunk.iter().map(|m| format!("soak-m{m}")).collect();
        let totals = rollups
            .totals_for(&domain, EntityType::Movie, &names)
            .await?;
        for (m, name) in chunk.iter().zip(&names) {
            let got = totals.get(name).map_or(0, |c| c.get(Action::View));
            if got != sent.accepted_per_movie[m] {
                wrong += 1;
            }
        }
    }
    Ok(wrong)
}

async fn wait_for_stop(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// One function on purpose: the soak's producers, flusher and checks share
// its clients, counters and stop flag, and read best as one timeline.
pub async fn run(stores: &StoreConfig, args: SoakArgs) -> anyhow::Result<()> {
    let args = Arc::new(args);
    let counters = HotCounters::new(&stores.redis_settings()?, stores.key_space()?)?;
    let rollups = RollupStore::connect(&stores.mongo_settings()?).await?;
    let redis_url = stores.redis.url.clone();
    let memory_before = redis_used_memory(&redis_url).await?;
    let rss_start = rss_kb(args.ingest_pid);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();

    let senders: Vec<_> = (0..args.connections)
        .map(|t| tokio::spawn(send(args.clone(), t, stop.clone())))
        .collect();

    let flushes: Arc<Mutex<Vec<FlushRun>>> = Arc::default();
    let flusher = tokio::spawn(flush_every(
        args.clone(),
        stop.clone(),
        flushes.clone(),
        started,
    ));

    let (rss_peak, backlog_peak) = sample(&args, &counters, &redis_url, started, rss_start).await?;
    stop.store(true, Ordering::Relaxed);
    let mut sent = Sent::default();
    for s in senders {
        sent.merge(s.await?);
    }
    let load_seconds = started.elapsed().as_secs_f64();
    let memory_after = redis_used_memory(&redis_url).await?;
    // The run under way finishes first (it holds the leases).
    flusher.await??;

    let drains = drain(&counters, &args.flush_bin, Duration::from_secs(600)).await?;
    let wrong = wrong_totals(&rollups, &sent).await?;
    rollups.shutdown().await;
    let ids = sent.accepted_per_movie.len();

    let flushes = flushes.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let longest = flushes.iter().map(|f| f.seconds).fold(0.0, f64::max);
    let server_errors: u64 = sent
        .statuses
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, n)| n)
        .sum();
    let accepted = sent.accepted();
    sent.latencies_us.sort_unstable();
    println!(
        "\n== soak: {:.0} s at {} events/s target ({} cores) ==",
        load_seconds,
        args.rate,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "sent         {} ({:.0}/s), statuses {:?}, transport errors {}",
        sent.latencies_us.len(),
        sent.latencies_us.len() as f64 / load_seconds,
        sent.statuses,
        sent.transport_errors
    );
    println!(
        "latency      p50 {:.2} ms   p99 {:.2} ms",
        percentile(&sent.latencies_us, 50.0),
        percentile(&sent.latencies_us, 99.0)
    );
    println!("5xx          {server_errors}");
    println!(
        "ingest RSS   start {:.1} MB   peak {:.1} MB   end {:.1} MB",
        rss_start as f64 / 1024.0,
        rss_peak as f64 / 1024.0,
        rss_kb(args.ingest_pid) as f64 / 1024.0
    );
    println!("Redis        {:.0} bytes per accepted event (memory growth over the load / events; the dedupe day hashes)", (memory_after - memory_before) as f64 / accepted.max(1) as f64);
    println!("backlog      peak {backlog_peak} dirty keys");
    println!(
        "flush        {} runs during the load, longest {:.1} s; {} drain run(s) after",
        flushes.len(),
        longest,
        drains
    );
    println!(
        "totals       {} movies, {} accepted events: {}",
        ids,
        accepted,
        if wrong == 0 {
            "exact".to_string()
        } else {
            format!("{wrong} movies WRONG")
        }
    );
    anyhow::ensure!(server_errors == 0, "{server_errors} responses were 5xx");
    anyhow::ensure!(
        wrong == 0,
        "{wrong} movie totals differ from the 202s they got"
    );
    Ok(())
}
