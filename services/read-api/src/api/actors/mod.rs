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

pub mod catalogue;
pub mod profile;
pub mod segments;

pub use catalogue::{overview, quality, suggest};
pub use profile::{insights, predict};
pub use segments::{association, distribution, trends};

use actix_web::{web, HttpResponse};
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::path::Parameter;
use utoipa::openapi::{ObjectBuilder, Type};
use utoipa::ToSchema;

use analytics_runtime::http;

use super::parameters::{choice, query};
use super::Routing;
use crate::api::words;
use crate::error::ReadApiError;
use crate::AppState;

pub const DISTRIBUTION: &str = "/api/v1/admin/analytics/actors/distribution";
pub const ASSOCIATION: &str = "/api/v1/admin/analytics/actors/association";
pub const OVERVIEW: &str = "/api/v1/admin/analytics/actors/overview";
pub const QUALITY: &str = "/api/v1/admin/analytics/actors/quality";
pub const SUGGEST: &str = "/api/v1/admin/analytics/actors/suggest";
pub const TRENDS: &str = "/api/v1/admin/analytics/actors/trends";
pub const INSIGHTS: &str = "/api/v1/admin/analytics/actors/insights";
pub const PREDICT: &str = "/api/v1/admin/analytics/actors/predict";

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    for (path, handler) in [
        (DISTRIBUTION, web::get().to(distribution)),
        (ASSOCIATION, web::get().to(association)),
        (OVERVIEW, web::get().to(overview)),
        (QUALITY, web::get().to(quality)),
        (SUGGEST, web::get().to(suggest)),
        (TRENDS, web::get().to(trends)),
        (INSIGHTS, web::get().to(insights)),
    ] {
        cfg.service(routes.get(path).route(handler));
    }
    cfg.service(http::resource(PREDICT, "POST").route(web::post().to(predict)));
}

/// This area's operations in the service's OpenAPI document, listed beside
/// the route table that serves them.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    profile::predict,
    segments::distribution,
    segments::association,
    catalogue::overview,
    catalogue::quality,
    catalogue::suggest,
    segments::trends,
    profile::insights
))]
pub struct Api;

/// An actor analysis as answered: its figures, when it was computed and
/// how old the actor–genre index behind it is.
#[derive(Serialize, ToSchema)]
pub struct Stamped<T> {
    #[serde(flatten)]
    analysis: T,
    /// `YYYY-MM-DD HH:MM:SS`, UTC.
    generated_at: String,
    /// When flush-worker refresh-catalogue-index last rebuilt the
    /// actor-genre index (null: never).
    index_refreshed_at: Option<String>,
}

/// `size`: how many, `default` unless given.
pub(super) fn size(default: i64) -> Parameter {
    let schema = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(30))
        .default(Some(json!(default)));
    query("size", schema, "How many.")
}

/// A text parameter of at most `MAX_TEXT` characters; required when the
/// route refuses to go without it.
pub(super) fn text(name: &str, description: &str, required: bool) -> Parameter {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_TEXT));
    let mut parameter = query(name, schema, description);
    if required {
        parameter.required = utoipa::openapi::Required::True;
    }
    parameter
}

/// A segmenting dimension.
pub(super) fn dimension(name: &str) -> Parameter {
    query(
        name,
        choice(words::DIMENSIONS),
        "Segment actors by age bucket (18-22, 23-27, 28-32, 33-37, 38+), blood type or birthplace (missing: unknown).",
    )
}

/// A genre and how many actors counted.
#[derive(Serialize, ToSchema)]
pub struct GenreCount {
    genre: String,
    count: i64,
}

/// A period (month or ISO week) and how many counted.
#[derive(Serialize, ToSchema)]
pub struct PeriodCount {
    period: String,
    count: i64,
}

/// Named counts as `make` shapes each.
pub(super) fn counted<T>(counts: &[(String, i64)], make: fn(String, i64) -> T) -> Vec<T> {
    counts
        .iter()
        .map(|(name, n)| make(name.clone(), *n))
        .collect()
}

pub(super) fn genre_count(genre: String, count: i64) -> GenreCount {
    GenreCount { genre, count }
}

pub(super) fn period_count(period: String, count: i64) -> PeriodCount {
    PeriodCount { period, count }
}

pub(super) const MAX_TEXT: usize = 120;
/// `suggest` answers with at most this many items.
pub(super) const MAX_SUGGESTIONS: i64 = 20;

/// `analysis` with its time and the index's age.
async fn stamp<T>(state: &AppState, analysis: T) -> Result<Stamped<T>, ReadApiError> {
    let run = state
        .catalogue
        .actor_index_run()
        .await
        .map_err(|e| state.store_error(e))?;
    Ok(Stamped {
        analysis,
        generated_at: chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        index_refreshed_at: run.map(|(at, _)| at),
    })
}

/// The answer under `key`: kept for `read_api.snapshot_cache_ms` (the
/// catalogue changes without telling us), computed once for every request
/// waiting on it, stamped with its time and the index's age.
pub(super) async fn serve<T, F, Fut>(
    state: &web::Data<AppState>,
    key: String,
    compute: F,
) -> Result<HttpResponse, ReadApiError>
where
    T: Serialize + Send + 'static,
    F: FnOnce(web::Data<AppState>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T, ReadApiError>> + Send + 'static,
{
    let owned = state.clone();
    let cached = state
        .catalogue_reports
        .get_or_compute(format!("actors|{key}"), move || async move {
            let analysis = compute(owned.clone()).await?;
            Ok::<_, ReadApiError>(json!(stamp(&owned, analysis).await?))
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
