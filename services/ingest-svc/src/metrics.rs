//! Ingest metrics (Prometheus names per brief §8).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

pub struct IngestMetrics {
    pub accepted: Family<Labels, Counter>,
    pub duplicates: Counter,
    pub conflicts: Counter,
    pub rejected: Family<Labels, Counter>,
    pub latency: Family<Labels, Histogram>,
}

impl IngestMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = IngestMetrics {
            accepted: Family::default(),
            duplicates: Counter::default(),
            conflicts: Counter::default(),
            rejected: Family::default(),
            latency: Family::new_with_constructor(|| {
                Histogram::new(analytics_runtime::metrics::latency_buckets())
            }),
        };
        registry.register(
            "analytics_events_accepted",
            "Events counted for the first time, by action",
            m.accepted.clone(),
        );
        registry.register(
            "analytics_events_duplicated",
            "Retries of an already counted event (202, not counted again)",
            m.duplicates.clone(),
        );
        registry.register(
            "analytics_events_conflicted",
            "Reused event ids carrying a different event (409, not counted)",
            m.conflicts.clone(),
        );
        registry.register(
            "analytics_events_rejected",
            "Requests refused before counting, by reason",
            m.rejected.clone(),
        );
        registry.register(
            "analytics_ingest_request_duration_seconds",
            "Ingest request latency by HTTP status",
            m.latency.clone(),
        );
        m
    }
}
