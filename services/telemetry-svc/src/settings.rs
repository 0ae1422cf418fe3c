//! telemetry-svc's typed configuration.

use std::net::SocketAddr;

use analytics_runtime::config::{ConfigError, StoreConfig};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub stores: StoreConfig,
    pub telemetry: TelemetryConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TelemetryConfig {
    pub bind: String,
    pub producer_token: String,
    pub operator_token: String,
    pub retention_days: u64,
    pub body_limit_bytes: usize,
    pub retry_after_seconds: u64,
    pub shutdown_timeout_seconds: u64,
    pub flush_stale_seconds: u64,
}

impl TelemetryConfig {
    pub fn validate(&self) -> Result<SocketAddr, ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        };
        for (key, token) in [
            ("telemetry.producer_token", &self.producer_token),
            ("telemetry.operator_token", &self.operator_token),
        ] {
            if token.trim().len() < 8 {
                return Err(invalid(key, "must be at least 8 characters"));
            }
        }
        if self.producer_token == self.operator_token {
            return Err(invalid(
                "telemetry.operator_token",
                "must differ from telemetry.producer_token",
            ));
        }
        if !(1..=365).contains(&self.retention_days) {
            return Err(invalid("telemetry.retention_days", "must be 1..365"));
        }
        self.bind.parse().map_err(|e| ConfigError::Invalid {
            key: "telemetry.bind".into(),
            message: format!("{:?}: {e}", self.bind),
        })
    }
}
