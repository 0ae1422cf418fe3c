//! read-api: what admins read (top lists, entity series, trends, viewing,
//! search and recommendation reports, the snapshot, actor analytics, the
//! live feed) and the public display counts, from the rollups plus what
//! still waits in Redis. `app` builds the service; `api` holds the routes,
//! one module per area, each with its own route table.

pub mod api;
pub mod app;
pub mod auth;
pub mod counts_cache;
pub mod error;
pub mod openapi;
pub mod params;
pub mod range_top;
pub mod report;
pub mod report_cache;
pub mod settings;
pub mod table;

pub use crate::app::{build, AppState};
pub use crate::settings::Settings;
pub use actix_web::dev::ServerHandle;
pub use analytics_runtime::http::Application;
