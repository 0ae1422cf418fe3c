//! Plumbing shared by the four services, so each service is only its own job.

pub mod assets;
pub mod auth;
pub mod body;
pub mod client_ip;
pub mod config;
pub mod cors;
pub mod error;
pub mod http;
pub mod json;
pub mod logging;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;

pub use config::{load, ConfigError, StoreConfig};
