//! The routes, one module per area; each registers its own (`configure`).
//! Every GET is cut at `read_api.query_timeout_ms` with a 503, and a route
//! answers 405 with `Allow` to any other method.

pub mod actors;
pub mod counts;
pub mod discovery;
pub mod erasure;
pub mod health;
pub mod live;
pub mod parameters;
pub mod series;
pub mod snapshot;
pub mod top;
pub mod viewing;
pub mod words;

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{middleware, web, Resource};
use analytics_runtime::cors::Cors;
use analytics_runtime::http;
use analytics_runtime::rate_limit::ClientRateLimit;

/// What the route tables need besides the state: the read deadline, and
/// the public counts route's rate limit and CORS.
#[derive(Clone)]
pub struct Routing {
    pub query_timeout: Duration,
    pub retry_after: u64,
    pub counts_limit: ClientRateLimit,
    pub counts_cors: Arc<Cors>,
}

impl Routing {
    /// A GET route, answered 503 past the read deadline.
    pub fn get(
        &self,
        path: &str,
    ) -> Resource<
        impl ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<impl MessageBody>,
            Error = actix_web::Error,
            InitError = (),
        >,
    > {
        let (limit, retry_after) = (self.query_timeout, self.retry_after);
        http::resource(path, "GET").wrap(middleware::from_fn(move |req, next| {
            http::within_deadline(limit, retry_after, req, next)
        }))
    }
}

/// Every area's routes.
pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    top::configure(cfg, routes);
    series::configure(cfg, routes);
    snapshot::configure(cfg, routes);
    actors::configure(cfg, routes);
    discovery::configure(cfg, routes);
    viewing::configure(cfg, routes);
    live::configure(cfg, routes);
    counts::configure(cfg, routes);
    erasure::configure(cfg, routes);
    health::configure(cfg, routes);
}
