//! telemetry-svc: job lifecycle events from the queue workers (and the
//! flush), stored in MongoDB `job_events` for the operators, and the
//! pipeline's own health.

pub mod auth;
pub mod error;
pub mod openapi;
pub mod pipeline;
pub mod routes;
pub mod settings;
pub mod signals;
pub mod summary;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use analytics_runtime::assets::{Asset, Assets};
use analytics_runtime::body::BodyLimits;
use analytics_runtime::http::{self, ServeOptions, ServiceMeta};
use analytics_store::block_signals::BlockSignalStore;
use analytics_store::{HotCounters, JobEventStore, RollupStore, StoreError};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::TelemetryError;
pub use crate::settings::Settings;
use crate::settings::TelemetryConfig;
pub use actix_web::dev::ServerHandle;
pub use analytics_runtime::http::Application;

/// What every worker shares; Redis connections are per worker.
pub struct AppState {
    pub rollups: RollupStore,
    pub events: JobEventStore,
    pub signals: BlockSignalStore,
    pub config: TelemetryConfig,
    pub body: BodyLimits,
    pub recorded: Family<Vec<(&'static str, &'static str)>, Counter>,
}

impl AppState {
    /// A store failure as this service's error (503 for an outage, else 500).
    pub fn store_error(&self, source: StoreError) -> TelemetryError {
        TelemetryError::Store {
            retry_after: self.config.retry_after_seconds,
            source,
        }
    }
}

/// Validates the configuration, connects the store clients (lazily: the
/// service starts and reports not ready while a store is down) and binds.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let cfg = &settings.telemetry;
    let addr = cfg.validate()?;
    let rollups = RollupStore::connect(&settings.stores.mongo_settings()?).await?;
    let retention =
        Duration::from_secs(u64::from(settings.stores.retention()?.telemetry_days) * 86_400);
    let events = JobEventStore::new(rollups.database(), retention);
    let signals = BlockSignalStore::new(rollups.database(), retention);
    if let Err(e) = events.ensure_indexes().await {
        // Not fatal: the service starts and reports not ready until Mongo answers.
        tracing::warn!(error = %e, "job_events indexes not ensured yet");
    }
    if let Err(e) = signals.ensure_indexes().await {
        tracing::warn!(error = %e, "crawler_block_signals indexes not ensured yet");
    }
    let mut registry = Registry::default();
    let recorded = Family::default();
    registry.register(
        "analytics_job_events_recorded",
        "Job telemetry events stored, by event type",
        recorded.clone(),
    );
    let unimported = Gauge::default();
    registry.register(
        "analytics_catalogue_films_unimported",
        "Films whose catalogue counts the flush keeps (not lowered) until flush-worker cutover imports them",
        unimported.clone(),
    );
    tokio::spawn(refresh_unimported(rollups.clone(), unimported));
    let counters = HotCounters::new(
        &settings.stores.redis_settings()?,
        settings.stores.key_space()?,
    )?;
    let body_timeout = Duration::from_secs(cfg.body_timeout_seconds);
    let state = web::Data::new(AppState {
        rollups,
        events,
        signals,
        config: cfg.clone(),
        body: BodyLimits {
            max_bytes: cfg.body_limit_bytes,
            timeout: body_timeout,
        },
        recorded,
    });
    let meta = ServiceMeta {
        registry,
        openapi: openapi::document(),
    };
    let options = ServeOptions {
        shutdown_timeout: Duration::from_secs(cfg.shutdown_timeout_seconds),
        head_timeout: body_timeout,
    };
    let page = Arc::new(Assets::page("/ops/", OPS_PAGE));
    Ok(http::serve(addr, options, meta, move |app| {
        page.configure(app);
        // Each worker's own Redis connections stop with it.
        let counters = counters.for_worker();
        let get = |path: &str| http::resource(path, "GET");
        app.app_data(state.clone())
            .app_data(web::Data::new(counters))
            .service(http::resource(routes::EVENTS, "POST").route(web::post().to(routes::record)))
            .service(get(summary::SUMMARY).route(web::get().to(summary::summary)))
            .service(get(pipeline::PIPELINE).route(web::get().to(pipeline::pipeline)))
            .service(get(signals::LIST).route(web::get().to(signals::list)))
            .service(get(signals::COOLDOWN).route(web::get().to(signals::cooldown)))
            .service(get("/ready").route(web::get().to(routes::ready)));
    })?)
}

/// How often the unimported-films gauge is read from Mongo.
const UNIMPORTED_REFRESH: Duration = Duration::from_secs(15);

/// Keeps the gauge current between scrapes (an unreadable Mongo leaves the
/// last reading; `/pipeline` says that Mongo did not answer).
async fn refresh_unimported(rollups: RollupStore, gauge: Gauge) {
    let mut tick = tokio::time::interval(UNIMPORTED_REFRESH);
    loop {
        tick.tick().await;
        if let Ok(n) = rollups.unimported_count().await {
            gauge.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }
}

/// The operator page's own files.
const OPS_PAGE: &[Asset] = &[
    Asset {
        path: "/ops/",
        body: include_bytes!("../web/index.html"),
    },
    Asset {
        path: "/ops/ops.js",
        body: include_bytes!("../web/ops.js"),
    },
];
