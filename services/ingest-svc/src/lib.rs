//! ingest-svc: validates events and counts them in Redis exactly once.

pub mod accept;
pub mod backpressure;
pub mod bots;
pub mod contract;
pub mod decode;
pub mod error;
pub mod import;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod settings;

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{middleware, web, Resource, Route};
use analytics_domain::{EventRules, ValueLimits};
use analytics_runtime::assets::{Asset, Assets, Audience};
use analytics_runtime::auth::Token;
use analytics_runtime::body::BodyLimits;
use analytics_runtime::client_ip::IpNet;
use analytics_runtime::cors;
use analytics_runtime::http::{self, ServeOptions, ServiceMeta};
use analytics_runtime::rate_limit::{self, ClientRateLimit, RateLimiter};
use analytics_store::{CatalogueStore, HotCounters};
use prometheus_client::registry::Registry;

use crate::live::LiveTally;
use crate::metrics::IngestMetrics;
pub use crate::settings::Settings;
pub use actix_web::dev::ServerHandle;
pub use analytics_runtime::http::Application;

/// The browser SDK, served where pages load it from; the path names its
/// major version, so a breaking SDK gets a new path.
pub const SDK: Asset = Asset {
    path: "/sdk/v1/analytics.js",
    body: include_bytes!("../../../sdk/analytics.js"),
};

/// What every worker shares. Store connections are per worker (see
/// [`build`]).
pub struct AppState {
    pub rules: EventRules,
    /// `value` limits of anonymous producers, and of token holders.
    pub public_limits: ValueLimits,
    pub producer_limits: ValueLimits,
    pub producer_token: Option<Token>,
    /// Body limits of the single-event routes and of the batch route.
    pub body: BodyLimits,
    pub batch_body: BodyLimits,
    pub max_batch_events: usize,
    /// Whether accepted events go to the raw event log.
    pub raw_log: bool,
    /// How far back the raw log reaches: the import lane's oldest event.
    pub retention: analytics_runtime::config::Retention,
    /// Which requests are bots' (their events are counted nowhere), and
    /// whether those events are kept in the raw log, flagged.
    pub bots: crate::bots::BotFilter,
    pub log_filtered: bool,
    pub trusted_proxies: Vec<IpNet>,
    pub retry_after: u64,
    pub metrics: IngestMetrics,
    /// This second's realtime tally (reported by a background task).
    pub live: Arc<LiveTally>,
    /// Whether events are held back before Redis fills (read each second).
    pub backpressure: Arc<crate::backpressure::Backpressure>,
}

impl AppState {
    /// A store failure as the answer: 503 with `Retry-After` when it was out.
    pub fn store_error(&self, source: analytics_store::StoreError) -> error::IngestError {
        error::IngestError::Store {
            retry_after: self.retry_after,
            source,
        }
    }

    /// The events of a request Redis refused while it stored others (each
    /// answered `unavailable`): logged and counted like a 503.
    pub fn refused(
        &self,
        refusal: Option<&analytics_store::StoreError>,
        outcomes: &[Option<analytics_store::hot_counters::IngestOutcome>],
    ) {
        let Some(refusal) = refusal else { return };
        let n = outcomes.iter().filter(|o| o.is_none()).count();
        tracing::warn!(error = %refusal, events = n, "redis refused part of a batch");
        self.rejected("store_unavailable", n as u64);
    }

    /// A 503 before anything is written, while backpressure holds.
    pub fn check_backpressure(&self) -> Result<(), error::IngestError> {
        match self.backpressure.hold() {
            Some(held) => Err(error::IngestError::HoldingBack {
                message: held.message,
                retry_after: self.retry_after,
            }),
            None => Ok(()),
        }
    }

    /// `n` events refused: the metric of the reason and the realtime tally.
    pub fn rejected(&self, reason: &'static str, n: u64) {
        self.metrics.rejected(reason).inc_by(n);
        self.live.rejected(n as i64);
    }
}

/// Validates the configuration and binds the listener. Redis is not
/// contacted here: the service starts (and answers 503) while it is down.
pub fn build(settings: Settings) -> anyhow::Result<Application> {
    let (stores, cfg) = (&settings.stores, &settings.ingest);
    let counters = HotCounters::new(&stores.redis_settings()?, stores.key_space()?)?;
    // The import lane's durable dedupe (the raw event log); the live routes
    // never touch MySQL.
    let mysql = stores.mysql_settings()?;
    let mysql_options = mysql.options()?;
    let mut registry = Registry::default();
    let metrics = IngestMetrics::register(&mut registry);
    let guards = EventGuards::new(&settings, &metrics, &mut registry)?;
    let state = web::Data::new(AppState::new(&settings, metrics, &counters)?);
    let domains: Vec<&str> = state.rules.domains.keys().map(|d| d.as_str()).collect();
    let openapi = openapi::document(&domains, state.max_batch_events);
    let meta = ServiceMeta { registry, openapi };
    let options = ServeOptions {
        shutdown_timeout: Duration::from_secs(cfg.shutdown_timeout_seconds),
        head_timeout: state.body.timeout,
    };
    let sdk = Arc::new(Assets::new(Audience::AnyOrigin, &[SDK]));
    Ok(http::serve(cfg.bind_addr()?, options, meta, move |app| {
        sdk.configure(app);
        app.app_data(state.clone())
            .app_data(web::Data::new(counters.for_worker()))
            // Lazy: ingest starts and counts while MySQL is out.
            .app_data(web::Data::new(CatalogueStore::lazy(
                &mysql,
                mysql_options.clone(),
            )));
        configure(app, &guards);
    })?)
}

