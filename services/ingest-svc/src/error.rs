//! Every way an ingest request can fail. The HTTP mapping is the runtime's
//! (one for every service); here each failure only says what kind it is
//! and which field is to blame.

use actix_web::http::header::{HeaderName, HeaderValue};
use analytics_domain::ValidationErrors;
use analytics_runtime::auth::BearerError;
use analytics_runtime::body::BodyError;
use analytics_runtime::error::{
    field_error, retry_after as retry_after_header, store_headers, store_kind, ErrorKind,
    FieldErrors, ServiceError,
};
use analytics_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{}", .0.message)]
    Validation(ValidationErrors),
    #[error("The request body is not valid JSON: {0}")]
    MalformedJson(String),
    #[error("The request body must be a JSON object.")]
    NotAnObject,
    #[error("The request body must be a JSON array of events or an object with an events array.")]
    NotABatch,
    #[error("The request body is not a valid protobuf message: {0}")]
    MalformedProtobuf(String),
    #[error("A batch must hold 1 to {max} events.")]
    BatchSize { max: usize },
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("The Content-Type header must be application/json, text/plain (a JSON beacon) or application/x-protobuf.")]
    UnsupportedMediaType,
    #[error("The producer token is not valid.")]
    WrongProducerToken,
    #[error(
        "This route takes the producer token: send Authorization: Bearer <ingest.producer_token>."
    )]
    ProducerTokenRequired,
    #[error("Imports are off: no producer token is configured (ingest.producer_token).")]
    ImportsOff,
    #[error("Imports need the raw event log, their durable dedupe: events.raw_log is off.")]
    ImportNeedsRawLog,
    #[error("The event id has already been used for a different event.")]
    Conflict,
    #[error("{message}")]
    HoldingBack { message: String, retry_after: u64 },
    #[error("The event store is temporarily unavailable; retry later.")]
    Store {
        retry_after: u64,
        #[source]
        source: StoreError,
    },
}

impl From<BearerError> for IngestError {
    fn from(_: BearerError) -> Self {
        IngestError::WrongProducerToken
    }
}

impl IngestError {
    /// The bounded `reason` label of `analytics_events_rejected_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Validation(_) => "validation",
            IngestError::MalformedJson(_) | IngestError::NotAnObject | IngestError::NotABatch => {
                "malformed_json"
            }
            IngestError::MalformedProtobuf(_) => "malformed_protobuf",
            IngestError::BatchSize { .. } => "batch_size",
            IngestError::Body(BodyError::TooLarge(_)) => "payload_too_large",
            IngestError::Body(BodyError::TimedOut(_)) => "body_timeout",
            IngestError::Body(BodyError::UnsupportedEncoding(_)) => "unsupported_encoding",
            IngestError::Body(_) => "unreadable_body",
            IngestError::UnsupportedMediaType => "unsupported_media_type",
            IngestError::WrongProducerToken => "wrong_producer_token",
            IngestError::ProducerTokenRequired => "missing_producer_token",
            IngestError::ImportsOff | IngestError::ImportNeedsRawLog => "imports_off",
            IngestError::Conflict => "conflict",
            IngestError::HoldingBack { .. } => "backpressure",
            IngestError::Store { source, .. } if source.is_unavailable() => "store_unavailable",
            IngestError::Store { .. } => "store_error",
        }
    }
}

impl ServiceError for IngestError {
    fn kind(&self) -> ErrorKind {
        match self {
            IngestError::Validation(_) => ErrorKind::Unprocessable,
            IngestError::MalformedJson(_)
            | IngestError::NotAnObject
            | IngestError::NotABatch
            | IngestError::MalformedProtobuf(_) => ErrorKind::BadRequest,
            IngestError::BatchSize { .. } => ErrorKind::Unprocessable,
            IngestError::Body(e) => e.kind(),
            IngestError::UnsupportedMediaType => ErrorKind::UnsupportedMediaType,
            IngestError::WrongProducerToken | IngestError::ImportsOff => ErrorKind::Forbidden,
            IngestError::ProducerTokenRequired => ErrorKind::Unauthorized,
            IngestError::ImportNeedsRawLog => ErrorKind::Conflict,
            IngestError::Conflict => ErrorKind::Conflict,
            IngestError::HoldingBack { .. } => ErrorKind::Unavailable,
            IngestError::Store { source, .. } => store_kind(source),
        }
    }

    fn field_errors(&self) -> Option<FieldErrors> {
        let message = self.to_string();
        match self {
            IngestError::Validation(v) => Some(
                v.errors
                    .iter()
                    .map(|(field, messages)| (field.to_string(), messages.clone()))
                    .collect(),
            ),
            IngestError::MalformedJson(_)
            | IngestError::NotAnObject
            | IngestError::NotABatch
            | IngestError::MalformedProtobuf(_) => Some(field_error("body", message)),
            IngestError::BatchSize { .. } => Some(field_error("events", message)),
            IngestError::Body(e) => e.field_errors(),
            IngestError::UnsupportedMediaType => Some(field_error("content_type", message)),
            IngestError::WrongProducerToken
            | IngestError::ProducerTokenRequired
            | IngestError::ImportsOff => Some(field_error("authorization", message)),
            IngestError::ImportNeedsRawLog => Some(field_error("events.raw_log", message)),
            IngestError::Conflict => Some(field_error("event_id", message)),
            IngestError::Store { .. } | IngestError::HoldingBack { .. } => None,
        }
    }

    fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        match self {
            IngestError::Body(e) => e.headers(),
            IngestError::Store {
                retry_after: s,
                source,
            } => store_headers(source, *s),
            IngestError::HoldingBack { retry_after, .. } => vec![retry_after_header(*retry_after)],
            _ => Vec::new(),
        }
    }
}

analytics_runtime::service_error_response!(IngestError);
