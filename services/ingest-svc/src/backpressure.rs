//! Backpressure: ingest answers 503 + `Retry-After` before Redis refuses
//! anything — once Redis uses `redis.max_memory_share` of its maxmemory,
//! or `ingest.max_waiting_counts` counts wait for the flush. A task reads
//! both once a second and publishes why it holds back (the operator page
//! shows it); requests only read its verdict. It lifts by itself once the
//! flush has drained Redis (the flush runs past maxmemory).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use analytics_store::hot_counters::Pressure;
use analytics_store::HotCounters;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

/// How often the figures are read.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// `redis.max_memory_share`; `None` off.
    pub max_memory_share: Option<f64>,
    /// `ingest.max_waiting_counts`; 0 no bound.
    pub max_waiting_counts: u64,
}

/// Why ingest holds events back: the metric's label and the answer's text.
#[derive(Debug, Clone, PartialEq)]
pub struct HoldBack {
    pub reason: &'static str,
    pub message: String,
}

/// Whether these figures call for holding back, and why.
pub fn verdict(limits: &Limits, p: &Pressure) -> Option<HoldBack> {
    if let Some(share) = limits.max_memory_share.filter(|_| p.max_memory > 0) {
        let used = p.used_memory as f64 / p.max_memory as f64;
        if used >= share {
            return Some(HoldBack {
                reason: "memory",
                message: format!(
                    "Ingest is holding events back: Redis uses {:.0} % of its maxmemory (redis.max_memory_share is {share}) until the flush drains it; retry later.",
                    used * 100.0
                ),
            });
        }
    }
    let bound = limits.max_waiting_counts;
    if bound > 0 && p.counts_waiting >= i64::try_from(bound).unwrap_or(i64::MAX) {
        return Some(HoldBack {
            reason: "backlog",
            message: format!(
                "Ingest is holding events back: {} counts wait for the flush (ingest.max_waiting_counts is {bound}); retry later.",
                p.counts_waiting
            ),
        });
    }
    None
}

pub struct Backpressure {
    limits: Limits,
    now: RwLock<Option<HoldBack>>,
    /// `analytics_ingest_backpressure_total{reason}`: requests held back.
    held: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// Set to the counts waiting at each reading (whether or not a limit
    /// is on: the operators' lag figure).
    waiting: Gauge,
}

impl Backpressure {
    pub fn new(
        limits: Limits,
        held: Family<Vec<(&'static str, &'static str)>, Counter>,
        waiting: Gauge,
    ) -> Self {
        Backpressure {
            limits,
            now: RwLock::new(None),
            held,
            waiting,
        }
    }

    pub fn is_on(&self) -> bool {
        self.limits.max_memory_share.is_some() || self.limits.max_waiting_counts > 0
    }

    /// Why a request is held back now (counted), or `None`.
    pub fn hold(&self) -> Option<HoldBack> {
        let now = self
            .now
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        self.held.get_or_create(&vec![("reason", now.reason)]).inc();
        Some(now)
    }

    fn set(&self, verdict: Option<HoldBack>) {
        *self.now.write().unwrap_or_else(PoisonError::into_inner) = verdict;
    }

    /// Reads the figures once a second for as long as the process runs
    /// (with no limit on, only for the waiting gauge). A
    /// Redis that cannot be read lifts the hold: requests then meet the
    /// outage itself, which answers 503 on its own.
    pub fn spawn_sampler(self: Arc<Self>, counters: HotCounters) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            let mut published = false;
            loop {
                tick.tick().await;
                let verdict = match counters.pressure().await {
                    Ok(p) => {
                        self.waiting.set(p.counts_waiting);
                        verdict(&self.limits, &p)
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "backpressure figures unreadable");
                        None
                    }
                };
                if let Some(v) = &verdict {
                    tracing::warn!(reason = v.reason, "{}", v.message);
                }
                let holding = verdict.as_ref().map(|v| v.message.clone());
                // In force before it is published.
                self.set(verdict);
                // Published while it lasts, withdrawn once when it ends.
                if holding.is_some() || published {
                    published = counters
                        .publish_holding_back(holding.as_deref())
                        .await
                        .is_ok()
                        && holding.is_some();
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pressure(used: u64, max: u64, waiting: i64) -> Pressure {
        Pressure {
            used_memory: used,
            max_memory: max,
            counts_waiting: waiting,
        }
    }

    #[test]
    fn memory_holds_back_at_the_share_and_not_without_a_maxmemory() {
        let limits = Limits {
            max_memory_share: Some(0.9),
            max_waiting_counts: 0,
        };
        assert_eq!(verdict(&limits, &pressure(899, 1000, 10)), None);
        let held = verdict(&limits, &pressure(930, 1000, 10)).expect("held");
        assert_eq!(held.reason, "memory");
        assert_eq!(
            held.message,
            "Ingest is holding events back: Redis uses 93 % of its maxmemory (redis.max_memory_share is 0.9) until the flush drains it; retry later."
        );
        assert_eq!(verdict(&limits, &pressure(u64::MAX, 0, 10)), None);
    }

    #[test]
    fn the_backlog_holds_back_at_its_bound_and_zero_is_no_bound() {
        let limits = Limits {
            max_memory_share: None,
            max_waiting_counts: 3,
        };
        assert_eq!(verdict(&limits, &pressure(1, 2, 2)), None);
        let held = verdict(&limits, &pressure(1, 2, 3)).expect("held");
        assert_eq!(held.reason, "backlog");
        assert_eq!(
            held.message,
            "Ingest is holding events back: 3 counts wait for the flush (ingest.max_waiting_counts is 3); retry later."
        );
        let off = Limits {
            max_memory_share: None,
            max_waiting_counts: 0,
        };
        assert_eq!(verdict(&off, &pressure(2, 2, i64::MAX)), None);
    }
}
