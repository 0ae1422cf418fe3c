//! Viewing analytics, on the routes and payloads the player and viewing
//! service producers' users already read: popular content, one film's
//! metrics, one user's statistics, daily trends and peak hours. Ranges are
//! local days of the domain's zone, ending today unless given; figures are
//! as of the last flush.
//!
//! Popular content, one film's and one user's figures, and the site's days
//! and hours each have a module.

mod metrics;
mod popular;
mod site;

use actix_web::web;

use super::Routing;

pub use metrics::{user_stats, video_metrics};
pub use popular::{popular, POPULAR_COLUMNS};
pub use site::{peak_hours, viewing_trends, PEAK_COLUMNS, TREND_COLUMNS};

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(
        routes
            .get("/api/v1/analytics/content/popular")
            .route(web::get().to(popular)),
    )
    .service(
        routes
            .get("/api/metrics/video/{video_id}")
            .route(web::get().to(video_metrics)),
    )
    .service(
        routes
            .get("/api/v1/analytics/user/{user_id}/stats")
            .route(web::get().to(user_stats)),
    )
    .service(
        routes
            .get("/api/v1/analytics/trends")
            .route(web::get().to(viewing_trends)),
    )
    .service(
        routes
            .get("/api/v1/analytics/peak-hours")
            .route(web::get().to(peak_hours)),
    );
}

/// Two decimals, as the payloads carry ratios.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
