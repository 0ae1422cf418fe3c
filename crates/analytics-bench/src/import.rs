//! The import benchmark's sender: N old events (views by 100,000 users over
//! M movies, dated over the last D days) posted to ingest-svc's import
//! route in batches, C requests at a time, with the producer token. Prints
//! the progress, the outcome tally, events/s and ingest-svc's peak RSS;
//! fails on any answer that is not a 200. Sent twice with the same ids, the
//! second pass must be all duplicates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct ImportArgs {
    /// ingest-svc's base URL.
    #[arg(long)]
    ingest: String,
    /// ingest-svc's pid (its peak memory is read at the end).
    #[arg(long)]
    ingest_pid: u32,
    #[arg(long)]
    token: String,
    #[arg(long)]
    events: u64,
    #[arg(long, default_value_t = 10_000)]
    movies: u64,
    /// Days back the events are spread over (within the raw log's retention).
    #[arg(long, default_value_t = 60)]
    days: u64,
    #[arg(long, default_value_t = 500)]
    batch: u64,
    #[arg(long, default_value_t = 4)]
    concurrency: u64,
}

/// Event `i`: a view of movie `i mod movies`, `1 + i mod days` days ago.
fn event(i: u64, args: &ImportArgs, today: chrono::NaiveDate) -> Value {
    let day = today - chrono::Duration::days(1 + (i % args.days) as i64);
    let at = day
        .and_hms_opt((i % 24) as u32, (i % 60) as u32, 0)
        .unwrap_or_default()
        .and_utc();
    json!({"event_id": format!("import-{i}"), "domain": "jav", "entity_type": "movie",
        "entity_id": format!("movie-{:07}", i % args.movies), "action": "view",
        "occurred_at": at.to_rfc3339(), "user_id": (i * 7919) % 100_000})
}

#[derive(Default)]
struct Tally {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    other: AtomicU64,
    sent: AtomicU64,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    let args = Arc::new(args);
    let tally = Arc::new(Tally::default());
    let next = Arc::new(AtomicU64::new(0));
    let client = reqwest::Client::new();
    let today = chrono::Utc::now().date_naive();
    let started = Instant::now();
    let senders: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (args, tally, next, client) =
                (args.clone(), tally.clone(), next.clone(), client.clone());
            tokio::spawn(async move {
                loop {
                    let first = next.fetch_add(args.batch, Ordering::Relaxed);
                    if first >= args.events {
                        return anyhow::Ok(());
                    }
                    let last = (first + args.batch).min(args.events);
                    let events: Vec<Value> =
                        (first..last).map(|i| event(i, &args, today)).collect();
                    let resp = client
                        .post(format!("{}/api/v1/analytics/events/import", args.ingest))
                        .bearer_auth(&args.token)
                        .json(&events)
                        .send()
                        .await?;
                    let status = resp.status();
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    anyhow::ensure!(status.as_u16() == 200, "import answered {status}: {body}");
                    let n = |k: &str| body[k].as_u64().unwrap_or(0);
                    tally.accepted.fetch_add(n("accepted"), Ordering::Relaxed);
                    tally
                        .duplicates
                        .fetch_add(n("duplicates"), Ordering::Relaxed);
                    let other = n("conflicts") + n("invalid") + n("filtered");
                    tally.other.fetch_add(other, Ordering::Relaxed);
                    let sent = tally.sent.fetch_add(last - first, Ordering::Relaxed) + last - first;
                    if sent % 100_000 < args.batch {
                        eprintln!(
                            "import: {sent} / {} events sent ({:.0} events/s)",
                            args.events,
                            sent as f64 / started.elapsed().as_secs_f64()
                        );
                    }
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let peak_kb = crate::measure::peak_rss_kb(args.ingest_pid);
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!(
        "{} events in {seconds:.1} s: {:.0} events/s; accepted {}, duplicates {}, other {}; ingest-svc peak RSS {:.1} MB",
        args.events,
        args.events as f64 / seconds,
        get(&tally.accepted),
        get(&tally.duplicates),
        get(&tally.other),
        peak_kb as f64 / 1024.0
    );
    Ok(())
}
