//! read-api: what admins read (top lists, entity series, trends) and the
//! public display counts, from the rollups plus what still waits in Redis.

pub mod auth;
pub mod error;
pub mod openapi;
pub mod params;
pub mod routes;
pub mod settings;

use std::net::TcpListener;
use std::time::Instant;

use actix_web::dev::{Server, Service};
use actix_web::{web, App, HttpServer};
use analytics_domain::EventRules;
use analytics_store::{CatalogueStore, HotCounters, RollupStore, StoreError};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::ReadApiError;
pub use crate::settings::Settings;
pub use actix_web::dev::ServerHandle;

type Labels = Vec<(&'static str, String)>;

pub struct AppState {
    pub rules: EventRules,
    pub rollups: RollupStore,
    pub catalogue: CatalogueStore,
    pub counters: HotCounters,
    pub admin_token: String,
    pub retry_after: u64,
    pub max_series_points: usize,
    pub registry: Registry,
}

impl AppState {
    /// Any store failure is an outage to the caller: 503, logged here.
    pub fn unavailable(&self, source: StoreError) -> ReadApiError {
        tracing::warn!(error = %source, "store unavailable");
        ReadApiError::StoreUnavailable {
            retry_after: self.retry_after,
            source,
        }
    }
}

pub struct Application {
    pub port: u16,
    pub server: Server,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let addr = settings.read_api.validate()?;
        let stores = &settings.stores;
        let rollups = RollupStore::connect(&stores.mongo_settings()?).await?;
        let catalogue = CatalogueStore::connect(&stores.mysql_settings()?).await?;
        let counters = HotCounters::new(&stores.redis_settings()?, stores.key_space()?)?;
        let mut registry = Registry::default();
        let latency: Family<Labels, Histogram> = Family::new_with_constructor(|| {
            Histogram::new(analytics_runtime::metrics::latency_buckets())
        });
        registry.register(
            "analytics_read_request_duration_seconds",
            "read-api request latency by route and HTTP status",
            latency.clone(),
        );
        let state = web::Data::new(AppState {
            rules: stores.event_rules()?,
            rollups,
            catalogue,
            counters,
            admin_token: settings.read_api.admin_token.clone(),
            retry_after: settings.read_api.retry_after_seconds,
            max_series_points: settings.read_api.max_series_points,
            registry,
        });
        let listener = TcpListener::bind(addr)?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            let latency = latency.clone();
            App::new()
                .wrap(analytics_runtime::http::request_traces())
                .app_data(state.clone())
                .wrap_fn(move |req, srv| {
                    // The route pattern, not the raw path: a bounded label.
                    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
                    let started = Instant::now();
                    let latency = latency.clone();
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await?;
                        latency
                            .get_or_create(&vec![
                                ("route", route),
                                ("status", res.status().as_u16().to_string()),
                            ])
                            .observe(started.elapsed().as_secs_f64());
                        Ok(res)
                    }
                })
                .route("/api/v1/admin/analytics/top", web::get().to(routes::top))
                .route(
                    "/api/v1/admin/analytics/entities/{entity_type}/{entity_id}",
                    web::get().to(routes::entity),
                )
                .route(
                    "/api/v1/admin/analytics/trends",
                    web::get().to(routes::trends),
                )
                .route(
                    "/api/v1/analytics/counts/{entity_type}/{entity_id}",
                    web::get().to(routes::counts),
                )
                .route("/health", web::get().to(analytics_runtime::http::health))
                .route("/ready", web::get().to(routes::ready))
                .route("/metrics", web::get().to(routes::metrics))
                .route("/openapi.json", web::get().to(routes::openapi))
                .default_service(web::to(analytics_runtime::http::not_found))
        })
        .listen(listener)?
        .shutdown_timeout(settings.read_api.shutdown_timeout_seconds)
        .run();
        Ok(Application { port, server })
    }
}
