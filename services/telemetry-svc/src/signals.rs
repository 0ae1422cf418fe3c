//! What job events say about the crawled sites, worked out as they arrive:
//! a site's starts per second against its thresholds (one
//! `rate_limit_exceeded` event per site, second and level reached) and the
//! block signals of failed jobs (403, 429, 503) with their cooldowns; and
//! the routes that read them back: the operators' list per host, and the
//! crawlers' "may I hit this host now?".

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use analytics_domain::job_event::{JobEvent, JobEventType};
use analytics_domain::job_signals::{block_signal, target_host};
use analytics_domain::job_summary::SignalQuery;
use analytics_domain::ValidationErrors;
use analytics_store::block_signals::{Cooldown, HostSignals, SignalRow};
use analytics_store::job_events::RateAlert;
use analytics_store::HotCounters;
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Operator, Producer};
use crate::error::TelemetryError;
use crate::AppState;

pub const LIST: &str = "/api/v1/telemetry/block-signals";
pub const COOLDOWN: &str = "/api/v1/telemetry/hosts/{host}/cooldown";

/// What recording an event triggered, in the producer's answer: a start's
/// rate alerts, a failure's block signal.
#[derive(Default, Serialize, ToSchema)]
pub struct Triggered {
    /// started: the levels (`warning`, `critical`) the site's starts in
    /// this second have reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_alerts: Option<Vec<&'static str>>,
    /// failed: the block signal recorded (403, 429 or 503) and its
    /// cooldown; null when the failure is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<BlockSignalRecorded>)]
    block_signal: Option<Option<BlockSignalRecorded>>,
}

#[derive(Serialize, ToSchema)]
pub struct BlockSignalRecorded {
    target_host: String,
    #[schema(schema_with = analytics_domain::job_signals::signal_type_schema)]
    signal_type: &'static str,
    status: u16,
    cooldown_until: String,
}

/// What recording `event` triggered, for the producer's answer. Failures
/// here are logged, not returned: the event itself is stored, and a retry
/// would store it twice.
pub async fn after_record(state: &AppState, counters: &HotCounters, event: &JobEvent) -> Triggered {
    match event.event_type {
        JobEventType::Started => Triggered {
            rate_alerts: Some(rate_alerts(state, counters, event).await),
            ..Triggered::default()
        },
        JobEventType::Failed => Triggered {
            block_signal: Some(signal(state, event).await),
            ..Triggered::default()
        },
        _ => Triggered::default(),
    }
}

/// Counts the start in its site's second; records each level it reaches.
async fn rate_alerts(state: &AppState, counters: &HotCounters, e: &JobEvent) -> Vec<&'static str> {
    let second = e.timestamp.with_timezone(&Utc);
    let jobs_per_second = match counters.count_job_start(&e.site, second.timestamp()).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "job start not counted for rate alerts");
            return Vec::new();
        }
    };
    let thresholds = state.config.thresholds(&e.site);
    let levels = thresholds.levels_reached(jobs_per_second);
    for level in &levels {
        let alert = RateAlert {
            site: &e.site,
            second,
            level,
            jobs_per_second,
            thresholds,
            event: e,
        };
        if let Err(err) = state.events.record_rate_alert(&alert).await {
            tracing::warn!(error = %err, site = %e.site, level, "rate alert not recorded");
        }
    }
    levels
}

async fn signal(state: &AppState, e: &JobEvent) -> Option<BlockSignalRecorded> {
    let signal = block_signal(e.error_code, e.error_message_short.as_deref())?;
    let host = target_host(&e.site, e.url.as_deref());
    match state.signals.record(e, &signal, &host).await {
        Ok(until) => Some(BlockSignalRecorded {
            target_host: host,
            signal_type: signal.signal_type,
            status: signal.status,
            cooldown_until: until.to_rfc3339_opts(SecondsFormat::Secs, true),
        }),
        Err(err) => {
            tracing::warn!(error = %err, host, "block signal not recorded");
            None
        }
    }
}

/// The block-signal list's body.
#[derive(Serialize, ToSchema)]
pub struct BlockSignals {
    filters: SignalFilters,
    window: SignalWindow,
    /// Per host, cooling down first.
    hosts: Vec<HostSignals>,
    /// The latest signals, newest first.
    signals: Vec<SignalRow>,
    generated_at: String,
}

/// The list's query as applied (a blank host as null).
#[derive(Serialize, ToSchema)]
pub struct SignalFilters {
    window_minutes: u32,
    host: Option<String>,
    limit: u32,
}

/// The window's ends (RFC 3339, UTC).
#[derive(Serialize, ToSchema)]
pub struct SignalWindow {
    from: String,
    to: String,
}

/// Block signals (403 forbidden: 600 s, 429 rate limit: 300 s, 503
/// unavailable: 120 s cooldown) of a window: per host, cooling down first,
/// and the latest signals.
#[utoipa::path(get, path = LIST, operation_id = "block_signals", params(SignalQuery), security(("operator" = [])),
    responses((status = 200, description = "Hosts and signals.", body = BlockSignals)),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn list(
    _: Operator,
    params: web::Query<HashMap<String, String>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TelemetryError> {
    let query = SignalQuery::parse(&params).map_err(TelemetryError::Validation)?;
    let now = Utc::now();
    let from = now - chrono::Duration::minutes(i64::from(query.window_minutes));
    let (signals, hosts) = state
        .signals
        .recent(from, now, query.host.as_deref(), i64::from(query.limit))
        .await
        .map_err(|e| state.store_error(e))?;
    let time = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    Ok(HttpResponse::Ok().json(BlockSignals {
        filters: SignalFilters {
            window_minutes: query.window_minutes,
            host: query.host,
            limit: query.limit,
        },
        window: SignalWindow {
            from: time(from),
            to: time(now),
        },
        hosts,
        signals,
        generated_at: time(now),
    }))
}

/// May a crawler hit this host now? Not while a block signal's cooldown
/// runs.
#[utoipa::path(get, path = COOLDOWN, operation_id = "host_cooldown", security(("producer" = [])),
    params(("host" = String, Path, min_length = 1, max_length = 255)),
    responses((status = 200, description = "Allowed, or the cooldown's end.", body = Cooldown)),
    extensions(("x-errors" = json!([401, 403, 422, 500, 503]))))]
pub async fn cooldown(
    _: Producer,
    host: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, TelemetryError> {
    let host = host.into_inner();
    if host.trim().is_empty() || host.chars().count() > 255 {
        let mut errors = ValidationErrors::default();
        errors.add("host", "The host must be 1..255 characters.".into());
        return Err(TelemetryError::Validation(errors.finish()));
    }
    let answer = state
        .signals
        .cooldown(host.trim(), Utc::now())
        .await
        .map_err(|e| state.store_error(e))?;
    Ok(HttpResponse::Ok().json(answer))
}
