//! What this process saw since the last second — events received,
//! accepted and refused, playback events and their viewers, a sample of
//! accepted events — reported to Redis once a second for read-api's
//! realtime metrics and live feed. Outside the counting path: a report that
//! fails is logged and dropped, never retried into the next one.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use analytics_domain::realtime::Tick;
use analytics_domain::Action;
use analytics_store::hot_counters::IngestOutcome;
use analytics_store::HotCounters;
use prometheus_client::metrics::counter::Counter;

use crate::accept::Prepared;

pub struct LiveTally {
    tick: Mutex<Tick>,
    samples_per_second: usize,
    /// Refusals counted outside the handlers (the rate limiter): their
    /// counter's growth since the last report.
    rate_limited: Counter,
    rate_limited_reported: Mutex<u64>,
}

impl LiveTally {
    pub fn new(samples_per_second: usize, rate_limited: Counter) -> Self {
        LiveTally {
            tick: Mutex::new(Tick::default()),
            samples_per_second,
            rate_limited,
            rate_limited_reported: Mutex::new(0),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Tick) -> T) -> T {
        // A panic elsewhere cannot leave a tick half-updated in a way that
        // matters to a best-effort tally.
        f(&mut self.tick.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// `n` events refused (invalid, too large, unauthorised…).
    pub fn rejected(&self, n: i64) {
        self.with(|t| {
            t.counts.received += n;
            t.counts.rejected += n;
        });
    }

    /// One valid event and what the script made of it.
    pub fn counted(&self, p: &Prepared, outcome: IngestOutcome) {
        let accepted = outcome == IngestOutcome::Counted;
        let playback = accepted && p.event.action.is_playback();
        // The viewer id is built outside the lock (samples, inside it, only
        // for the first few events of a second).
        let viewer = if playback { p.event.viewer() } else { None };
        self.with(|t| {
            t.counts.received += 1;
            if outcome == IngestOutcome::Conflict {
                // A reused id with another event: refused (409).
                t.counts.rejected += 1;
            }
            if !accepted {
                return;
            }
            t.counts.accepted += 1;
            if playback {
                t.counts.playback += 1;
                if p.event.action == Action::Error {
                    t.counts.playback_errors += 1;
                }
            }
            if let Some(v) = viewer {
                t.saw_viewer(v, p.event.occurred_at.timestamp());
            }
            if t.samples.len() < self.samples_per_second {
                let sample = serde_json::Value::Object(p.event.to_json(&p.mode));
                t.samples.push(sample.to_string());
            }
        });
    }

    /// Everything since the last call.
    pub fn take(&self) -> Tick {
        let mut tick = self.with(std::mem::take);
        let refused = self.rate_limited.get();
        let mut reported = self
            .rate_limited_reported
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let new = refused.saturating_sub(*reported) as i64;
        *reported = refused;
        tick.counts.received += new;
        tick.counts.rejected += new;
        tick
    }
}

/// Reports the tally every second until the process ends.
pub fn spawn_reporter(tally: Arc<LiveTally>, counters: HotCounters) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no runtime: realtime figures are not reported");
        return;
    };
    runtime.spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            every.tick().await;
            let tick = tally.take();
            let now = chrono::Utc::now().timestamp();
            if let Err(e) = counters.report_tick(now, &tick).await {
                tracing::warn!(error = %e, "realtime tally not reported");
            }
        }
    });
}
