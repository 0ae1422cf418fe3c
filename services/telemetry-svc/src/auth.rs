//! The telemetry roles: queue workers (and the flush) write with the
//! producer token, operators read with the operator token.

use actix_web::{web, HttpRequest};
use analytics_runtime::auth::{Bearer, Role};
use secrecy::ExposeSecret;

use crate::error::TelemetryError;
use crate::AppState;

fn state(req: &HttpRequest) -> Option<&AppState> {
    req.app_data::<web::Data<AppState>>().map(|s| s.get_ref())
}

pub struct ProducerRole;

impl Role for ProducerRole {
    type Error = TelemetryError;
    fn expected(req: &HttpRequest) -> Option<&str> {
        state(req).map(|s| s.config.producer_token.expose_secret())
    }
}

pub struct OperatorRole;

impl Role for OperatorRole {
    type Error = TelemetryError;
    fn expected(req: &HttpRequest) -> Option<&str> {
        state(req).map(|s| s.config.operator_token.expose_secret())
    }
}

/// A request carrying the producer token (writes).
pub type Producer = Bearer<ProducerRole>;
/// A request carrying the operator token (reads).
pub type Operator = Bearer<OperatorRole>;
