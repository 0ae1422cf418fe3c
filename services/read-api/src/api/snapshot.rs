//! The admin analytics snapshot: the catalogue's growth, engagement, top
//! lists, data quality and sync queue, for the last 7, 14, 30 or 90 days.
//! Read from the MySQL catalogue (the top viewed and downloaded lists from
//! the replicas the flush keeps there) and kept per period for
//! `read_api.snapshot_cache_ms`, so a refresh storm costs one computation.

use actix_web::{web, HttpResponse};
use analytics_domain::snapshot::{
    Snapshot, SnapshotClock, DEFAULT_SNAPSHOT_DAYS, SNAPSHOT_DAYS, TOP_LIST_SIZE,
};
use analytics_domain::vocabulary::CATALOGUE_DOMAIN;
use analytics_domain::Domain;
use serde_json::{json, Value};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::{ObjectBuilder, Type};
use utoipa::IntoParams;

use super::parameters::query;
use super::Routing;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

pub const SNAPSHOT: &str = "/api/v1/admin/analytics/snapshot";

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(routes.get(SNAPSHOT).route(web::get().to(snapshot)));
}

/// This area's operations in the service's OpenAPI document, listed beside
/// the route table that serves them.
#[derive(utoipa::OpenApi)]
#[openapi(paths(snapshot))]
pub struct Api;

/// The snapshot's parameter.
pub struct SnapshotParams;

impl IntoParams for SnapshotParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let days = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .enum_values(Some(SNAPSHOT_DAYS))
            .default(Some(json!(DEFAULT_SNAPSHOT_DAYS)));
        vec![query("days", days, "Window ending today.")]
    }
}

/// The catalogue at a glance: growth per day and provider, engagement, top
/// lists, data quality, sync queue (days counted in the catalogue domain's
/// zone).
#[utoipa::path(get, path = SNAPSHOT, operation_id = "snapshot", params(SnapshotParams),
    security(("admin" = [])),
    responses((status = 200, body = Snapshot, description = "The snapshot (kept for read_api.snapshot_cache_ms per period).")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn snapshot(
    _: Admin,
    q: web::Query<Query>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let options: Vec<(String, i64)> = SNAPSHOT_DAYS.iter().map(|d| (d.to_string(), *d)).collect();
    let options: Vec<(&str, i64)> = options.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let days = params::choice(&q, "days", &options, DEFAULT_SNAPSHOT_DAYS)?;
    let owned = state.clone();
    let cached = state
        .catalogue_reports
        .get_or_compute(format!("snapshot|{days}"), move || async move {
            compute(&owned, days).await
        })
        .await?;
    let mut response = HttpResponse::Ok().json(&cached.body);
    cached.stamp(&mut response);
    Ok(response)
}

async fn compute(state: &AppState, days: i64) -> Result<Value, ReadApiError> {
    let mode = Domain::new(CATALOGUE_DOMAIN)
        .map(|d| state.rules.bucket_mode(&d))
        .unwrap_or_default();
    let now = chrono::Utc::now();
    let clock = SnapshotClock::at(&mode, now, usize::try_from(days).unwrap_or(1));
    let facts = state
        .catalogue
        .snapshot_facts(&clock.day_starts, now.timestamp(), TOP_LIST_SIZE)
        .await
        .map_err(|e| state.store_error(e))?;
    Ok(serde_json::to_value(Snapshot::build(clock, facts)).unwrap_or(Value::Null))
}
