//! What ingest counts about events (request latency is the shared
//! `analytics_http_request_duration_seconds`). Every refused event is
//! counted with its reason.
//!
//! Three series keep the names of the replaced video service's, so its
//! dashboards and alerts keep working (docs/operations.md lists which name
//! is an alias of which): `analytics_service_events_processed_total`,
//! `analytics_service_event_processing_duration_seconds` and
//! `analytics_service_kafka_consumer_lag`.

use analytics_store::hot_counters::IngestOutcome;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

pub struct IngestMetrics {
    pub accepted: Family<Labels, Counter>,
    pub duplicates: Counter,
    pub conflicts: Counter,
    pub rejected: Family<Labels, Counter>,
    pub filtered: Family<Labels, Counter>,
    pub imported: Family<Labels, Counter>,
    pub backpressure: Family<Labels, Counter>,
    /// Events counted, retried or refused as a conflict: every event that
    /// reached Redis (the replaced service's processed events).
    pub processed: Counter,
    /// Seconds a request's events took to be counted in Redis, one
    /// observation per request.
    pub processing: Histogram,
    /// Counts waiting for the flush (the replaced service's consumer lag:
    /// what has been taken in and not yet applied to the rollups).
    pub waiting: Gauge,
}

impl IngestMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = IngestMetrics {
            accepted: Family::default(),
            duplicates: Counter::default(),
            conflicts: Counter::default(),
            rejected: Family::default(),
            filtered: Family::default(),
            imported: Family::default(),
            backpressure: Family::default(),
            processed: Counter::default(),
            // 0.5 ms to about 4 s.
            processing: Histogram::new(exponential_buckets(0.0005, 2.0, 14)),
            waiting: Gauge::default(),
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
            "analytics_events_filtered",
            "Valid events answered and counted nowhere, by reason (bot: a crawler's, monitor's or headless browser's)",
            m.filtered.clone(),
        );
        registry.register(
            "analytics_events_imported",
            "Events sent to the import route, by outcome (counted, duplicate, conflict, unavailable)",
            m.imported.clone(),
        );
        registry.register(
            "analytics_ingest_backpressure",
            "Requests held back (503) before Redis refused anything, by reason (memory: redis.max_memory_share reached; backlog: ingest.max_waiting_counts)",
            m.backpressure.clone(),
        );
        registry.register(
            "analytics_service_events_processed",
            "Events that reached Redis: counted, retried or refused as a conflict (accepted + duplicated + conflicted)",
            m.processed.clone(),
        );
        registry.register(
            "analytics_service_event_processing_duration_seconds",
            "Seconds a request's events took to be counted in Redis, one observation per request",
            m.processing.clone(),
        );
        registry.register(
            "analytics_service_kafka_consumer_lag",
            "Counts taken in and not yet flushed to the rollups (there is no Kafka: the nearest honest equivalent)",
            m.waiting.clone(),
        );
        m
    }

    /// The import counter of one outcome (`None`: Redis refused it for
    /// now, `unavailable`).
    pub fn imported(&self, outcome: Option<IngestOutcome>) -> Counter {
        let outcome = match outcome {
            Some(IngestOutcome::Counted) => "counted",
            Some(IngestOutcome::Duplicate) => "duplicate",
            Some(IngestOutcome::Conflict) => "conflict",
            None => "unavailable",
        };
        self.imported
            .get_or_create(&vec![("outcome", outcome)])
            .clone()
    }

    /// The filtered-events counter of one reason.
    pub fn filtered(&self, reason: &'static str) -> Counter {
        self.filtered
            .get_or_create(&vec![("reason", reason)])
            .clone()
    }

    /// The refusal counter of one reason.
    pub fn rejected(&self, reason: &'static str) -> Counter {
        self.rejected
            .get_or_create(&vec![("reason", reason)])
            .clone()
    }
}
