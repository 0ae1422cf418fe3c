//! Every way an ingest request can fail, mapped to HTTP in this one place.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use analytics_domain::ValidationErrors;
use analytics_store::StoreError;
use serde_json::json;

use crate::rate_limit::Decision;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}", .0.message)]
    Validation(ValidationErrors),
    #[error("The request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("The request body must be a JSON object.")]
    NotAnObject,
    #[error("The request body could not be read: {0}")]
    UnreadableBody(String),
    #[error("The request body must not be larger than {limit} bytes.")]
    PayloadTooLarge { limit: usize },
    #[error("The Content-Type header must be application/json.")]
    UnsupportedMediaType,
    #[error("Too Many Attempts.")]
    RateLimited(Decision),
    #[error("The event id has already been used for a different event.")]
    Conflict,
    #[error("The event store is temporarily unavailable; retry later.")]
    StoreUnavailable {
        retry_after: u64,
        #[source]
        source: StoreError,
    },
}

impl IngestError {
    /// The bounded `reason` label of `analytics_events_rejected_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Validation(_) => "validation",
            IngestError::MalformedJson(_) | IngestError::NotAnObject => "malformed_json",
            IngestError::UnreadableBody(_) => "unreadable_body",
            IngestError::PayloadTooLarge { .. } => "payload_too_large",
            IngestError::UnsupportedMediaType => "unsupported_media_type",
            IngestError::RateLimited(_) => "rate_limited",
            IngestError::Conflict => "conflict",
            IngestError::StoreUnavailable { .. } => "store_unavailable",
        }
    }
}

fn one_field(field: &str, message: String) -> serde_json::Value {
    json!({ "message": message, "errors": { field: [message] } })
}

impl ResponseError for IngestError {
    fn status_code(&self) -> StatusCode {
        match self {
            IngestError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            IngestError::MalformedJson(_)
            | IngestError::NotAnObject
            | IngestError::UnreadableBody(_) => StatusCode::BAD_REQUEST,
            IngestError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            IngestError::Conflict => StatusCode::CONFLICT,
            IngestError::StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        let body = match self {
            IngestError::Validation(errors) => json!(errors),
            IngestError::MalformedJson(_)
            | IngestError::NotAnObject
            | IngestError::UnreadableBody(_) => one_field("body", self.to_string()),
            IngestError::PayloadTooLarge { .. } => one_field("body", self.to_string()),
            IngestError::UnsupportedMediaType => one_field("content_type", self.to_string()),
            IngestError::Conflict => one_field("event_id", self.to_string()),
            IngestError::RateLimited(d) => {
                response
                    .insert_header((header::RETRY_AFTER, d.reset_after))
                    .insert_header(("X-RateLimit-Limit", d.limit))
                    .insert_header(("X-RateLimit-Remaining", d.remaining))
                    .insert_header(("X-RateLimit-Reset", d.reset_after));
                json!({ "message": self.to_string() })
            }
            IngestError::StoreUnavailable { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, *retry_after));
                json!({ "message": self.to_string() })
            }
        };
        response.json(body)
    }
}
