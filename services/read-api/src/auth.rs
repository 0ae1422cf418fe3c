//! The admin role: every admin route needs the admin bearer token.

use actix_web::{web, HttpRequest};
use analytics_runtime::auth::{Bearer, Role};
use secrecy::ExposeSecret;

use crate::error::ReadApiError;
use crate::AppState;

pub struct AdminRole;

impl Role for AdminRole {
    type Error = ReadApiError;
    fn expected(req: &HttpRequest) -> Option<&str> {
        req.app_data::<web::Data<AppState>>()
            .map(|s| s.admin_token.expose_secret())
    }
}

/// A request carrying the admin token: 401 without one, 403 with a wrong one.
pub type Admin = Bearer<AdminRole>;
