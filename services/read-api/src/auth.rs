//! Bearer-token check for the admin routes.

use actix_web::HttpRequest;
use analytics_runtime::auth::{check_bearer, BearerError};

use crate::error::ReadApiError;

/// 401 without a bearer token, 403 with a wrong one.
pub fn require_admin(req: &HttpRequest, expected: &str) -> Result<(), ReadApiError> {
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    check_bearer(header, expected).map_err(|e| match e {
        BearerError::Missing => ReadApiError::Unauthorized,
        BearerError::Wrong => ReadApiError::Forbidden,
    })
}
