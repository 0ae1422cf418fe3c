//! Every workspace integration test in one binary: each test module would
//! otherwise link the whole workspace again (a dozen links of every service
//! on a 2-core machine). Each module is one area of the system.

mod actor_analytics;
mod admin_dashboard;
mod admin_snapshot;
mod api_docs;
mod backpressure;
mod bots;
mod crawler_signals;
mod cutover;
mod dedupe;
mod end_to_end;
mod erasure;
mod events_v2;
mod evidence_reports;
mod flush_faults;
mod flush_pipeline;
mod http_protocol;
mod import;
mod ingest_contract;
mod ingest_v2;
mod k8s_manifests;
mod leaderboards;
mod live_feed;
mod markers;
mod mongo_freeze;
mod operator_page;
mod otlp_traces;
mod parity_check;
mod periods;
mod producer_example;
mod read_api;
mod rebuild;
mod redis_cluster;
mod redis_outage;
mod redis_refusal;
mod reference_docs;
mod retention;
mod sdk_in_browser;
mod service_lifecycle;
mod stuck_steps;
mod telemetry_summary;
mod telemetry_svc;
mod viewing;
