//! The public display counts of one entity: the rollups' totals plus what
//! still waits in Redis, fresh to the second (rate limited per client and
//! answered cross-origin for the configured origins).

use std::time::Instant;

use actix_web::{middleware, web, HttpResponse};
use analytics_domain::rollup::Counts;
use analytics_domain::EntityKey;
use analytics_runtime::cors;
use analytics_runtime::rate_limit;
use analytics_store::HotCounters;
use serde_json::{json, Map, Value};

use super::Routing;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    let (limit, counts_cors) = (routes.counts_limit.clone(), routes.counts_cors.clone());
    cfg.service(
        routes
            .get("/api/v1/analytics/counts/{entity_type}/{entity_id}")
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

/// GET /api/v1/analytics/counts/{entity_type}/{entity_id} (public, rate
/// limited per client, served from memory for up to a second).
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
    let mut body = Map::new();
    body.insert("domain".into(), json!(entity.domain.as_str()));
    body.insert("entity_type".into(), json!(entity.entity_type));
    body.insert("entity_id".into(), json!(entity.entity_id));
    if let Value::Object(display) = json!(counts.display()) {
        body.extend(display);
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=1"))
        .json(Value::Object(body)))
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
