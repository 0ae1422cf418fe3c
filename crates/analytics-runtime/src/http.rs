//! The HTTP skeleton every service shares: one server setup (timeouts,
//! graceful shutdown), one request-metrics middleware, request ids, and the
//! handlers every service answers the same way (`/health`, readiness,
//! `/metrics`, 404, 405).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{self, Condition, Next};
use actix_web::{web, App, HttpResponse, HttpServer, Resource};
use analytics_store::StoreError;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde_json::json;
use tracing_actix_web::{DefaultRootSpanBuilder, TracingLogger};

use crate::error::retry_after;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled (from its `X-Request-Id`, or made
/// up for it); outside a request, a fresh one.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| new_request_id())
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A caller's request id is kept if it is short and printable.
fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let id = req.headers().get("x-request-id")?.to_str().ok()?.trim();
    let ok = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| id.to_string())
}

type RouteLabels = Vec<(&'static str, String)>;

/// `analytics_http_request_duration_seconds{route, method, status}`: one
/// histogram per service for every route (its `_count` is the requests).
/// `route` is the route's pattern (`/x/{id}`), never the raw path, so the
/// label stays bounded. [`serve`] registers it.
#[derive(Clone)]
struct RequestMetrics {
    duration: Family<RouteLabels, Histogram>,
}

impl RequestMetrics {
    fn register(registry: &mut Registry) -> Self {
        let duration: Family<RouteLabels, Histogram> =
            Family::new_with_constructor(|| Histogram::new(crate::metrics::latency_buckets()));
        registry.register(
            "analytics_http_request_duration_seconds",
            "HTTP request latency by route pattern, method and status",
            duration.clone(),
        );
        RequestMetrics { duration }
    }

    fn observe(&self, route: String, method: &str, status: u16, seconds: f64) {
        self.duration
            .get_or_create(&vec![
                ("route", route),
                ("method", method.to_string()),
                ("status", status.to_string()),
            ])
            .observe(seconds);
    }
}

/// Gives the request an id (kept in a task-local for error responses and
/// echoed as `X-Request-Id`) and records its latency.
async fn observe_request(
    metrics: RequestMetrics,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_string();
    let id = incoming_request_id(&req).unwrap_or_else(new_request_id);
    let mut res = REQUEST_ID.scope(id.clone(), next.call(req)).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    metrics.observe(
        route,
        &method,
        res.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    Ok(res)
}

/// One span per request (method, route, status; a caller's `traceparent`
/// continues its trace) when traces are exported; otherwise no middleware at
/// all, so the hot path pays nothing for spans nobody collects.
pub fn request_traces() -> Condition<TracingLogger<DefaultRootSpanBuilder>> {
    Condition::new(
        crate::logging::traces_configured(),
        TracingLogger::default(),
    )
}

/// How a service's server runs.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_timeout: Duration,
    /// How long a client may take to send a request's head.
    pub head_timeout: Duration,
}

/// What a service describes of itself to [`serve`].
pub struct ServiceMeta {
    /// Its metrics (the request metrics are added here).
    pub registry: Registry,
    /// Its OpenAPI document, served at `/openapi.json`.
    pub openapi: serde_json::Value,
}

/// A bound, not yet awaited service: `main` awaits `server`; tests read
/// `port` and spawn it.
pub struct Application {
    pub port: u16,
    pub server: Server,
}

/// Binds `addr` and runs a service: `routes` registers its own resources
/// (it runs once per worker, so per-worker state such as store connections
/// belongs there); `/health`, `/metrics`, `/openapi.json`, the `/docs/`
/// page on it, request ids,
/// request metrics, traces and the JSON 404 come with it. On SIGTERM the
/// server stops accepting, lets in-flight requests finish, and only then do
/// the workers (and what they own) stop.
pub fn serve<F>(
    addr: SocketAddr,
    options: ServeOptions,
    meta: ServiceMeta,
    routes: F,
) -> std::io::Result<Application>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    let ServiceMeta {
        mut registry,
        openapi,
    } = meta;
    let metrics = RequestMetrics::register(&mut registry);
    let registry = Arc::new(registry);
    let openapi = Arc::new(openapi);
    let docs = Arc::new(crate::assets::Assets::docs());
    let listener = TcpListener::bind(addr)?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        let metrics = metrics.clone();
        let (registry, openapi, docs) = (registry.clone(), openapi.clone(), docs.clone());
        App::new()
            .wrap(request_traces())
            .wrap(middleware::from_fn(move |req, next| {
                observe_request(metrics.clone(), req, next)
            }))
            .configure(routes.clone())
            .configure(|cfg| docs.configure(cfg))
            .service(resource("/health", "GET").route(web::get().to(health)))
            .service(resource("/metrics", "GET").route(web::get().to(move || {
                let registry = registry.clone();
                async move { metrics_response(&registry) }
            })))
            .service(
                resource("/openapi.json", "GET").route(web::get().to(move || {
                    let openapi = openapi.clone();
                    // Public and without credentials: readable by any
                    // page (API explorers, code generators in a browser).
                    async move {
                        HttpResponse::Ok()
                            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
                            .json(openapi.as_ref())
                    }
                })),
            )
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    .client_request_timeout(options.head_timeout)
    .shutdown_timeout(options.shutdown_timeout.as_secs())
    .run();
    Ok(Application { port, server })
}

