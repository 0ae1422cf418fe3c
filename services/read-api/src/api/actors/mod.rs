//! Actor segment analytics for the admin pages: how a genre's actors are
//! spread over ages, blood types and birthplaces (distribution), which
//! genres a segment plays in (association), how segments grew (trends),
//! which genres a profile predicts (predict), the actor catalogue at a
//! glance (overview), how complete its profiles are (quality), what to offer
//! in a search box (suggest) and one actor in depth (insights). Parameters,
//! messages, payloads and the 4-decimal ratios are the ones the admin pages
//! were built against; the counting is SQL over `actors` and the actor–genre
//! index (`flush-worker refresh-catalogue-index`), whose age every answer
//! carries.

mod catalogue;
mod profile;
mod segments;

pub use catalogue::{overview, quality, suggest};
pub use profile::{insights, predict};
pub use segments::{association, distribution, trends};

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use analytics_runtime::http;

use super::Routing;
use crate::error::ReadApiError;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    for (path, handler) in [
        ("distribution", web::get().to(distribution)),
        ("association", web::get().to(association)),
        ("overview", web::get().to(overview)),
        ("quality", web::get().to(quality)),
        ("suggest", web::get().to(suggest)),
        ("trends", web::get().to(trends)),
        ("insights", web::get().to(insights)),
    ] {
        cfg.service(
            routes
                .get(&format!("/api/v1/admin/analytics/actors/{path}"))
                .route(handler),
        );
    }
    cfg.service(
        http::resource("/api/v1/admin/analytics/actors/predict", "POST")
            .route(web::post().to(predict)),
    );
}

pub(super) const MAX_TEXT: usize = 120;
/// `suggest` answers with at most this many items.
pub(super) const MAX_SUGGESTIONS: i64 = 20;

/// `generated_at` and the index's age, which every answer carries.
pub(super) async fn stamp(
    state: &AppState,
    body: &mut Map<String, Value>,
) -> Result<(), ReadApiError> {
    let run = state
        .catalogue
        .actor_index_run()
        .await
        .map_err(|e| state.store_error(e))?;
    body.insert(
        "generated_at".into(),
        json!(chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()),
    );
    body.insert("index_refreshed_at".into(), json!(run.map(|(at, _)| at)));
    Ok(())
}

/// The answer under `key`: kept for `read_api.snapshot_cache_ms` (the
/// catalogue changes without telling us), computed once for every request
/// waiting on it, stamped with its time and the index's age.
pub(super) async fn serve<F, Fut>(
    state: &web::Data<AppState>,
    key: String,
    compute: F,
) -> Result<HttpResponse, ReadApiError>
where
    F: FnOnce(web::Data<AppState>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Value, ReadApiError>> + Send + 'static,
{
    let owned = state.clone();
    let cached = state
        .catalogue_reports
        .get_or_compute(format!("actors|{key}"), move || async move {
            let mut body = match compute(owned.clone()).await? {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            stamp(&owned, &mut body).await?;
            Ok::<_, ReadApiError>(Value::Object(body))
        })
        .await?;
    let mut response = HttpResponse::Ok().json(&cached.body);
    cached.stamp(&mut response);
    Ok(response)
}

/// Most counted first; equal counts by key, so the order is stable.
pub(super) fn most_first(counts: &mut [(String, i64)]) {
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
}

/// `[{<key>: name, count}]` of named counts.
pub(super) fn counted(counts: &[(String, i64)], key: &str) -> Vec<Value> {
    counts
        .iter()
        .map(|(name, n)| json!({key: name, "count": n}))
        .collect()
}
