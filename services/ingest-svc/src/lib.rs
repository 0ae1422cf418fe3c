//! ingest-svc: validates events and counts them in Redis exactly once.

pub mod error;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use actix_web::{middleware, web};
use analytics_domain::{EventRules, ValueLimits};
use analytics_runtime::auth::Token;
use analytics_runtime::body::BodyLimits;
use analytics_runtime::http::{self, ServeOptions, ServiceMeta};
use analytics_runtime::rate_limit::{self, ClientRateLimit, RateLimiter};
use analytics_store::HotCounters;
use prometheus_client::registry::Registry;

use crate::metrics::IngestMetrics;
pub use crate::settings::Settings;
pub use actix_web::dev::ServerHandle;
pub use analytics_runtime::http::Application;

/// What every worker shares. Store connections are per worker (see
/// [`build`]).
pub struct AppState {
    pub rules: EventRules,
    /// `value` limits of anonymous producers, and of token holders.
    pub public_limits: ValueLimits,
    pub producer_limits: ValueLimits,
    pub producer_token: Option<Token>,
    pub body: BodyLimits,
    pub retry_after: u64,
    pub metrics: IngestMetrics,
}

/// Validates the configuration and binds the listener. Redis is not
/// contacted here: the service starts (and answers 503) while it is down.
pub fn build(settings: Settings) -> anyhow::Result<Application> {
    let stores = &settings.stores;
    let cfg = &settings.ingest;
    let counters = HotCounters::new(&stores.redis_settings()?, stores.key_space()?)?;
    let mut registry = Registry::default();
    let metrics = IngestMetrics::register(&mut registry);
    let limit = ClientRateLimit {
        limiter: Arc::new(RateLimiter::new(
            cfg.rate_limit_per_minute,
            Duration::from_secs(60),
            cfg.rate_limit_max_clients()?,
        )),
        trusted_proxies: Arc::new(cfg.trusted_proxies()?),
        refused: metrics.rejected("rate_limited"),
    };
    let body_timeout = cfg.body_timeout()?;
    let rules = stores.event_rules()?;
    let domains: Vec<&str> = rules.domains.keys().map(|d| d.as_str()).collect();
    let openapi = openapi::document(&domains);
    let state = web::Data::new(AppState {
        rules,
        public_limits: cfg.public_limits()?,
        producer_limits: ValueLimits::contract(),
        producer_token: cfg.producer_token()?,
        body: BodyLimits {
            max_bytes: cfg.body_limit_bytes,
            timeout: body_timeout,
        },
        retry_after: cfg.retry_after_seconds,
        metrics,
    });
    let meta = ServiceMeta { registry, openapi };
    let options = ServeOptions {
        shutdown_timeout: Duration::from_secs(cfg.shutdown_timeout_seconds),
        head_timeout: body_timeout,
    };
    Ok(http::serve(cfg.bind_addr()?, options, meta, move |app| {
        app.app_data(state.clone())
            .app_data(web::Data::new(counters.for_worker()))
            .service(
                http::resource("/api/v1/analytics/events", "POST")
                    .wrap(middleware::from_fn({
                        let limit = limit.clone();
                        move |req, next| rate_limit::enforce(limit.clone(), req, next)
                    }))
                    .route(web::post().to(routes::ingest)),
            )
            .service(http::resource("/ready", "GET").route(web::get().to(routes::ready)));
    })?)
}
