//! Realtime metrics and the live feed. One task per process reads Redis
//! once a second — the realtime metrics and the events ingest sampled —
//! and broadcasts them to every WebSocket client, so a thousand clients
//! cost the stores what one does. A client that falls behind the broadcast
//! or does not take a message within [`SEND_TIMEOUT`] is dropped: nothing
//! is buffered for it beyond the broadcast's fixed capacity.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message};
use analytics_domain::realtime::RealtimeMetrics;
use analytics_runtime::auth::check_bearer;
use analytics_store::HotCounters;
use futures_util::StreamExt;
use prometheus_client::metrics::gauge::Gauge;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::Routing;
use crate::error::ReadApiError;
use crate::AppState;

pub const REALTIME: &str = "/api/metrics/realtime";
pub const LIVE: &str = "/api/v1/admin/analytics/live";
/// The live feed at the video player dashboard's address.
pub const PLAYER_LIVE: &str = "/ws";

pub fn configure(cfg: &mut web::ServiceConfig, routes: &Routing) {
    cfg.service(routes.get(REALTIME).route(web::get().to(realtime)))
        .service(routes.get(PLAYER_LIVE).route(web::get().to(connect)))
        .service(routes.get(LIVE).route(web::get().to(connect)));
}

/// This area's operations in the service's OpenAPI document, listed beside
/// the route table that serves them.
#[derive(utoipa::OpenApi)]
#[openapi(paths(realtime, connect))]
pub struct Api;

/// Messages a client may be behind before it is dropped: five seconds of
/// the busiest feed (a second's burst must fit, or a healthy client that
/// was not scheduled during it would count as behind). Shared by all
/// clients, not per client.
const BROADCAST_CAPACITY: usize = 5 * (FEED_PER_SECOND + 1);
/// How long one message may wait for a slow client.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(2);
/// Sampled events read from the feed per second at most.
const FEED_PER_SECOND: usize = 200;
/// The subprotocol a browser offers (with `bearer.<token>`, since a
/// browser cannot set an Authorization header on a WebSocket).
pub const SUBPROTOCOL: &str = "analytics.v1";

/// The realtime metrics now (one Redis round trip).
pub async fn realtime_now(
    counters: &HotCounters,
    viewer_window: i64,
) -> Result<RealtimeMetrics, analytics_store::StoreError> {
    let now = chrono::Utc::now().timestamp();
    let window = counters.live_window(now, viewer_window).await?;
    Ok(RealtimeMetrics::of(
        &window.seconds,
        now,
        window.concurrent_viewers,
        viewer_window,
    ))
}

/// Realtime metrics, read from Redis at the request: viewers with a
/// playback event in the window, accepted events per second (last 10
/// complete seconds), refused ÷ received and player errors ÷ player events
/// over the last minute.
#[utoipa::path(get, path = REALTIME, operation_id = "realtime_metrics",
    security(("admin" = [])),
    responses((status = 200, body = RealtimeMetrics, description = "The figures and the second they are as of.")),
    extensions(("x-errors" = json!([401, 403, 500, 503]))))]
pub async fn realtime(
    _: crate::auth::Admin,
    state: web::Data<AppState>,
    counters: web::Data<HotCounters>,
) -> Result<HttpResponse, ReadApiError> {
    let metrics = realtime_now(&counters, state.live.viewer_window)
        .await
        .map_err(|e| state.store_error(e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(metrics))
}

/// The process's broadcast of realtime metrics and sampled events.
pub struct LiveHub {
    sender: broadcast::Sender<String>,
    pub viewer_window: i64,
    pub max_connections: i64,
    pub connections: Gauge,
    /// Page origins besides read-api's own that may open the feed
    /// (`read_api.live_allowed_origins`).
    pub allowed_origins: Vec<String>,
}

impl LiveHub {
    pub fn new(
        viewer_window: i64,
        max_connections: i64,
        connections: Gauge,
        allowed_origins: Vec<String>,
    ) -> Self {
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        LiveHub {
            sender,
            viewer_window,
            max_connections,
            connections,
            allowed_origins,
        }
    }

    /// Whether a page of this origin may open the feed. Browsers send
    /// `Origin` on every WebSocket upgrade and, unlike fetch, apply no
    /// CORS to it: without this check any page a signed-in admin visits
    /// could read the feed with the token the dashboard stores. A client
    /// that sends no `Origin` is not a browser page (the token is still
    /// required). read-api's own pages (the dashboard) are always allowed.
    pub fn origin_allowed(&self, req: &HttpRequest) -> bool {
        let Some(origin) = req.headers().get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        analytics_runtime::cors::is_own_origin(origin, req.connection_info().host())
            || self
                .allowed_origins
                .iter()
                .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }

    /// Starts the once-a-second broadcast (idle while nobody listens).
    pub fn spawn(self: &Arc<Self>, counters: HotCounters) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("no runtime: the live feed does not run");
            return;
        };
        let hub = self.clone();
        runtime.spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut cursor: Option<String> = None;
            loop {
                every.tick().await;
                if hub.sender.receiver_count() == 0 {
                    // A new listener starts from the feed's newest event.
                    cursor = None;
                    continue;
                }
                if let Err(e) = hub.broadcast_once(&counters, &mut cursor).await {
                    tracing::warn!(error = %e, "live feed: Redis did not answer this second");
                }
            }
        });
    }

    async fn broadcast_once(
        &self,
        counters: &HotCounters,
        cursor: &mut Option<String>,
    ) -> Result<(), analytics_store::StoreError> {
        let metrics = realtime_now(counters, self.viewer_window).await?;
        let _ = self
            .sender
            .send(json!({"type": "realtime_metrics", "payload": metrics}).to_string());
        let (next, events) = counters
            .live_feed_after(cursor.as_deref(), FEED_PER_SECOND)
            .await?;
        *cursor = Some(next);
        // Each second's events in the order they happened (a replayed
        // batch arrives after newer events; pages keep the latest ones).
        let mut events: Vec<Value> = events
            .iter()
            .map(|e| serde_json::from_str(e).unwrap_or(Value::Null))
            .collect();
        events.sort_by_key(occurred_at);
        for payload in events {
            let _ = self
                .sender
                .send(json!({"type": "analytics_event", "payload": payload}).to_string());
        }
        Ok(())
    }
}

