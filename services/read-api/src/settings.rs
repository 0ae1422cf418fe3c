//! read-api's typed configuration.

use std::net::SocketAddr;

use analytics_runtime::config::{ConfigError, StoreConfig};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub stores: StoreConfig,
    pub read_api: ReadApiConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReadApiConfig {
    pub bind: String,
    pub admin_token: String,
    pub retry_after_seconds: u64,
    pub shutdown_timeout_seconds: u64,
    pub max_series_points: usize,
}

impl ReadApiConfig {
    pub fn validate(&self) -> Result<SocketAddr, ConfigError> {
        if self.admin_token.trim().len() < 8 {
            return Err(ConfigError::Invalid {
                key: "read_api.admin_token".into(),
                message: "must be at least 8 characters".into(),
            });
        }
        if self.max_series_points == 0 {
            return Err(ConfigError::Invalid {
                key: "read_api.max_series_points".into(),
                message: "must be greater than 0".into(),
            });
        }
        self.bind.parse().map_err(|e| ConfigError::Invalid {
            key: "read_api.bind".into(),
            message: format!("{:?}: {e}", self.bind),
        })
    }
}