/// The routes: every event route behind the same guards.
fn configure(app: &mut web::ServiceConfig, guards: &EventGuards) {
    app.service(guards.route(routes::EVENTS, web::post().to(routes::ingest)))
        // The video player's route (the same handler, every shape).
        .service(guards.route(routes::PLAYER_EVENTS, web::post().to(routes::ingest)))
        .service(guards.route(routes::BATCH, web::post().to(routes::batch)))
        .service(guards.route(routes::VALIDATE, web::post().to(routes::validate)))
        .service(guards.route(import::IMPORT, web::post().to(import::import)))
        .service(http::resource("/ready", "GET").route(web::get().to(routes::ready)));
}

/// What every event route passes first: CORS (outermost, so a preflight
/// spends no budget), then the per-client rate limit.
#[derive(Clone)]
struct EventGuards {
    limit: ClientRateLimit,
    origins: Arc<cors::Cors>,
}

impl EventGuards {
    fn new(
        settings: &Settings,
        metrics: &IngestMetrics,
        registry: &mut Registry,
    ) -> anyhow::Result<Self> {
        let cfg = &settings.ingest;
        Ok(EventGuards {
            limit: ClientRateLimit {
                limiter: Arc::new(RateLimiter::new(
                    cfg.rate_limit_per_minute,
                    Duration::from_secs(60),
                    cfg.rate_limit_max_clients()?,
                )),
                trusted_proxies: Arc::new(cfg.trusted_proxies()?),
                refused: metrics.rejected("rate_limited"),
            },
            origins: Arc::new(cors::Cors::new(
                cfg.cors_allowed_origins()?,
                "POST",
                "ingest.cors_allowed_origins",
                cors::Cors::register_refusals(registry),
            )),
        })
    }

    fn route(
        &self,
        path: &str,
        handler: Route,
    ) -> Resource<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let (limit, origins) = (self.limit.clone(), self.origins.clone());
        http::resource(path, "POST")
            .wrap(middleware::from_fn(move |req, next| {
                rate_limit::enforce(limit.clone(), req, next)
            }))
            .wrap(middleware::from_fn(move |req, next| {
                cors::handle(origins.clone(), req, next)
            }))
            .route(handler)
    }
}

impl AppState {
    /// The state from the settings; starts the live tally's reporter and
    /// the backpressure sampler.
    fn new(
        settings: &Settings,
        metrics: IngestMetrics,
        counters: &HotCounters,
    ) -> anyhow::Result<Self> {
        let (stores, cfg) = (&settings.stores, &settings.ingest);
        let live = Arc::new(LiveTally::new(
            cfg.live_events_per_second()?,
            metrics.rejected("rate_limited"),
        ));
        live::spawn_reporter(live.clone(), counters.clone());
        let backpressure = Arc::new(crate::backpressure::Backpressure::new(
            crate::backpressure::Limits {
                max_memory_share: stores.max_memory_share()?,
                max_waiting_counts: cfg.max_waiting_counts,
            },
            metrics.backpressure.clone(),
            metrics.waiting.clone(),
        ));
        backpressure.clone().spawn_sampler(counters.clone());
        let body_timeout = cfg.body_timeout()?;
        Ok(AppState {
            rules: stores.event_rules()?,
            public_limits: cfg.public_limits()?,
            producer_limits: ValueLimits::contract(),
            producer_token: cfg.producer_token()?,
            body: BodyLimits {
                max_bytes: cfg.body_limit_bytes,
                timeout: body_timeout,
            },
            batch_body: BodyLimits {
                max_bytes: cfg.batch_body_limit_bytes,
                timeout: body_timeout,
            },
            max_batch_events: cfg.max_batch_events()?,
            raw_log: stores.raw_log(),
            retention: stores.retention()?,
            bots: crate::bots::BotFilter::new(
                stores.events.filter_bots,
                &stores.events.bot_patterns,
            )?,
            log_filtered: stores.events.log_filtered,
            trusted_proxies: cfg.trusted_proxies()?,
            retry_after: cfg.retry_after_seconds,
            metrics,
            live,
            backpressure,
        })
    }
}
