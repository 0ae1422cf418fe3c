//! read-api: what admins read (top lists, entity series, trends) and the
//! public display counts, from the rollups plus what still waits in Redis.

pub mod actors;
pub mod auth;
pub mod counts_cache;
pub mod discovery;
pub mod erasure;
pub mod error;
pub mod live;
pub mod openapi;
pub mod params;
pub mod range_top;
pub mod report;
pub mod report_cache;
pub mod routes;
pub mod settings;
pub mod snapshot;
pub mod table;
pub mod viewing;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{middleware, web};
use analytics_domain::{Domain, EntityType, EventRules};
use analytics_runtime::assets::{Asset, Assets};
use analytics_runtime::auth::Token;
use analytics_runtime::cors::{self, Cors};
use analytics_runtime::http::{self, ServeOptions, ServiceMeta};
use analytics_runtime::rate_limit::{self, ClientRateLimit, RateLimiter};
use analytics_store::rollups::{RangeFigures, Registers};
use analytics_store::{CatalogueStore, HotCounters, RollupStore, StoreError};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::counts_cache::CountsCache;
use crate::error::ReadApiError;
use crate::live::LiveHub;
use crate::params::DayRange;
use crate::report_cache::ReportCache;
pub use crate::settings::Settings;
pub use actix_web::dev::ServerHandle;
pub use analytics_runtime::http::Application;

/// Entities whose counts are remembered at once.
const COUNTS_CACHE_ENTRIES: usize = 50_000;
/// Reports (distinct parameters) remembered at once.
const REPORT_CACHE_ENTRIES: usize = 10_000;
/// How long a client may take to send a request's head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What every worker shares; Redis connections are per worker.
pub struct AppState {
    pub rules: EventRules,
    pub rollups: RollupStore,
    pub catalogue: CatalogueStore,
    pub admin_token: Token,
    pub retry_after: u64,
    pub max_series_points: usize,
    pub counts_cache: CountsCache,
    pub reports: ReportCache,
    /// One film's video metrics per range: many keys, kept apart from the
    /// site-wide reports so a crawl through the films cannot push them out.
    pub film_reports: ReportCache,
    /// Admin snapshots and actor analytics per parameters, kept for
    /// `read_api.snapshot_cache_ms` (the catalogue changes without a flush;
    /// the snapshot's top lists come from the flush's replicas, so a flush
    /// outdates them too).
    pub catalogue_reports: ReportCache,
    pub live: Arc<LiveHub>,
    /// Days the raw event log keeps (`retention.raw_log_days`; `None` all):
    /// the reports read from it refuse older ranges.
    pub raw_log_days: Option<u32>,
    /// How long an erasure waits for a flush holding a partition.
    pub erasure_wait: Duration,
    /// `read_api.query_timeout_ms`: also each step of an erasure.
    pub query_timeout: Duration,
}

impl AppState {
    /// Today in the domain's zone (where every range ends by default).
    pub fn today(&self, domain: &Domain) -> chrono::NaiveDate {
        self.rules.bucket_mode(domain).today(chrono::Utc::now())
    }

    /// A store failure as this API's error (503 for an outage, else 500).
    pub fn store_error(&self, source: StoreError) -> ReadApiError {
        ReadApiError::Store {
            retry_after: self.retry_after,
            source,
        }
    }

    /// Each of `ids`' figures summed over the range's days.
    pub async fn range_figures(
        &self,
        domain: &Domain,
        entity_type: EntityType,
        ids: &[String],
        range: DayRange,
        registers: Registers,
    ) -> Result<HashMap<String, RangeFigures>, ReadApiError> {
        self.rollups
            .entity_range(domain, entity_type, ids, &range.labels(), registers)
            .await
            .map_err(|e| self.store_error(e))
    }
}

