//! Bearer tokens as extractors. Listed before the body in a handler's
//! arguments, they run first, so an unauthenticated request is refused
//! (401/403) before its body is read or judged.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use analytics_runtime::auth::{check_bearer, BearerError};

use crate::error::TelemetryError;
use crate::AppState;

fn check(req: &HttpRequest, token: impl Fn(&AppState) -> &str) -> Result<(), TelemetryError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(TelemetryError::Unauthorized)?;
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    check_bearer(header, token(state)).map_err(|e| match e {
        BearerError::Missing => TelemetryError::Unauthorized,
        BearerError::Wrong => TelemetryError::Forbidden,
    })
}

/// A request carrying the producer token (writes).
pub struct Producer;

impl FromRequest for Producer {
    type Error = TelemetryError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req, |s| &s.config.producer_token).map(|()| Producer))
    }
}

/// A request carrying the operator token (reads).
pub struct Operator;

impl FromRequest for Operator {
    type Error = TelemetryError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req, |s| &s.config.operator_token).map(|()| Operator))
    }
}
