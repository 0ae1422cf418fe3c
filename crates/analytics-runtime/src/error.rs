//! One error model for every service: each service keeps its own error enum
//! (what can go wrong there) and says, per variant, which [`ErrorKind`] it
//! is; this module turns any of them into HTTP the same way. Every error
//! body is `{"message": …}`, plus `"errors": {field: [messages]}` when
//! fields are to blame. A store outage is 503 with `Retry-After`; anything
//! unexpected is a 500 that says only "internal error" and carries the
//! request id under which the detail was logged.

use std::collections::BTreeMap;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::json;

/// The few kinds of failure a client can tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    TooManyRequests,
    /// A store could not be reached in time: retry later.
    Unavailable,
    /// A bug or an unexpected store answer: nothing the client can fix.
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// Field name → its messages (the `errors` member of an error body).
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// One message for one field.
pub fn field_error(field: &str, message: impl Into<String>) -> FieldErrors {
    FieldErrors::from([(field.to_string(), vec![message.into()])])
}

/// What a service's error enum tells the one HTTP mapping.
pub trait ServiceError: std::error::Error {
    fn kind(&self) -> ErrorKind;

    /// The fields to blame, if any.
    fn field_errors(&self) -> Option<FieldErrors> {
        None
    }

    /// Extra response headers (`Retry-After`, rate-limit headers, …).
    fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        Vec::new()
    }
}

/// The message an internal error shows: the detail stays in the log.
pub const INTERNAL_MESSAGE: &str = "Internal error; the request id names it in the service log.";

/// The response of any service error.
pub fn respond<E: ServiceError + ?Sized>(error: &E) -> HttpResponse {
    let kind = error.kind();
    let mut response = HttpResponse::build(kind.status());
    for header in error.headers() {
        response.insert_header(header);
    }
    if kind == ErrorKind::Internal {
        let request_id = crate::http::current_request_id();
        tracing::error!(%request_id, error = %error, detail = ?error, "internal error");
        return response.json(json!({"message": INTERNAL_MESSAGE, "request_id": request_id}));
    }
    match error.field_errors() {
        Some(fields) => response.json(json!({"message": error.to_string(), "errors": fields})),
        None => response.json(json!({"message": error.to_string()})),
    }
}

/// Implements actix's `ResponseError` for a service error through
/// [`respond`], so every service maps errors to HTTP in this one place.
#[macro_export]
macro_rules! service_error_response {
    ($error:ty) => {
        impl ::actix_web::ResponseError for $error {
            fn status_code(&self) -> ::actix_web::http::StatusCode {
                $crate::error::ServiceError::kind(self).status()
            }
            fn error_response(&self) -> ::actix_web::HttpResponse {
                $crate::error::respond(self)
            }
        }
    };
}

/// A store failure: an outage is 503 (retry later), anything else a 500.
pub fn store_kind(source: &analytics_store::StoreError) -> ErrorKind {
    if source.is_unavailable() {
        ErrorKind::Unavailable
    } else {
        ErrorKind::Internal
    }
}

/// `Retry-After` for a store outage; nothing for a bug (retrying won't help).
pub fn store_headers(
    source: &analytics_store::StoreError,
    retry_after_secs: u64,
) -> Vec<(HeaderName, HeaderValue)> {
    if source.is_unavailable() {
        vec![retry_after(retry_after_secs)]
    } else {
        Vec::new()
    }
}

/// `Retry-After: seconds`.
pub fn retry_after(seconds: u64) -> (HeaderName, HeaderValue) {
    (
        actix_web::http::header::RETRY_AFTER,
        HeaderValue::from(seconds),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;

    #[derive(Debug, thiserror::Error)]
    enum Sample {
        #[error("The name field is required.")]
        Missing,
        #[error("the database exploded at 10.0.0.7:5432")]
        Bug,
        #[error("Retry later.")]
        Down,
    }

    impl ServiceError for Sample {
        fn kind(&self) -> ErrorKind {
            match self {
                Sample::Missing => ErrorKind::Unprocessable,
                Sample::Bug => ErrorKind::Internal,
                Sample::Down => ErrorKind::Unavailable,
            }
        }
        fn field_errors(&self) -> Option<FieldErrors> {
            matches!(self, Sample::Missing).then(|| field_error("name", self.to_string()))
        }
        fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
            match self {
                Sample::Down => vec![retry_after(3)],
                _ => vec![],
            }
        }
    }

    fn body(r: HttpResponse) -> serde_json::Value {
        let bytes = r.into_body().try_into_bytes().unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[test]
    fn field_errors_name_the_field() {
        let r = respond(&Sample::Missing);
        assert_eq!(r.status(), 422);
        assert_eq!(
            body(r),
            json!({"message": "The name field is required.",
                   "errors": {"name": ["The name field is required."]}})
        );
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let r = respond(&Sample::Bug);
        assert_eq!(r.status(), 500);
        let b = body(r);
        assert_eq!(b["message"], INTERNAL_MESSAGE);
        assert!(b["request_id"].is_string());
        assert!(!b.to_string().contains("10.0.0.7"));
    }

    #[test]
    fn outages_say_when_to_retry() {
        let r = respond(&Sample::Down);
        assert_eq!(r.status(), 503);
        assert_eq!(
            r.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"3"[..])
        );
    }
}
