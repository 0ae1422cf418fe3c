//! ingest-svc: validates events and counts them in Redis exactly once.

pub mod error;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod settings;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{middleware, web};
use analytics_domain::{EventRules, ValueLimits};
use analytics_runtime::auth::Token;
use analytics_runtime::body::BodyLimits;
use analytics_runtime::http::{self, RequestMetrics, ServeOptions};
use analytics_runtime::rate_limit::{self, ClientRateLimit, RateLimiter};
use analytics_store::HotCounters;
use prometheus_client::registry::Registry;

use crate::metrics::IngestMetrics;
pub use crate::settings::Settings;
pub use actix_web::dev::ServerHandle;

/// What every worker shares. Store connections are per worker (see
/// [`Application::build`]).
pub struct AppState {
    pub rules: EventRules,
    /// `value` limits of anonymous producers, and of token holders.
    pub public_limits: ValueLimits,
    pub producer_limits: ValueLimits,
    pub producer_token: Option<Token>,
    pub body: BodyLimits,
    pub retry_after: u64,
    pub metrics: IngestMetrics,
    pub registry: Registry,
    /// This service's OpenAPI document (it names the configured domains).
    pub openapi: serde_json::Value,
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
        let cfg = &settings.ingest;
        let counters = HotCounters::new(&stores.redis_settings()?, stores.key_space()?)?;
        let mut registry = Registry::default();
        let metrics = IngestMetrics::register(&mut registry);
        let request_metrics = RequestMetrics::register(&mut registry);
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
            registry,
            openapi,
        });
        let listener = TcpListener::bind(cfg.bind_addr()?)?;
        let port = listener.local_addr()?.port();
        let options = ServeOptions {
            shutdown_timeout: Duration::from_secs(cfg.shutdown_timeout_seconds),
            head_timeout: body_timeout,
        };
        let server = http::serve(listener, options, request_metrics, move |app| {
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
                .service(http::resource("/ready", "GET").route(web::get().to(routes::ready)))
                .service(http::resource("/metrics", "GET").route(web::get().to(routes::metrics)))
                .service(
                    http::resource("/openapi.json", "GET").route(web::get().to(routes::openapi)),
                );
        })?;
        Ok(Application { port, server })
    }
}
