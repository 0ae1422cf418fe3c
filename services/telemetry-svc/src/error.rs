//! Every way a telemetry request can fail; the runtime maps them to HTTP.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use analytics_domain::ValidationErrors;
use analytics_runtime::auth::BearerError;
use analytics_runtime::body::BodyError;
use analytics_runtime::error::{
    field_error, store_headers, store_kind, ErrorKind, FieldErrors, ServiceError,
};
use analytics_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("A bearer token is required.")]
    Unauthorized,
    #[error("The bearer token is not valid for this route.")]
    Forbidden,
    #[error("{}", .0.message)]
    Validation(ValidationErrors),
    #[error("The request body is not a JSON object: {0}")]
    BadBody(String),
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("The Content-Type header must be application/json.")]
    UnsupportedMediaType,
    #[error("The telemetry store is temporarily unavailable; retry later.")]
    Store {
        retry_after: u64,
        #[source]
        source: StoreError,
    },
}

impl From<BearerError> for TelemetryError {
    fn from(e: BearerError) -> Self {
        match e {
            BearerError::Missing => TelemetryError::Unauthorized,
            BearerError::Wrong => TelemetryError::Forbidden,
        }
    }
}

impl ServiceError for TelemetryError {
    fn kind(&self) -> ErrorKind {
        match self {
            TelemetryError::Unauthorized => ErrorKind::Unauthorized,
            TelemetryError::Forbidden => ErrorKind::Forbidden,
            TelemetryError::Validation(_) => ErrorKind::Unprocessable,
            TelemetryError::BadBody(_) => ErrorKind::BadRequest,
            TelemetryError::Body(e) => e.kind(),
            TelemetryError::UnsupportedMediaType => ErrorKind::UnsupportedMediaType,
            TelemetryError::Store { source, .. } => store_kind(source),
        }
    }

    fn field_errors(&self) -> Option<FieldErrors> {
        match self {
            TelemetryError::Validation(v) => Some(
                v.errors
                    .iter()
                    .map(|(field, messages)| (field.to_string(), messages.clone()))
                    .collect(),
            ),
            TelemetryError::BadBody(_) => Some(field_error("body", self.to_string())),
            TelemetryError::Body(e) => e.field_errors(),
            TelemetryError::UnsupportedMediaType => {
                Some(field_error("content_type", self.to_string()))
            }
            _ => None,
        }
    }

    fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        match self {
            TelemetryError::Unauthorized => {
                vec![(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))]
            }
            TelemetryError::Body(e) => e.headers(),
            TelemetryError::Store {
                retry_after: s,
                source,
            } => store_headers(source, *s),
            _ => Vec::new(),
        }
    }
}

analytics_runtime::service_error_response!(TelemetryError);
