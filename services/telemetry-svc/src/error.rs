//! Every way a telemetry request can fail, mapped to HTTP in this one place.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use analytics_domain::ValidationErrors;
use analytics_store::StoreError;
use serde_json::json;

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
    #[error("The request body must not be larger than {0} bytes.")]
    TooLarge(usize),
    #[error("The Content-Type header must be application/json.")]
    UnsupportedMediaType,
    #[error("The telemetry store is temporarily unavailable; retry later.")]
    StoreUnavailable {
        retry_after: u64,
        #[source]
        source: StoreError,
    },
}

impl ResponseError for TelemetryError {
    fn status_code(&self) -> StatusCode {
        match self {
            TelemetryError::Unauthorized => StatusCode::UNAUTHORIZED,
            TelemetryError::Forbidden => StatusCode::FORBIDDEN,
            TelemetryError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            TelemetryError::BadBody(_) => StatusCode::BAD_REQUEST,
            TelemetryError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            TelemetryError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            TelemetryError::StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        let body = match self {
            TelemetryError::Validation(errors) => json!(errors),
            TelemetryError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
                json!({"message": self.to_string()})
            }
            TelemetryError::StoreUnavailable { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, *retry_after));
                json!({"message": self.to_string()})
            }
            TelemetryError::BadBody(_) | TelemetryError::TooLarge(_) => {
                json!({"message": self.to_string(), "errors": {"body": [self.to_string()]}})
            }
            TelemetryError::UnsupportedMediaType => {
                json!({"message": self.to_string(), "errors": {"content_type": [self.to_string()]}})
            }
            TelemetryError::Forbidden => json!({"message": self.to_string()}),
        };
        response.json(body)
    }
}
