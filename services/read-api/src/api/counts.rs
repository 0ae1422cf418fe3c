//! The public display counts of one entity: the rollups' totals plus what
//! still waits in Redis, fresh to the second (rate limited per client and
//! answered cross-origin for the configured origins).

use std::time::Instant;

use actix_web::{middleware, web, HttpResponse};
use analytics_domain::rollup::{Counts, DisplayCounts};
use analytics_domain::{EntityKey, EntityType};
use analytics_runtime::cors;
use analytics_runtime::rate_limit;
use analytics_store::HotCounters;
use serde::Serialize;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use super::parameters as doc;
use super::Routing;
use crate::api::words;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

pub const COUNTS: &str = "/api/v1/analytics/counts/{entity_type}/{entity_id}";

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    let (limit, counts_cors) = (routes.counts_limit.clone(), routes.counts_cors.clone());
    cfg.service(
        routes
            .get(COUNTS)
            .wrap(middleware::from_fn(move |req, next| {
                rate_limit::enforce(limit.clone(), req, next)
            }))
            // Outermost, as on ingest: a preflight spends no budget.
            .wrap(middleware::from_fn(move |req, next| {
                cors::handle(counts_cors.clone(), req, next)
            }))
            .route(web::get().to(counts)),
    );
}

/// This area's operations in the service's OpenAPI document, listed beside
/// the route table that serves them.
#[derive(utoipa::OpenApi)]
#[openapi(paths(counts))]
pub struct Api;

/// The figures a page shows beside an entity.
#[derive(Serialize, ToSchema)]
pub struct EntityCounts {
    domain: String,
    #[schema(schema_with = words::entity_type)]
    entity_type: EntityType,
    entity_id: String,
    #[serde(flatten)]
    figures: DisplayCounts,
}

/// The counts route's parameters.
pub struct CountsParams;

impl IntoParams for CountsParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            doc::entity_type_path(),
            doc::entity_id_path(),
            doc::domain(),
        ]
    }
}

/// Public display counts, including increments not yet flushed (rate
/// limited per client; up to a second old).
#[utoipa::path(get, path = COUNTS, operation_id = "display_counts", params(CountsParams),
    responses((status = 200, body = EntityCounts, description = "The figures a page shows beside the entity: views and downloads, net likes (likes − unlikes), favorites, net watchlist entries, ratings and their average (null before the first). Fresh to the second, unflushed events included.")),
    extensions(("x-errors" = json!([422, 429, 500, 503]))))]
pub async fn counts(
    path: web::Path<(String, String)>,
    q: web::Query<Query>,
    state: web::Data<AppState>,
    counters: web::Data<HotCounters>,
) -> Result<HttpResponse, ReadApiError> {
    let entity = params::entity(path.into_inner(), &q, &state.rules)?;
    let now = Instant::now();
    let counts = match state.counts_cache.get(&entity, now) {
        Some(counts) => counts,
        None => {
            let counts = fresh_counts(&state, &counters, &entity).await?;
            state.counts_cache.put(&entity, counts.clone(), now);
            counts
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=1"))
        .json(EntityCounts {
            domain: entity.domain.as_str().to_string(),
            entity_type: entity.entity_type,
            entity_id: entity.entity_id.clone(),
            figures: counts.display(),
        }))
}

/// Mongo totals plus what still waits in Redis: fresh counter keys, and
/// open batches the ledger does not have yet (a batch already applied but
/// not yet deleted is in the totals). Redis is read first, so a flush
/// finishing in between can make one read low by that batch, never high.
async fn fresh_counts(
    state: &AppState,
    counters: &HotCounters,
    entity: &EntityKey,
) -> Result<Counts, ReadApiError> {
    let pending = counters
        .pending(entity)
        .await
        .map_err(|e| state.store_error(e))?;
    let mut counts = state.totals(entity).await?;
    let open: Vec<String> = pending
        .in_batches
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    let applied = state
        .rollups
        .applied_batches(&open)
        .await
        .map_err(|e| state.store_error(e))?;
    // Counts and sums (the stars behind the average rating) alike.
    counts.merge(&pending.fresh);
    for (id, batch) in &pending.in_batches {
        if !applied.contains(id) {
            counts.merge(batch);
        }
    }
    Ok(counts)
}
