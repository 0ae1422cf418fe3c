//! Search and recommendation analytics: what people search for (and find
//! nothing for), searches per day, and how recommendations fare by where
//! and why they were shown. Queries come from the rollups (a search's
//! query is an entity), as do the movies clicked most from recommendations;
//! recommendations by placement and reason from the raw event log, the only
//! place those fields are kept.

pub mod recommendations;
pub mod search;

use actix_web::web;
use analytics_domain::viewing::ratio;
use utoipa::openapi::path::Parameter;

pub use recommendations::{
    clicked_movies, recommendations, CLICKED_COLUMNS, RECOMMENDATION_COLUMNS,
};
pub use search::{search_daily, search_queries, QUERY_COLUMNS, SEARCH_DAY_COLUMNS};

use super::parameters as doc;
use super::Routing;

pub const SEARCH_QUERIES: &str = "/api/v1/admin/analytics/search/queries";
pub const SEARCH_DAILY: &str = "/api/v1/admin/analytics/search/daily";
pub const RECOMMENDATIONS: &str = "/api/v1/admin/analytics/recommendations";
pub const RECOMMENDED_MOVIES: &str = "/api/v1/admin/analytics/recommendations/movies";

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(
        routes
            .get(SEARCH_QUERIES)
            .route(web::get().to(search_queries)),
    )
    .service(routes.get(SEARCH_DAILY).route(web::get().to(search_daily)))
    .service(
        routes
            .get(RECOMMENDATIONS)
            .route(web::get().to(recommendations)),
    )
    .service(
        routes
            .get(RECOMMENDED_MOVIES)
            .route(web::get().to(clicked_movies)),
    );
}

/// This area's operations in the service's OpenAPI document, listed beside
/// the route table that serves them.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    search::search_queries,
    search::search_daily,
    recommendations::recommendations,
    recommendations::clicked_movies
))]
pub struct Api;

/// A ranked list report's parameters: the range, the domain, how many,
/// any `sort`, the format.
pub(super) fn ranked_params(sort: Option<Parameter>) -> Vec<Parameter> {
    let mut params = doc::range("from", "to", 7);
    params.extend([doc::domain(), doc::limit()]);
    params.extend(sort);
    params.push(doc::format());
    params
}

/// Clicks ÷ impressions, 4 decimals (0 without impressions).
pub(super) fn ctr(clicks: i64, impressions: i64) -> f64 {
    (ratio(clicks, impressions) * 10_000.0).round() / 10_000.0
}
