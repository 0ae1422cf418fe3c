//! The pipeline benchmark: a realistic v2 mix posted in batches to a
//! running ingest-svc at fixed rates, with the real flush every few seconds
//! as the CronJob would run it. Per rate: whether the backlog stays bounded
//! (the flush keeps up), the delay from ingest to visible in the rollups
//! (probe events, p50/p99), the flush's peak RSS; over the whole run, the
//! Redis memory per accepted event.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use analytics_domain::{Action, Domain, EntityType};
use analytics_runtime::StoreConfig;
use analytics_store::{HotCounters, RollupStore};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::measure::{drain, flush_once, percentile, redis_used_memory};

#[derive(clap::Args)]
pub struct PipelineArgs {
    /// ingest-svc's base URL.
    #[arg(long)]
    ingest: String,
    /// Rates to try, events per second, comma-separated.
    #[arg(long, value_delimiter = ',')]
    rates: Vec<u64>,
    /// Seconds at each rate.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    #[arg(long, default_value_t = 1_000_000)]
    movies: u64,
    #[arg(long, default_value_t = 100_000)]
    users: u64,
    /// Zipf exponent of movie popularity.
    #[arg(long, default_value_t = 1.0)]
    zipf: f64,
    #[arg(long, default_value_t = 10)]
    flush_every: u64,
    #[arg(long)]
    flush_bin: PathBuf,
    #[arg(long, default_value_t = 100)]
    batch: usize,
    #[arg(long, default_value_t = 8)]
    connections: u64,
}

/// Movie ranks drawn with probability ∝ 1 / rank^s (inverse CDF over a
/// precomputed table).
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: u64, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n as usize);
        let mut total = 0.0;
        for rank in 1..=n {
            total += 1.0 / (rank as f64).powf(s);
            cdf.push(total);
        }
        for x in &mut cdf {
            *x /= total;
        }
        Zipf { cdf }
    }

    pub fn sample(&self, rng: &mut impl Rng) -> u64 {
        let u: f64 = rng.random();
        self.cdf.partition_point(|c| *c < u) as u64
    }
}

/// One event of the mix: 80 % views and progress, the rest playback ends,
/// starts, likes and ratings.
fn mix_event(rng: &mut impl Rng, zipf: &Zipf, users: u64, id: String, now: &str) -> Value {
    let movie = zipf.sample(rng);
    let user = rng.random_range(0..users);
    let mut e = json!({"event_id": id, "domain": "jav", "entity_type": "movie",
        "entity_id": format!("movie-{movie}"), "occurred_at": now, "user_id": user});
    let roll = rng.random_range(0..100);
    let action = match roll {
        0..40 => "view",
        40..80 => {
            e["watched_seconds"] = json!(rng.random_range(5..60));
            e["position_seconds"] = json!(rng.random_range(0..5400));
            "progress"
        }
        80..90 => "start",
        90..96 => {
            e["position_seconds"] = json!(rng.random_range(0..=5400));
            e["duration_seconds"] = json!(5400);
            "finish"
        }
        96..98 => "like",
        _ => {
            e["value"] = json!(rng.random_range(1..=5));
            "rate"
        }
    };
    e["action"] = json!(action);
    e
}

#[derive(Default)]
struct Tally {
    accepted: AtomicU64,
    failed_requests: AtomicU64,
}

