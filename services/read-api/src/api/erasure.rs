//! DELETE /api/v1/admin/analytics/users/{user_id}: forget a user. Their
//! events are deleted wherever they are kept with their id (the Redis logs
//! not yet flushed, the MySQL raw log, the live feed); the answer says how
//! many, and what stays (counts and unique-viewer registers, which hold no
//! user). The same as `flush-worker erase-user`.

use actix_web::{web, HttpResponse};
use analytics_store::erasure::{erase_user as erase, ErasureReport, ErasureStores, KEPT};
use analytics_store::HotCounters;
use serde::Serialize;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};

use analytics_runtime::http;

use super::parameters as doc;
use super::Routing;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

pub const USER: &str = "/api/v1/admin/analytics/users/{user_id}";

pub fn configure(cfg: &mut web::ServiceConfig, _: &Routing) {
    // Not cut at the read deadline: an erasure bounds each of its steps.
    cfg.service(http::resource(USER, "DELETE").route(web::delete().to(erase_user)));
}

/// This area's operations in the service's OpenAPI document, listed beside
/// the route table that serves them.
#[derive(utoipa::OpenApi)]
#[openapi(paths(erase_user))]
pub struct Api;

/// What an erasure deleted, and what stays.
#[derive(Serialize, ToSchema)]
pub struct Erased {
    user_id: String,
    /// Hex SHA-256 of the user id, as the erasure record keeps it.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    user_id_sha256: String,
    requested_by: String,
    #[schema(value_type = String, format = DateTime)]
    erased_at: chrono::DateTime<chrono::Utc>,
    events_erased: u64,
    erased: ErasedCounts,
    /// What stays, and why.
    kept: [&'static str; 3],
}

/// Rows and entries deleted, per store.
#[derive(Serialize, ToSchema)]
pub struct ErasedCounts {
    raw_log_rows: u64,
    filtered_rows: u64,
    waiting_events: u64,
    live_feed_samples: u64,
    live_viewer: bool,
}

/// The erasure's parameters.
pub struct EraseParams;

impl IntoParams for EraseParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            doc::user_id_path(),
            doc::id_query(
                "requested_by",
                "Who asked, for the audit trail (default: read-api).",
            ),
        ]
    }
}

/// Forget a user: delete their events from the raw log, the events not yet
/// flushed and the live feed, and record the erasure (by a SHA-256 of the
/// id). Idempotent; counts and unique-viewer registers, which hold no user,
/// stay.
#[utoipa::path(delete, path = USER, operation_id = "erase_user", params(EraseParams),
    security(("admin" = [])),
    responses((status = 200, body = Erased, description = "What was deleted, and what stays.")),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn erase_user(
    _: Admin,
    path: web::Path<String>,
    q: web::Query<Query>,
    state: web::Data<AppState>,
    counters: web::Data<HotCounters>,
) -> Result<HttpResponse, ReadApiError> {
    let user_id = params::user_id(&path)?;
    let requested_by = match q.get("requested_by") {
        Some(who) => params::id("requested_by", who)?,
        None => "read-api".to_string(),
    };
    let stores = ErasureStores {
        counters: &counters,
        catalogue: &state.catalogue,
        rollups: &state.rollups,
        step_timeout: state.query_timeout,
    };
    let report = erase(&stores, &user_id, &requested_by, state.erasure_wait)
        .await
        .map_err(|e| state.store_error(e))?;
    Ok(HttpResponse::Ok().json(body(&user_id, &report)))
}

fn body(user_id: &str, r: &ErasureReport) -> Erased {
    Erased {
        user_id: user_id.to_string(),
        user_id_sha256: r.user_id_sha256.clone(),
        requested_by: r.requested_by.clone(),
        erased_at: r.finished_at,
        events_erased: r.events_erased(),
        erased: ErasedCounts {
            raw_log_rows: r.raw_log_rows,
            filtered_rows: r.filtered_rows,
            waiting_events: r.waiting_events,
            live_feed_samples: r.live_feed_samples,
            live_viewer: r.live_viewer,
        },
        kept: KEPT,
    }
}
