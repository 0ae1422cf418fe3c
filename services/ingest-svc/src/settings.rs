//! ingest-svc's typed configuration.

use std::net::SocketAddr;

use analytics_runtime::config::{ConfigError, StoreConfig};
use serde::Deserialize;

use crate::client_ip::IpNet;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub stores: StoreConfig,
    pub ingest: IngestConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IngestConfig {
    pub bind: String,
    pub body_limit_bytes: usize,
    pub rate_limit_per_minute: u32,
    pub trusted_proxies: Vec<String>,
    pub retry_after_seconds: u64,
    pub shutdown_timeout_seconds: u64,
}

impl IngestConfig {
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.bind.parse().map_err(|e| ConfigError::Invalid {
            key: "ingest.bind".into(),
            message: format!("{:?}: {e}", self.bind),
        })
    }

    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.parse().map_err(|message| ConfigError::Invalid {
                    key: "ingest.trusted_proxies".into(),
                    message,
                })
            })
            .collect()
    }
}
