//! `live-clients`: N WebSocket clients on read-api's live feed for a while.
//! Per `realtime_metrics` tick (its `as_of` second), how long after the
//! first client each client got it (fan-out lag), and per client the gap
//! between consecutive ticks (the 1 s cadence); clients closed early.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::measure::percentile;

#[derive(clap::Args)]
pub struct LiveArgs {
    /// The feed's URL, e.g. ws://127.0.0.1:18091/ws.
    #[arg(long)]
    url: String,
    #[arg(long)]
    token: String,
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
}

#[derive(Default)]
struct Seen {
    /// as_of second → arrival times (µs since the start) of each client.
    arrivals: HashMap<i64, Vec<u64>>,
    /// Gaps between a client's consecutive ticks, µs.
    gaps: Vec<u32>,
    closed_early: usize,
    events: u64,
}

// One function on purpose: connect, listen and report are one timeline
// over the same clients and tallies.
pub async fn run(args: LiveArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut clients = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let mut request = args.url.as_str().into_client_request()?;
        request.headers_mut().insert(
            "Authorization",
            HeaderValue::from_str(&format!("Bearer {}", args.token))?,
        );
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        clients.push(socket);
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for mut socket in clients {
        let seen = seen.clone();
        tasks.push(tokio::spawn(async move {
            let mut last: Option<Instant> = None;
            loop {
                let next = tokio::time::timeout_at(deadline.into(), socket.next()).await;
                let message = match next {
                    Err(_) => return,
                    Ok(Some(Ok(m))) => m,
                    Ok(_) => {
                        seen.lock().map(|mut s| s.closed_early += 1).ok();
                        return;
                    }
                };
                let Message::Text(text) = message else {
                    continue;
                };
                let now = Instant::now();
                let value: serde_json::Value = match serde_json::from_str(text.as_str()) {
                    Ok(v) => v,
                    Err(_) => continue,
                };
                let Ok(mut s) = seen.lock() else { return };
                if value["type"] == "analytics_event" {
                    s.events += 1;
                    continue;
                }
                let Some(as_of) = value["payload"]["as_of"].as_i64() else {
                    continue;
                };
                let at = now.duration_since(started).as_micros() as u64;
                s.arrivals.entry(as_of).or_default().push(at);
                if let Some(prev) = last {
                    s.gaps.push(now.duration_since(prev).as_micros() as u32);
                }
                last = Some(now);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let s = seen
        .lock()
        .map_err(|_| anyhow::anyhow!("a client task panicked"))?;
    let mut lags: Vec<u32> = Vec::new();
    for arrivals in s.arrivals.values() {
        let first = arrivals.iter().min().copied().unwrap_or(0);
        lags.extend(arrivals.iter().map(|a| (a - first) as u32));
    }
    lags.sort_unstable();
    let mut gaps = s.gaps.clone();
    gaps.sort_unstable();
    println!(
        "{} clients connected in {connect_secs:.1}s; {} ticks over {}s, {} sampled events delivered",
        args.clients,
        s.arrivals.len(),
        args.seconds,
        s.events
    );
    println!(
        "fan-out lag behind the first client: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&lags, 50.0),
        percentile(&lags, 99.0),
        percentile(&lags, 100.0)
    );
    println!(
        "gap between a client's ticks: p1 {:.0} ms, p50 {:.0} ms, p99 {:.0} ms; closed early: {}",
        percentile(&gaps, 1.0),
        percentile(&gaps, 50.0),
        percentile(&gaps, 99.0),
        s.closed_early
    );
    Ok(())
}
