//! Every way a read-api request can fail, mapped to HTTP in this one place.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use analytics_store::StoreError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ReadApiError {
    #[error("A bearer token is required.")]
    Unauthorized,
    #[error("The bearer token is not valid for this API.")]
    Forbidden,
    #[error("{message}")]
    InvalidParam {
        param: &'static str,
        message: String,
    },
    #[error("The analytics stores are temporarily unavailable; retry later.")]
    StoreUnavailable {
        retry_after: u64,
        #[source]
        source: StoreError,
    },
}

impl ReadApiError {
    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        ReadApiError::InvalidParam {
            param,
            message: message.into(),
        }
    }
}

impl ResponseError for ReadApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ReadApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ReadApiError::Forbidden => StatusCode::FORBIDDEN,
            ReadApiError::InvalidParam { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ReadApiError::StoreUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        let body = match self {
            ReadApiError::Unauthorized => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
                json!({"message": self.to_string()})
            }
            ReadApiError::InvalidParam { param, message } => {
                json!({"message": message, "errors": {*param: [message]}})
            }
            ReadApiError::StoreUnavailable { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, *retry_after));
                json!({"message": self.to_string()})
            }
            ReadApiError::Forbidden => json!({"message": self.to_string()}),
        };
        response.json(body)
    }
}
