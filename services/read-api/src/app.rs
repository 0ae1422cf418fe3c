//! The service's shared state and how it is built: the store clients, the
//! caches, the live hub, the metrics and the route table (`api`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use analytics_domain::rollup::Counts;
use analytics_domain::{Domain, EntityKey, EntityType, EventRules};
use analytics_runtime::assets::{Asset, Assets};
use analytics_runtime::auth::Token;
use analytics_runtime::cors::Cors;
use analytics_runtime::http::{self, ServeOptions, ServiceMeta};
use analytics_runtime::rate_limit::{ClientRateLimit, RateLimiter};
use analytics_store::rollups::{RangeFigures, Registers};
use analytics_store::{CatalogueStore, HotCounters, RollupStore, StoreError};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::api::live::LiveHub;
use crate::api::{self, Routing};
use crate::counts_cache::CountsCache;
use crate::error::ReadApiError;
use crate::openapi;
use crate::params::DayRange;
use crate::report_cache::ReportCache;
use crate::settings::{ReadApiConfig, Settings};
use analytics_runtime::http::Application;

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

    /// An entity's Mongo totals (zero when it has none yet).
    pub async fn totals(&self, entity: &EntityKey) -> Result<Counts, ReadApiError> {
        let mut found = self
            .rollups
            .totals_for(
                &entity.domain,
                entity.entity_type,
                std::slice::from_ref(&entity.entity_id),
            )
            .await
            .map_err(|e| self.store_error(e))?;
        Ok(found.remove(&entity.entity_id).unwrap_or_default())
    }

    /// The catalogue's code and title of these movies, where it has them
    /// (the MySQL catalogue holds the `jav` domain's films).
    pub async fn movie_titles(
        &self,
        domain: &Domain,
        ids: &[String],
    ) -> Result<Titles, ReadApiError> {
        if domain.as_str() != "jav" || ids.is_empty() {
            return Ok(HashMap::new());
        }
        self.catalogue
            .movie_titles(ids)
            .await
            .map_err(|e| self.store_error(e))
    }
}

/// Movies' catalogue (code, title) by id.
pub type Titles = HashMap<String, (Option<String>, Option<String>)>;

/// Validates the configuration, connects the store clients (lazily: the
/// service starts and reports not ready while a store is down) and binds.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let cfg = &settings.read_api;
    let addr = cfg.validate()?;
    let mut registry = Registry::default();
    let routing = routing(cfg, &mut registry)?;
    let counters = HotCounters::new(
        &settings.stores.redis_settings()?,
        settings.stores.key_space()?,
    )?;
    let state = web::Data::new(AppState::connect(&settings, &counters, &mut registry).await?);
    let domains: Vec<&str> = state.rules.domains.keys().map(|d| d.as_str()).collect();
    let openapi = openapi::document(&domains);
    let meta = ServiceMeta { registry, openapi };
    let options = ServeOptions {
        shutdown_timeout: Duration::from_secs(cfg.shutdown_timeout_seconds),
        head_timeout: HEAD_TIMEOUT,
    };
    let dashboard = Arc::new(Assets::page("/admin/", DASHBOARD));
    Ok(http::serve(addr, options, meta, move |app| {
        dashboard.configure(app);
        // Each worker's own Redis connections stop with it.
        app.app_data(state.clone())
            .app_data(web::Data::new(counters.for_worker()));
        api::configure(app, &routing);
    })?)
}

/// The read deadline, and the public counts route's rate limit and CORS
/// with their refusal counters.
fn routing(cfg: &ReadApiConfig, registry: &mut Registry) -> anyhow::Result<Routing> {
    let refused = Counter::default();
    registry.register(
        "analytics_counts_rate_limited",
        "Public counts requests refused over a client's limit",
        refused.clone(),
    );
    let counts_limit = ClientRateLimit {
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
        Cors::register_refusals(registry),
    ));
    Ok(Routing {
        query_timeout: cfg.query_timeout(),
        retry_after: cfg.retry_after_seconds,
        counts_limit,
        counts_cors,
    })
}

/// The live hub, polling Redis for the tallies ingest reports, with its
/// connection gauge under both its names.
fn live_hub(cfg: &ReadApiConfig, counters: &HotCounters, registry: &mut Registry) -> Arc<LiveHub> {
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
    live
}

impl AppState {
    /// The store clients, the caches and the live hub.
    async fn connect(
        settings: &Settings,
        counters: &HotCounters,
        registry: &mut Registry,
    ) -> anyhow::Result<AppState> {
        let (cfg, stores) = (&settings.read_api, &settings.stores);
        let reports = ReportCache::new(
            cfg.report_cache_ttl(),
            REPORT_CACHE_ENTRIES,
            Some(counters.clone()),
        );
        Ok(AppState {
            rules: stores.event_rules()?,
            rollups: RollupStore::connect(&stores.mongo_settings()?).await?,
            catalogue: CatalogueStore::connect(&stores.mysql_settings()?).await?,
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
            live: live_hub(cfg, counters, registry),
            raw_log_days: stores.retention()?.raw_log_days,
            erasure_wait: Duration::from_secs(cfg.erasure_wait_seconds),
            query_timeout: cfg.query_timeout(),
        })
    }
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