/// When a feed event happened (epoch milliseconds; none sorts first).
fn occurred_at(event: &Value) -> i64 {
    event["occurred_at"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(i64::MIN, |t| t.timestamp_millis())
}

/// The admin token of an upgrade: the Authorization header, or a
/// `bearer.<token>` subprotocol next to [`SUBPROTOCOL`] (what a browser
/// can send). Returns whether the subprotocol was used (it is then echoed).
fn authorize_upgrade(req: &HttpRequest, expected: &str) -> Result<bool, ReadApiError> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if authorization.is_some() {
        check_bearer(authorization, expected)?;
        return Ok(false);
    }
    let offered: Vec<&str> = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let token = offered.iter().find_map(|p| p.strip_prefix("bearer."));
    let header = token.map(|t| format!("Bearer {t}"));
    check_bearer(header.as_deref(), expected)?;
    Ok(offered.contains(&SUBPROTOCOL))
}

/// Decrements the connection gauge however a client's task ends.
struct Connected(Gauge);

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The live feed.
///
/// A WebSocket. The admin token comes as `Authorization: Bearer` or, from a
/// browser, as the subprotocols `analytics.v1` and `bearer.<token>`.
/// Messages: `{"type": "realtime_metrics", "payload"}` every second and
/// `{"type": "analytics_event", "payload"}` for each event ingest sampled.
/// A client that falls behind is closed (code 1013).
#[utoipa::path(get, path = LIVE, operation_id = "live_feed", security(("admin" = [])),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol."),
        (status = 400, description = "Not a WebSocket upgrade."),
        (status = 401, description = "No token."),
        (status = 403, description = "A wrong token."),
        (status = 503, description = "As many clients as this process serves; see Retry-After.")),
    extensions(("x-errors" = json!([400, 401, 403, 503]))))]
pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ReadApiError> {
    let hub = &state.live;
    if !hub.origin_allowed(&req) {
        return Err(ReadApiError::OriginRefused);
    }
    let echo = authorize_upgrade(&req, state.admin_token.expose_secret())?;
    if hub.connections.get() >= hub.max_connections {
        return Err(ReadApiError::Busy {
            retry_after: state.retry_after,
        });
    }
    let (mut response, session, incoming) =
        actix_ws::handle(&req, body).map_err(|_| ReadApiError::NotWebSocket)?;
    if echo {
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(SUBPROTOCOL),
        );
    }
    hub.connections.inc();
    let connected = Connected(hub.connections.clone());
    let feed = hub.sender.subscribe();
    actix_web::rt::spawn(serve_client(session, incoming, feed, connected));
    Ok(response)
}

async fn serve_client(
    mut session: actix_ws::Session,
    mut incoming: actix_ws::MessageStream,
    mut feed: broadcast::Receiver<String>,
    _connected: Connected,
) {
    let reason = loop {
        tokio::select! {
            message = feed.recv() => match message {
                Ok(text) => match tokio::time::timeout(SEND_TIMEOUT, session.text(text)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => break "too slow: a message waited over 2 s",
                },
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    break "too slow: fell behind the feed";
                }
                Err(broadcast::error::RecvError::Closed) => break "shutting down",
            },
            message = incoming.next() => match message {
                Some(Ok(Message::Ping(bytes))) => {
                    if session.pong(&bytes).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    };
    let close = CloseReason {
        code: CloseCode::Again,
        description: Some(reason.to_string()),
    };
    // The client may be gone or stuck: do not wait on it.
    let _ = tokio::time::timeout(SEND_TIMEOUT, session.close(Some(close))).await;
}