/// Validates the configuration, connects the store clients (lazily: the
/// service starts and reports not ready while a store is down) and binds.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let cfg = &settings.read_api;
    let addr = cfg.validate()?;
    let stores = &settings.stores;
    let rollups = RollupStore::connect(&stores.mongo_settings()?).await?;
    let catalogue = CatalogueStore::connect(&stores.mysql_settings()?).await?;
    let counters = HotCounters::new(&stores.redis_settings()?, stores.key_space()?)?;
    let mut registry = Registry::default();
    let refused = Counter::default();
    registry.register(
        "analytics_counts_rate_limited",
        "Public counts requests refused over a client's limit",
        refused.clone(),
    );
    let limit = ClientRateLimit {
        limiter: Arc::new(RateLimiter::new(
            cfg.counts_rate_limit_per_minute,
            Duration::from_secs(60),
            cfg.rate_limit_max_clients,
        )),
        trusted_proxies: Arc::new(cfg.trusted_proxies()?),
        refused,
    };
    let counts_cors = Arc::new(Cors::new(
        cfg.cors_allowed_origins()?,
        "GET",
        "read_api.cors_allowed_origins",
        Cors::register_refusals(&mut registry),
    ));
    let connections = Gauge::default();
    registry.register(
        "analytics_live_feed_connections",
        "WebSocket clients of the live feed",
        connections.clone(),
    );
    // The replaced video service's name for the same gauge, which its
    // dashboards and alerts read.
    registry.register(
        "analytics_service_websocket_connections",
        "WebSocket clients of the live feed (alias of analytics_live_feed_connections)",
        connections.clone(),
    );
    let live = Arc::new(LiveHub::new(
        cfg.live_viewer_window_seconds,
        cfg.live_max_connections,
        connections,
        cfg.live_allowed_origins.clone(),
    ));
    live.spawn(counters.clone());
    let reports = ReportCache::new(
        cfg.report_cache_ttl(),
        REPORT_CACHE_ENTRIES,
        Some(counters.clone()),
    );
    let rules = stores.event_rules()?;
    let domains: Vec<&str> = rules.domains.keys().map(|d| d.as_str()).collect();
    let openapi = openapi::document(&domains);
    let state = web::Data::new(AppState {
        rules,
        rollups,
        catalogue,
        admin_token: cfg.admin_token.clone(),
        retry_after: cfg.retry_after_seconds,
        max_series_points: cfg.max_series_points,
        counts_cache: CountsCache::new(cfg.counts_cache_ttl(), COUNTS_CACHE_ENTRIES),
        film_reports: reports.sibling(REPORT_CACHE_ENTRIES),
        reports,
        catalogue_reports: ReportCache::new(
            cfg.snapshot_cache_ttl(),
            REPORT_CACHE_ENTRIES,
            Some(counters.clone()),
        ),
        live,
        raw_log_days: stores.retention()?.raw_log_days,
        erasure_wait: Duration::from_secs(cfg.erasure_wait_seconds),
        query_timeout: cfg.query_timeout(),
    });
    let meta = ServiceMeta { registry, openapi };
    let options = ServeOptions {
        shutdown_timeout: Duration::from_secs(cfg.shutdown_timeout_seconds),
        head_timeout: HEAD_TIMEOUT,
    };
    let dashboard = Arc::new(Assets::page("/admin/", DASHBOARD));
    let (query_timeout, retry_after) = (cfg.query_timeout(), cfg.retry_after_seconds);
    Ok(http::serve(addr, options, meta, move |app| {
        dashboard.configure(app);
        // Each worker's own Redis connections stop with it.
        let counters = counters.for_worker();
        let get = |path: &str| {
            http::resource(path, "GET").wrap(middleware::from_fn(move |req, next| {
                http::within_deadline(query_timeout, retry_after, req, next)
            }))
        };
        app.app_data(state.clone())
            .app_data(web::Data::new(counters))
            .service(get("/api/v1/admin/analytics/top").route(web::get().to(routes::top)))
            .service(
                get("/api/v1/admin/analytics/entities/{entity_type}/{entity_id}")
                    .route(web::get().to(routes::entity)),
            )
            .service(get("/api/v1/admin/analytics/trends").route(web::get().to(routes::trends)))
            .service(
                get("/api/v1/admin/analytics/snapshot").route(web::get().to(snapshot::snapshot)),
            )
            .service(
                get("/api/v1/admin/analytics/actors/distribution")
                    .route(web::get().to(actors::distribution)),
            )
            .service(
                get("/api/v1/admin/analytics/actors/association")
                    .route(web::get().to(actors::association)),
            )
            .service(
                get("/api/v1/admin/analytics/actors/overview")
                    .route(web::get().to(actors::overview)),
            )
            .service(
                get("/api/v1/admin/analytics/actors/quality").route(web::get().to(actors::quality)),
            )
            .service(
                get("/api/v1/admin/analytics/actors/suggest").route(web::get().to(actors::suggest)),
            )
            .service(
                get("/api/v1/admin/analytics/actors/trends").route(web::get().to(actors::trends)),
            )
            .service(
                get("/api/v1/admin/analytics/actors/insights")
                    .route(web::get().to(actors::insights)),
            )
            .service(
                http::resource("/api/v1/admin/analytics/actors/predict", "POST")
                    .route(web::post().to(actors::predict)),
            )
            .service(
                get("/api/v1/admin/analytics/search/queries")
                    .route(web::get().to(discovery::search_queries)),
            )
            .service(
                get("/api/v1/admin/analytics/search/daily")
                    .route(web::get().to(discovery::search_daily)),
            )
            .service(
                get("/api/v1/admin/analytics/recommendations")
                    .route(web::get().to(discovery::recommendations)),
            )
            .service(
                get("/api/v1/admin/analytics/recommendations/movies")
                    .route(web::get().to(discovery::clicked_movies)),
            )
            .service(
                get("/api/v1/analytics/content/popular").route(web::get().to(viewing::popular)),
            )
            .service(
                get("/api/metrics/video/{video_id}").route(web::get().to(viewing::video_metrics)),
            )
            .service(
                get("/api/v1/analytics/user/{user_id}/stats")
                    .route(web::get().to(viewing::user_stats)),
            )
            .service(get("/api/v1/analytics/trends").route(web::get().to(viewing::viewing_trends)))
            .service(get("/api/v1/analytics/peak-hours").route(web::get().to(viewing::peak_hours)))
            .service(get("/api/metrics/realtime").route(web::get().to(live::realtime)))
            .service(get("/ws").route(web::get().to(live::connect)))
            .service(get("/api/v1/admin/analytics/live").route(web::get().to(live::connect)))
            .service(
                get("/api/v1/analytics/counts/{entity_type}/{entity_id}")
                    .wrap(middleware::from_fn({
                        let limit = limit.clone();
                        move |req, next| rate_limit::enforce(limit.clone(), req, next)
                    }))
                    // Outermost, as on ingest: a preflight spends no budget.
                    .wrap(middleware::from_fn({
                        let cors = counts_cors.clone();
                        move |req, next| cors::handle(cors.clone(), req, next)
                    }))
                    .route(web::get().to(routes::counts)),
            )
            .service(
                http::resource("/api/v1/admin/analytics/users/{user_id}", "DELETE")
                    .route(web::delete().to(erasure::erase_user)),
            )
            .service(get("/ready").route(web::get().to(routes::ready)))
            // The replaced video service's health route: readiness, since
            // its consumers use it to tell whether metrics can be read.
            .service(get("/api/metrics/health").route(web::get().to(routes::ready)));
    })?)
}

/// The admin dashboard's own files (the API it calls needs the token; the
/// files themselves hold no data).
const DASHBOARD: &[Asset] = &[
    Asset {
        path: "/admin/",
        body: include_bytes!("../web/index.html"),
    },
    Asset {
        path: "/admin/admin.js",
        body: include_bytes!("../web/admin.js"),
    },
    // The actor analytics: a page of its own beside the dashboard.
    Asset {
        path: "/admin/actors/",
        body: include_bytes!("../web/actors.html"),
    },
    Asset {
        path: "/admin/actors.js",
        body: include_bytes!("../web/actors.js"),
    },
];
