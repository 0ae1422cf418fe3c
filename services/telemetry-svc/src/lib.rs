//! telemetry-svc: job lifecycle events from the queue workers (and the
//! flush), stored in MongoDB `job_events` for the operators.

pub mod auth;
pub mod error;
pub mod pipeline;
pub mod routes;
pub mod settings;
pub mod summary;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::error::JsonPayloadError;
use actix_web::{web, App, HttpServer};
use analytics_store::{HotCounters, JobEventStore, RollupStore, StoreError};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use crate::error::TelemetryError;
pub use crate::settings::Settings;
use crate::settings::TelemetryConfig;
pub use actix_web::dev::ServerHandle;

pub struct AppState {
    pub rollups: RollupStore,
    pub events: JobEventStore,
    pub counters: HotCounters,
    pub config: TelemetryConfig,
    pub recorded: Family<Vec<(&'static str, &'static str)>, Counter>,
    pub registry: Registry,
}

impl AppState {
    /// A store that failed to answer, as a 503 the caller may retry.
    pub fn unavailable(&self, source: StoreError) -> TelemetryError {
        tracing::warn!(error = %source, "telemetry store unavailable");
        TelemetryError::StoreUnavailable {
            retry_after: self.config.retry_after_seconds,
            source,
        }
    }
}

pub struct Application {
    pub port: u16,
    pub server: Server,
}

/// Body errors from the JSON extractor, as this service's errors.
fn json_error(err: JsonPayloadError, limit: usize) -> TelemetryError {
    match err {
        JsonPayloadError::ContentType => TelemetryError::UnsupportedMediaType,
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            TelemetryError::TooLarge(limit)
        }
        other => TelemetryError::BadBody(other.to_string()),
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let cfg = &settings.telemetry;
        let addr = cfg.validate()?;
        let rollups = RollupStore::connect(&settings.stores.mongo_settings()?).await?;
        let events = JobEventStore::new(
            rollups.database(),
            Duration::from_secs(cfg.retention_days * 86_400),
        );
        if let Err(e) = events.ensure_indexes().await {
            // Not fatal: the service starts and reports not ready until Mongo answers.
            tracing::warn!(error = %e, "job_events indexes not ensured yet");
        }
        let mut registry = Registry::default();
        let recorded = Family::default();
        registry.register(
            "analytics_job_events_recorded",
            "Job telemetry events stored, by event type",
            recorded.clone(),
        );
        let counters = HotCounters::new(
            &settings.stores.redis_settings()?,
            settings.stores.key_space()?,
        )?;
        let state = web::Data::new(AppState {
            rollups,
            events,
            counters,
            config: cfg.clone(),
            recorded,
            registry,
        });
        let limit = cfg.body_limit_bytes;
        let listener = TcpListener::bind(addr)?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(analytics_runtime::http::request_traces())
                .app_data(state.clone())
                .app_data(
                    web::JsonConfig::default()
                        .limit(limit)
                        .error_handler(move |e, _| json_error(e, limit).into()),
                )
                .route(
                    "/api/v1/telemetry/jobs/events",
                    web::post().to(routes::record),
                )
                .route(
                    "/api/v1/telemetry/jobs/summary",
                    web::get().to(summary::summary),
                )
                .route(
                    "/api/v1/telemetry/pipeline",
                    web::get().to(pipeline::pipeline),
                )
                .route("/health", web::get().to(analytics_runtime::http::health))
                .route("/ready", web::get().to(routes::ready))
                .route("/metrics", web::get().to(routes::metrics))
                .default_service(web::to(analytics_runtime::http::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(cfg.shutdown_timeout_seconds)
        .run();
        Ok(Application { port, server })
    }
}