/// Sends batches at `rate / connections` events per second until stopped.
async fn sender(
    args: Arc<PipelineArgs>,
    zipf: Arc<Zipf>,
    rate: u64,
    task: u64,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/analytics/events/batch", args.ingest);
    let per_task = (rate as f64 / args.connections as f64).max(1.0);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(args.batch as f64 / per_task));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut rng = rand::rngs::StdRng::seed_from_u64(rate * 1000 + task);
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let now = chrono::Utc::now().to_rfc3339();
        let events: Vec<Value> = (0..args.batch)
            .map(|_| {
                i += 1;
                mix_event(
                    &mut rng,
                    &zipf,
                    args.users,
                    format!("pl-{rate}-{task}-{i}"),
                    &now,
                )
            })
            .collect();
        match client.post(&url).json(&events).send().await {
            Ok(r) if r.status().is_success() => {
                let body: Value = r.json().await.unwrap_or(Value::Null);
                tally
                    .accepted
                    .fetch_add(body["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
            }
            _ => {
                tally.failed_requests.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// One probe per second on its own movie; its delay ends when a flush
/// has made it visible in the Mongo totals.
async fn prober(
    ingest: String,
    rate: u64,
    stop: Arc<AtomicBool>,
    sent: Arc<Mutex<BTreeMap<String, Instant>>>,
) {
    let client = reqwest::Client::new();
    let url = format!("{ingest}/api/v1/analytics/events");
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        n += 1;
        let id = format!("probe-{rate}-{n}");
        let body = json!({"event_id": id, "domain": "jav", "entity_type": "movie",
            "entity_id": id, "action": "view", "occurred_at": chrono::Utc::now().to_rfc3339()});
        let at = Instant::now();
        if let Ok(r) = client.post(&url).json(&body).send().await {
            if r.status().as_u16() == 202 {
                if let Ok(mut s) = sent.lock() {
                    s.insert(id, at);
                }
            }
        }
    }
}

/// Probes now visible in the rollups: their delays, removed from `pending`.
async fn visible_probes(
    rollups: &RollupStore,
    pending: &Mutex<BTreeMap<String, Instant>>,
) -> anyhow::Result<Vec<u32>> {
    let ids: Vec<String> = pending
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .keys()
        .cloned()
        .collect();
    let totals = rollups
        .totals_for(&Domain::new("jav")?, EntityType::Movie, &ids)
        .await?;
    let now = Instant::now();
    let mut delays = Vec::new();
    let mut pending = pending.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    for (id, counts) in totals {
        if counts.get(Action::View) > 0 {
            if let Some(at) = pending.remove(&id) {
                delays.push(u32::try_from((now - at).as_micros()).unwrap_or(u32::MAX));
            }
        }
    }
    Ok(delays)
}

pub async fn run(stores: &StoreConfig, args: PipelineArgs) -> anyhow::Result<()> {
    let args = Arc::new(args);
    let counters = HotCounters::new(&stores.redis_settings()?, stores.key_space()?)?;
    let rollups = RollupStore::connect(&stores.mongo_settings()?).await?;
    let zipf = Arc::new(Zipf::new(args.movies, args.zipf));
    let memory_before = redis_used_memory(&stores.redis.url).await?;
    let mut accepted_total = 0u64;
    let mut summary = Vec::new();
    for &rate in &args.rates {
        let (line, accepted) = one_rate(&args, &zipf, &counters, &rollups, rate).await?;
        summary.push(line);
        accepted_total += accepted;
        // Drained before the next rate, so each starts from an empty backlog.
        drain(&counters, &args.flush_bin, Duration::from_secs(900)).await?;
    }
    let memory_after = redis_used_memory(&stores.redis.url).await?;
    rollups.shutdown().await;
    println!(
        "\n== pipeline: {} movies (Zipf s={}), {} users, batches of {}, flush every {} s ({} cores) ==",
        args.movies,
        args.zipf,
        args.users,
        args.batch,
        args.flush_every,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for line in summary {
        println!("{line}");
    }
    println!(
        "Redis        {:.0} bytes per accepted event after the drains ({} events; the dedupe day hashes)",
        (memory_after - memory_before) as f64 / accepted_total.max(1) as f64,
        accepted_total
    );
    Ok(())
}

/// What the flushes of one rate saw.
#[derive(Default)]
struct Flushes {
    /// Ingest→visible delays of the probes, in ms.
    delays: Vec<u32>,
    /// Counts waiting right after each flush.
    waiting_after: Vec<u64>,
    /// How long each flush took, in seconds.
    durations: Vec<f64>,
    longest: f64,
    peak_rss_kb: u64,
}

/// One rate for `args.seconds`: the load, the probes and the real flush
/// beside them; returns its summary line and the events accepted.
async fn one_rate(
    args: &Arc<PipelineArgs>,
    zipf: &Arc<Zipf>,
    counters: &HotCounters,
    rollups: &RollupStore,
    rate: u64,
) -> anyhow::Result<(String, u64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let probes: Arc<Mutex<BTreeMap<String, Instant>>> = Arc::default();
    let mut tasks: Vec<_> = (0..args.connections)
        .map(|t| {
            tokio::spawn(sender(
                args.clone(),
                zipf.clone(),
                rate,
                t,
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();
    tasks.push(tokio::spawn(prober(
        args.ingest.clone(),
        rate,
        stop.clone(),
        probes.clone(),
    )));
    let started = Instant::now();
    println!("rate {rate}/s: flush every {} s", args.flush_every);
    let mut seen = flush_on_cadence(args, counters, rollups, &probes, started).await?;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let accepted = tally.accepted.load(Ordering::Relaxed);
    let (early, late) = early_and_late(&seen.waiting_after);
    let verdict = backlog_verdict(&seen, rate * args.flush_every, args.flush_every as f64);
    seen.delays.sort_unstable();
    let line = format!(
        "{rate:>7}/s  sent {:>7.0}/s  failed requests {}  backlog {} (after-flush waiting {early} → {late})  \
         flush longest {:.1} s, peak {:.1} MB  ingest→visible p50 {:.1} s p99 {:.1} s ({} probes)",
        accepted as f64 / seconds,
        tally.failed_requests.load(Ordering::Relaxed),
        verdict,
        seen.longest,
        seen.peak_rss_kb as f64 / 1024.0,
        percentile(&seen.delays, 50.0) / 1000.0,
        percentile(&seen.delays, 99.0) / 1000.0,
        seen.delays.len(),
    );
    Ok((line, accepted))
}

/// The real flush every `flush_every` seconds until the rate's time is up,
/// or as soon as the one before ends if it took longer (the CronJob's
/// Forbid policy).
async fn flush_on_cadence(
    args: &PipelineArgs,
    counters: &HotCounters,
    rollups: &RollupStore,
    probes: &Mutex<BTreeMap<String, Instant>>,
    started: Instant,
) -> anyhow::Result<Flushes> {
    let deadline = started + Duration::from_secs(args.seconds);
    let mut seen = Flushes::default();
    let mut next = started;
    while Instant::now() < deadline {
        next += Duration::from_secs(args.flush_every);
        tokio::time::sleep_until(next.max(Instant::now()).into()).await;
        let run = flush_once(&args.flush_bin).await?;
        seen.longest = seen.longest.max(run.seconds);
        seen.durations.push(run.seconds);
        seen.peak_rss_kb = seen.peak_rss_kb.max(run.peak_rss_kb);
        seen.delays.extend(visible_probes(rollups, probes).await?);
        let waiting: u64 = counters
            .backlog()
            .await?
            .iter()
            .map(|b| b.counts_waiting)
            .sum();
        seen.waiting_after.push(waiting);
        println!(
            "  {:>5.0} s  flush {:>5.1} s  {:>7.1} MB  waiting after {:>8}  {}  ({})",
            started.elapsed().as_secs_f64(),
            run.seconds,
            run.peak_rss_kb as f64 / 1024.0,
            waiting,
            run.output,
            run.steps
        );
    }
    Ok(seen)
}

/// Flushes a rate needs before its backlog can be called bounded or not.
const FLUSHES_TO_TELL: usize = 4;

/// Whether the flush kept up with a rate: over at least
/// [`FLUSHES_TO_TELL`] flushes, what waits after a flush in the last third
/// is no more than in the first third plus one interval of events
/// (`slack`), and the flushes of the last third take no more than half as
/// long again as those of the first (or than the interval): a flush that
/// takes ever longer is carrying a growing backlog, even while it still
/// empties Redis each time.
fn backlog_verdict(seen: &Flushes, slack: u64, interval: f64) -> String {
    let n = seen.durations.len();
    if n < FLUSHES_TO_TELL {
        return format!("too few flushes to tell ({n})");
    }
    let (early, late) = early_and_late(&seen.waiting_after);
    let (early_run, late_run) = early_and_late(&seen.durations);
    let bounded = late <= early + slack && late_run <= (early_run * 1.5).max(interval);
    if bounded { "bounded" } else { "GROWING" }.to_string()
}

/// The most of `values` in the first and in the last third.
fn early_and_late<T: Copy + PartialOrd + Default>(values: &[T]) -> (T, T) {
    let third = (values.len() / 3).max(1);
    let most = |it: &mut dyn Iterator<Item = &T>| {
        it.fold(T::default(), |m, v| if *v > m { *v } else { m })
    };
    (
        most(&mut values.iter().take(third)),
        most(&mut values.iter().rev().take(third)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flushes(waiting_after: &[u64], durations: &[f64]) -> Flushes {
        Flushes {
            waiting_after: waiting_after.to_vec(),
            durations: durations.to_vec(),
            ..Flushes::default()
        }
    }

    #[test]
    fn two_flushes_are_too_few_to_call_a_backlog_bounded() {
        let seen = flushes(&[100, 100], &[50.0, 60.0]);
        assert_eq!(
            backlog_verdict(&seen, 600, 60.0),
            "too few flushes to tell (2)"
        );
    }

    #[test]
    fn steady_flushes_are_bounded_and_ever_longer_ones_growing() {
        let steady = flushes(
            &[900, 700, 800, 950, 600, 850],
            &[12.0, 19.0, 14.0, 15.0, 17.0, 18.0],
        );
        assert_eq!(backlog_verdict(&steady, 1000, 10.0), "bounded");
        // Redis emptied each time, but every flush longer than the last.
        let longer = flushes(&[0; 6], &[17.0, 20.0, 24.0, 29.0, 33.0, 37.0]);
        assert_eq!(backlog_verdict(&longer, 1000, 10.0), "GROWING");
        let piling = flushes(&[100, 100, 900, 2000, 3000, 4000], &[10.0; 6]);
        assert_eq!(backlog_verdict(&piling, 1000, 10.0), "GROWING");
    }
}
