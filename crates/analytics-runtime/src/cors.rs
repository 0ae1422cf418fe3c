//! CORS for routes that browsers call from other origins (beacons from the
//! site's pages, a page showing its own film's count). Only configured origins are answered; `*` allows any
//! origin and then credentials are never allowed (the browser would refuse
//! a wildcard with credentials, and a public ingest needs none).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::HttpResponse;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE_SECS: &str = "600";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowedOrigins {
    None,
    Any,
    List(Vec<String>),
}

impl AllowedOrigins {
    /// From the configured list: empty = none, `["*"]` = any. An entry
    /// must be an origin (`scheme://host[:port]`, no path); `key` names the
    /// config key in the error.
    pub fn parse(list: &[String], key: &str) -> Result<Self, crate::config::ConfigError> {
        if list.is_empty() {
            return Ok(AllowedOrigins::None);
        }
        if list.iter().any(|o| o == "*") {
            return Ok(AllowedOrigins::Any);
        }
        for origin in list {
            let ok = (origin.starts_with("https://") || origin.starts_with("http://"))
                && origin.split("://").nth(1).is_some_and(|rest| {
                    !rest.is_empty() && !rest.contains('/') && !rest.contains('*')
                });
            if !ok {
                return Err(crate::config::ConfigError::Invalid {
                    key: key.into(),
                    message: format!("{origin:?} is not an origin like https://example.com"),
                });
            }
        }
        Ok(AllowedOrigins::List(list.to_vec()))
    }

    /// The `Access-Control-Allow-Origin` value for a request's origin.
    fn allow(&self, origin: &str) -> Option<HeaderValue> {
        match self {
            AllowedOrigins::None => None,
            AllowedOrigins::Any => Some(HeaderValue::from_static("*")),
            AllowedOrigins::List(list) => list
                .iter()
                .any(|o| o.eq_ignore_ascii_case(origin))
                .then(|| HeaderValue::from_str(origin).ok())
                .flatten(),
        }
    }
}

/// How often a process logs a refused origin (the counter counts them all).
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

/// One service's CORS answer for a set of routes: the origins it allows,
/// the methods those routes take, and what it does with a refused origin.
/// A refused origin is the one clue a page's developer otherwise has only
/// in the browser console, so it is counted (`analytics_cors_refused_total`)
/// and logged once a minute with the key that would allow it.
pub struct Cors {
    origins: AllowedOrigins,
    methods: &'static str,
    /// The config key of `origins` (named in the log line).
    key: &'static str,
    refused: Counter,
    logged: Mutex<Option<Instant>>,
}

impl Cors {
    pub fn new(
        origins: AllowedOrigins,
        methods: &'static str,
        key: &'static str,
        refused: Counter,
    ) -> Self {
        Cors {
            origins,
            methods,
            key,
            refused,
            logged: Mutex::new(None),
        }
    }

    /// Registers the counter a service's [`Cors`] instances share.
    pub fn register_refusals(registry: &mut Registry) -> Counter {
        let refused = Counter::default();
        registry.register(
            "analytics_cors_refused",
            "Cross-origin requests (and preflights) from an origin not allowed",
            refused.clone(),
        );
        refused
    }

    fn refuse(&self, origin: &str) {
        self.refused.inc();
        let mut logged = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
        if logged.is_none_or(|at| at.elapsed() >= REFUSAL_LOG_EVERY) {
            *logged = Some(Instant::now());
            tracing::warn!(
                origin,
                key = self.key,
                "a page of an origin not allowed called this service: the browser hides \
                 the answer from it; add the origin to the key to allow it \
                 (logged once a minute, counted in analytics_cors_refused_total)"
            );
        }
    }
}

/// Whether `origin` is a service's own, the one `host` (the request's Host)
/// names: a page it served calling it back, not a cross-origin call.
pub fn is_own_origin(origin: &str, host: &str) -> bool {
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}

/// Middleware body (`middleware::from_fn`): answers preflights itself (a
/// preflight spends no rate-limit budget) and adds the allow-origin header
/// to the responses of allowed origins.
pub async fn handle(
    cors: Arc<Cors>,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let allowed = origin.as_deref().and_then(|o| cors.origins.allow(o));
    if let Some(o) = origin.as_deref() {
        if allowed.is_none() && !is_own_origin(o, req.connection_info().host()) {
            cors.refuse(o);
        }
    }
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = HttpResponse::NoContent();
        response.insert_header((header::VARY, "Origin"));
        if let Some(value) = allowed {
            response
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, value))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, cors.methods))
                .insert_header((
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    "content-type, content-encoding, authorization",
                ))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, PREFLIGHT_MAX_AGE_SECS));
        }
        return Ok(req.into_response(response.finish()).map_into_right_body());
    }
    let mut res = next.call(req).await?;
    if let Some(value) = allowed {
        let headers = res.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-analytics-duplicate, retry-after, x-request-id"),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_parse_and_match_exactly() {
        let list = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            AllowedOrigins::parse(&[], "k").ok(),
            Some(AllowedOrigins::None)
        );
        assert_eq!(
            AllowedOrigins::parse(&list(&["*"]), "k").ok(),
            Some(AllowedOrigins::Any)
        );
        let site = AllowedOrigins::parse(&list(&["https://movies.example"]), "k").expect("list");
        assert!(site.allow("https://movies.example").is_some());
        assert!(site.allow("https://evil.example").is_none());
        assert!(site.allow("https://movies.example.evil").is_none());
        for bad in [
            "movies.example",
            "https://a.example/path",
            "https://*.example",
        ] {
            assert!(AllowedOrigins::parse(&list(&[bad]), "k").is_err(), "{bad}");
        }
    }
}
