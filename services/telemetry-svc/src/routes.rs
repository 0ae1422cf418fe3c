//! Handlers: job event ingest (producer token) and the operational endpoints.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use analytics_domain::job_event::JobEventType;
use analytics_store::HotCounters;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::schema::SchemaType;
use utoipa::openapi::{ObjectBuilder, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::auth::Producer;
use crate::error::TelemetryError;
use crate::signals::{self, Triggered};
use crate::AppState;

pub const EVENTS: &str = "/api/v1/telemetry/jobs/events";

/// The job event a producer sends, as documented. The handler reads the
/// object field by field instead of deserializing this (each bad field is
/// named in the 422, and the older workers' variants are taken: a
/// non-numeric error code, `error_message` for `error_message_short`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct JobEventBody {
    event_type: JobEventType,
    #[schema(min_length = 1, max_length = 255)]
    job_uuid: String,
    #[schema(min_length = 1, max_length = 255)]
    job_name: String,
    #[schema(max_length = 255)]
    queue: Option<String>,
    #[schema(max_length = 255)]
    connection: Option<String>,
    /// Else from a payload property, the URL's host or the job class.
    #[schema(max_length = 255)]
    site: Option<String>,
    #[schema(max_length = 255)]
    source: Option<String>,
    #[schema(max_length = 255)]
    error_class: Option<String>,
    #[schema(max_length = 255)]
    worker_host: Option<String>,
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    attempt: Option<i64>,
    #[schema(max_length = 2048)]
    url: Option<String>,
    /// RFC 3339 with an offset, at most 5 minutes ahead.
    #[schema(format = DateTime)]
    timestamp: String,
    /// Default for completed/failed: from the attempt's stored started event.
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    duration_ms: Option<i64>,
    error_code: Option<ErrorCode>,
    /// Kept to its first 500 characters.
    error_message_short: Option<String>,
    /// Read when error_message_short is absent.
    error_message: Option<String>,
    #[schema(minimum = 0, maximum = 9223372036854775807_i64)]
    timeout_ms_observed: Option<i64>,
    #[schema(schema_with = payload_meta)]
    payload_meta: Option<HashMap<String, Option<MetaValue>>>,
}

/// `payload_meta`: at most 50 scalar properties (the derive has no
/// property bound to set).
fn payload_meta() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(analytics_domain::job_event::MAX_PAYLOAD_META))
        .additional_properties(Some(<Option<MetaValue> as PartialSchema>::schema()))
}

/// A failure's code: an HTTP status or another number; a non-numeric code
/// is recorded as none.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum ErrorCode {
    Number(i64),
    Text(String),
}

/// A payload property: a scalar.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum MetaValue {
    Text(String),
    Number(f64),
    Flag(bool),
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Accepted,
}

/// The answer to a recorded event.
#[derive(Serialize, ToSchema)]
pub struct Recorded {
    status: RecordStatus,
    /// As sent, else from a payload property, the URL's host or the job
    /// class; else unknown.
    site: String,
    duration_ms: Option<i64>,
    #[serde(flatten)]
    triggered: Triggered,
}

/// Records one job lifecycle event.
#[utoipa::path(post, path = EVENTS, operation_id = "record_job_event", security(("producer" = [])),
    request_body = JobEventBody,
    responses((status = 202, description = "Recorded.", body = Recorded)),
    extensions(("x-errors" = json!([400, 401, 403, 408, 413, 415, 422, 500, 503]))))]
pub async fn record(
    _: Producer,
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    counters: web::Data<HotCounters>,
) -> Result<HttpResponse, TelemetryError> {
    if !analytics_runtime::body::is_json(&req) {
        return Err(TelemetryError::UnsupportedMediaType);
    }
    let body = analytics_runtime::body::read(&req, payload, state.body).await?;
    let value = analytics_runtime::json::parse(&body)
        .map_err(|e| TelemetryError::BadBody(e.to_string()))?;
    let Value::Object(fields) = value else {
        return Err(TelemetryError::BadBody("expected an object".into()));
    };
    let event = analytics_domain::job_event::validate(&fields, chrono::Utc::now())
        .map_err(TelemetryError::Validation)?;
    let duration_ms = state
        .events
        .record(&event)
        .await
        .map_err(|e| state.store_error(e))?;
    state
        .recorded
        .get_or_create(&vec![("event_type", event.event_type.as_str())])
        .inc();
    let triggered = signals::after_record(&state, &counters, &event).await;
    Ok(HttpResponse::Accepted().json(Recorded {
        status: RecordStatus::Accepted,
        site: event.site,
        duration_ms,
        triggered,
    }))
}

pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    analytics_runtime::http::readiness(
        &[(
            "mongo",
            analytics_runtime::http::ready_check("mongodb", state.rollups.ping()).await,
        )],
        state.config.retry_after_seconds,
    )
}

/// The bounds the derive attributes above spell as literals (attributes
/// take no constants), held to the validator's.
#[cfg(test)]
mod tests {
    use analytics_domain::job_event::{MAX_PAYLOAD_META, MAX_TEXT, MAX_URL_BYTES};
    use utoipa::PartialSchema;

    use super::JobEventBody;

    #[test]
    fn the_documented_bounds_are_the_validators() -> Result<(), serde_json::Error> {
        let schema = serde_json::to_value(JobEventBody::schema())?;
        let field = |name: &str| schema["properties"][name].clone();
        for name in [
            "job_uuid",
            "job_name",
            "queue",
            "connection",
            "site",
            "source",
            "error_class",
            "worker_host",
        ] {
            assert_eq!(field(name)["maxLength"], MAX_TEXT, "{name}");
        }
        assert_eq!(field("url")["maxLength"], MAX_URL_BYTES);
        assert_eq!(field("payload_meta")["maxProperties"], MAX_PAYLOAD_META);
        Ok(())
    }
}
