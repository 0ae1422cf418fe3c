//! Plumbing shared by the four services, so each service is only its own job.

pub mod auth;
pub mod config;
pub mod http;
pub mod logging;
pub mod metrics;

pub use config::{load, ConfigError, StoreConfig};
