//! Viewing analytics, on the routes and payloads the player and viewing
//! service producers' users already read: popular content, one film's
//! metrics, one user's statistics, daily trends and peak hours. Ranges are
//! local days of the domain's zone, ending today unless given; figures are
//! as of the last flush.
//!
//! Popular content, one film's and one user's figures, and the site's days
//! and hours each have a module.

pub mod metrics;
pub mod popular;
pub mod site;

use actix_web::web;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::IntoParams;

use super::parameters as doc;
use super::Routing;

pub use metrics::{user_stats, video_metrics};
pub use popular::{popular, POPULAR_COLUMNS};
pub use site::{peak_hours, viewing_trends, PEAK_COLUMNS, TREND_COLUMNS};

pub const POPULAR: &str = "/api/v1/analytics/content/popular";
pub const VIDEO: &str = "/api/metrics/video/{video_id}";
pub const USER_STATS: &str = "/api/v1/analytics/user/{user_id}/stats";
pub const TRENDS: &str = "/api/v1/analytics/trends";
pub const PEAK_HOURS: &str = "/api/v1/analytics/peak-hours";

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(routes.get(POPULAR).route(web::get().to(popular)))
        .service(routes.get(VIDEO).route(web::get().to(video_metrics)))
        .service(routes.get(USER_STATS).route(web::get().to(user_stats)))
        .service(routes.get(TRENDS).route(web::get().to(viewing_trends)))
        .service(routes.get(PEAK_HOURS).route(web::get().to(peak_hours)));
}

/// This area's operations in the service's OpenAPI document, listed beside
/// the route table that serves them.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    popular::popular,
    metrics::video_metrics,
    metrics::user_stats,
    site::viewing_trends,
    site::peak_hours
))]
pub struct Api;

/// The site reports' parameters: a range of local days (default the last
/// seven), the domain, the format.
pub struct SiteReportParams;

impl IntoParams for SiteReportParams {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = doc::range("from", "to", 7);
        params.extend([doc::domain(), doc::format()]);
        params
    }
}

/// Two decimals, as the payloads carry ratios.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
