//! Readiness, on its own route and on the one the replaced video service's
//! consumers poll.

use actix_web::{web, HttpResponse};
use analytics_store::HotCounters;

use super::Routing;
use crate::AppState;

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(routes.get("/ready").route(web::get().to(ready)))
        // The replaced video service's health route: readiness, since its
        // consumers use it to tell whether metrics can be read.
        .service(
            routes
                .get("/api/metrics/health")
                .route(web::get().to(ready)),
        );
}

/// Ready when all three stores answer.
pub async fn ready(state: web::Data<AppState>, counters: web::Data<HotCounters>) -> HttpResponse {
    use analytics_runtime::http::ready_check;
    let (redis, mongo, mysql) = tokio::join!(
        ready_check("redis", counters.ping()),
        ready_check("mongodb", state.rollups.ping()),
        ready_check("mysql", state.catalogue.ping())
    );
    analytics_runtime::http::readiness(
        &[("redis", redis), ("mongo", mongo), ("mysql", mysql)],
        state.retry_after,
    )
}
