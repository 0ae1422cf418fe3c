//! DELETE /api/v1/admin/analytics/users/{user_id}: forget a user. Their
//! events are deleted wherever they are kept with their id (the Redis logs
//! not yet flushed, the MySQL raw log, the live feed); the answer says how
//! many, and what stays (counts and unique-viewer registers, which hold no
//! user). The same as `flush-worker erase-user`.

use actix_web::{web, HttpResponse};
use analytics_store::erasure::{erase_user as erase, ErasureReport, ErasureStores, KEPT};
use analytics_store::HotCounters;
use serde_json::json;

use analytics_runtime::http;

use super::Routing;
use crate::auth::Admin;
use crate::error::ReadApiError;
use crate::params::{self, Query};
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig, _: &Routing) {
    // Not cut at the read deadline: an erasure bounds each of its steps.
    cfg.service(
        http::resource("/api/v1/admin/analytics/users/{user_id}", "DELETE")
            .route(web::delete().to(erase_user)),
    );
}

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

fn body(user_id: &str, r: &ErasureReport) -> serde_json::Value {
    json!({
        "user_id": user_id,
        "user_id_sha256": r.user_id_sha256,
        "requested_by": r.requested_by,
        "erased_at": r.finished_at,
        "events_erased": r.events_erased(),
        "erased": {
            "raw_log_rows": r.raw_log_rows,
            "filtered_rows": r.filtered_rows,
            "waiting_events": r.waiting_events,
            "live_feed_samples": r.live_feed_samples,
            "live_viewer": r.live_viewer,
        },
        "kept": KEPT,
    })
}