/// A resource that answers 405 with `Allow` to the methods it has no route for.
pub fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move || async move {
        HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, allow))
            .json(json!({"message": format!("Method Not Allowed: use {allow}.")}))
    }))
}

/// `GET /health`: the process is alive (readiness is per service).
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /metrics` body of a service's registry.
fn metrics_response(registry: &Registry) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .body(crate::metrics::render(registry))
}

/// Any unknown route: a JSON 404 like every other error.
pub async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"message": "Not Found."}))
}

/// A request that ran past its route's deadline: a store that stopped
/// answering without closing its sockets must cost a client a bounded
/// wait and a 503 it can retry, not a hung request.
#[derive(Debug, thiserror::Error)]
#[error("A store did not answer within {millis} ms; retry later.")]
pub struct PastDeadline {
    millis: u128,
    retry_after: u64,
}

impl crate::error::ServiceError for PastDeadline {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::Unavailable
    }

    fn headers(&self) -> Vec<(header::HeaderName, HeaderValue)> {
        vec![retry_after(self.retry_after)]
    }
}

crate::service_error_response!(PastDeadline);

/// Middleware bounding a read route's handler to `limit` (wrap it with
/// `middleware::from_fn`); past it the handler is dropped — it only reads —
/// and the answer is a 503 with `Retry-After`.
pub async fn within_deadline(
    limit: Duration,
    retry_after_secs: u64,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(response) => response,
        Err(_) => Err(PastDeadline {
            millis: limit.as_millis(),
            retry_after: retry_after_secs,
        }
        .into()),
    }
}

/// How long a readiness check may take: a probe (a load balancer, the
/// kubelet) must hear within a second, whatever a store is doing.
pub const READY_CHECK_TIMEOUT: Duration = Duration::from_millis(800);

/// One store check of `/ready`, cut off at [`READY_CHECK_TIMEOUT`] (a
/// frozen store is unavailable, not a hung probe).
pub async fn ready_check(
    store: &'static str,
    check: impl std::future::Future<Output = Result<(), StoreError>>,
) -> Result<(), StoreError> {
    match tokio::time::timeout(READY_CHECK_TIMEOUT, check).await {
        Ok(result) => result,
        Err(_) => Err(StoreError::Timeout {
            store,
            millis: READY_CHECK_TIMEOUT.as_millis(),
        }),
    }
}

/// `GET /ready`: 200 when every named store check passed, else 503 with
/// `Retry-After`. The body says which store failed, never how to reach it
/// (driver errors name hosts and ports); the detail goes to the log.
pub fn readiness(checks: &[(&str, Result<(), StoreError>)], retry_after_secs: u64) -> HttpResponse {
    let mut outcome = serde_json::Map::new();
    for (name, result) in checks {
        let state = match result {
            Ok(()) => "ok",
            Err(e) => {
                tracing::warn!(store = name, error = %e, "not ready");
                if e.is_refusal() {
                    "refuses writes"
                } else if e.is_unavailable() {
                    "unavailable"
                } else {
                    "failing"
                }
            }
        };
        outcome.insert(name.to_string(), json!(state));
    }
    if checks.iter().all(|(_, r)| r.is_ok()) {
        HttpResponse::Ok().json(json!({"status": "ready", "checks": outcome}))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(retry_after(retry_after_secs))
            .json(json!({"status": "unavailable", "checks": outcome}))
    }
}
