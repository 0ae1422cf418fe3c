//! ingest-svc: validates events and counts them in Redis exactly once.

pub mod client_ip;
pub mod error;
pub mod metrics;
pub mod rate_limit;
pub mod routes;
pub mod settings;

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use analytics_domain::EventRules;
use analytics_store::HotCounters;
use prometheus_client::registry::Registry;

use crate::client_ip::IpNet;
use crate::metrics::IngestMetrics;
use crate::rate_limit::RateLimiter;
pub use crate::settings::Settings;
pub use actix_web::dev::ServerHandle;

pub struct AppState {
    pub rules: EventRules,
    pub counters: HotCounters,
    pub limiter: RateLimiter,
    pub trusted_proxies: Vec<IpNet>,
    pub body_limit: usize,
    pub retry_after: u64,
    pub metrics: IngestMetrics,
    pub registry: Registry,
}

/// A bound, not yet awaited server; tests read `port` and spawn `server`.
pub struct Application {
    pub port: u16,
    pub server: Server,
}

impl Application {
    /// Validates the configuration and binds the listener. Redis is not
    /// contacted here: the service starts (and answers 503) while it is down.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let stores = &settings.stores;
        let counters = HotCounters::new(&stores.redis_settings()?, stores.key_space()?)?;
        let mut registry = Registry::default();
        let metrics = IngestMetrics::register(&mut registry);
        let state = web::Data::new(AppState {
            rules: stores.event_rules()?,
            counters,
            limiter: RateLimiter::new(
                settings.ingest.rate_limit_per_minute,
                Duration::from_secs(60),
            ),
            trusted_proxies: settings.ingest.trusted_proxies()?,
            body_limit: settings.ingest.body_limit_bytes,
            retry_after: settings.ingest.retry_after_seconds,
            metrics,
            registry,
        });
        let listener = TcpListener::bind(settings.ingest.bind_addr()?)?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(analytics_runtime::http::request_traces())
                .app_data(state.clone())
                .route("/api/v1/analytics/events", web::post().to(routes::ingest))
                .route("/health", web::get().to(analytics_runtime::http::health))
                .route("/ready", web::get().to(routes::ready))
                .route("/metrics", web::get().to(routes::metrics))
                .default_service(web::to(analytics_runtime::http::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(settings.ingest.shutdown_timeout_seconds)
        .run();
        Ok(Application { port, server })
    }
}
