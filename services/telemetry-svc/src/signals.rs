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
use analytics_store::job_events::RateAlert;
use analytics_store::HotCounters;
use chrono::{SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::auth::{Operator, Producer};
use crate::error::TelemetryError;
use crate::AppState;

/// What recording `event` triggered, for the producer's answer. Failures
/// here are logged, not returned: the event itself is stored, and a retry
/// would store it twice.
pub async fn after_record(state: &AppState, counters: &HotCounters, event: &JobEvent) -> Value {
    match event.event_type {
        JobEventType::Started => json!({"rate_alerts": rate_alerts(state, counters, event).await}),
        JobEventType::Failed => json!({"block_signal": signal(state, event).await}),
        _ => json!({}),
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

async fn signal(state: &AppState, e: &JobEvent) -> Value {
    let Some(signal) = block_signal(e.error_code, e.error_message_short.as_deref()) else {
        return Value::Null;
    };
    let host = target_host(&e.site, e.url.as_deref());
    match state.signals.record(e, &signal, &host).await {
        Ok(until) => json!({
            "target_host": host,
            "signal_type": signal.signal_type,
            "status": signal.status,
            "cooldown_until": until.to_rfc3339_opts(SecondsFormat::Secs, true),
        }),
        Err(err) => {
            tracing::warn!(error = %err, host, "block signal not recorded");
            Value::Null
        }
    }
}

/// GET /api/v1/telemetry/block-signals
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
    Ok(HttpResponse::Ok().json(json!({
        "filters": {"window_minutes": query.window_minutes, "host": query.host, "limit": query.limit},
        "window": {"from": time(from), "to": time(now)},
        "hosts": hosts,
        "signals": signals,
        "generated_at": time(now),
    })))
}

/// GET /api/v1/telemetry/hosts/{host}/cooldown
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
