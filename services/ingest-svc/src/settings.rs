//! ingest-svc's typed configuration.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use analytics_domain::{Action, ValueLimits};
use analytics_runtime::auth::Token;
use analytics_runtime::client_ip::IpNet;
use analytics_runtime::config::{ConfigError, StoreConfig};
use analytics_runtime::cors::AllowedOrigins;
use secrecy::ExposeSecret;
use serde::Deserialize;

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
    pub body_timeout_seconds: u64,
    pub rate_limit_per_minute: u32,
    pub rate_limit_max_clients: usize,
    pub trusted_proxies: Vec<String>,
    pub retry_after_seconds: u64,
    pub shutdown_timeout_seconds: u64,
    /// The most `value` an anonymous producer may send, per action.
    pub public_max_value: BTreeMap<String, i64>,
    /// Server-side producers presenting this bearer token may send values
    /// up to the contract's maximum; empty: no such producer.
    pub producer_token: Token,
    pub max_batch_events: usize,
    pub batch_body_limit_bytes: usize,
    pub cors_allowed_origins: Vec<String>,
    /// Accepted events per second this process samples into the live feed
    /// (0: none).
    pub live_events_per_second: usize,
    pub max_waiting_counts: u64,
}

fn invalid(key: &str, message: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.to_string(),
    }
}

impl IngestConfig {
    pub fn bind_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.bind
            .parse()
            .map_err(|e| invalid("ingest.bind", format!("{:?}: {e}", self.bind)))
    }

    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, ConfigError> {
        analytics_runtime::client_ip::parse_trusted(&self.trusted_proxies, "ingest.trusted_proxies")
    }

    pub fn body_timeout(&self) -> Result<Duration, ConfigError> {
        if !(1..=300).contains(&self.body_timeout_seconds) {
            return Err(invalid("ingest.body_timeout_seconds", "must be 1..300"));
        }
        Ok(Duration::from_secs(self.body_timeout_seconds))
    }

    pub fn public_limits(&self) -> Result<ValueLimits, ConfigError> {
        let mut per_action = BTreeMap::new();
        for (name, max) in &self.public_max_value {
            let key = format!("ingest.public_max_value.{name}");
            let action = Action::parse(name).ok_or_else(|| invalid(&key, "not an action"))?;
            per_action.insert(action, *max);
        }
        ValueLimits::new(per_action).map_err(|m| invalid("ingest.public_max_value", m))
    }

    /// The producer token, if one is configured.
    pub fn producer_token(&self) -> Result<Option<Token>, ConfigError> {
        let token = self.producer_token.expose_secret().trim();
        match token.len() {
            0 => Ok(None),
            1..=15 => Err(invalid(
                "ingest.producer_token",
                "must be at least 16 characters",
            )),
            _ => Ok(Some(self.producer_token.clone())),
        }
    }

    pub fn max_batch_events(&self) -> Result<usize, ConfigError> {
        if !(1..=10_000).contains(&self.max_batch_events) {
            return Err(invalid("ingest.max_batch_events", "must be 1..10000"));
        }
        Ok(self.max_batch_events)
    }

    pub fn live_events_per_second(&self) -> Result<usize, ConfigError> {
        if self.live_events_per_second > 1000 {
            return Err(invalid(
                "ingest.live_events_per_second",
                "must be at most 1000",
            ));
        }
        Ok(self.live_events_per_second)
    }

    pub fn cors_allowed_origins(&self) -> Result<AllowedOrigins, ConfigError> {
        AllowedOrigins::parse(&self.cors_allowed_origins, "ingest.cors_allowed_origins")
    }

    pub fn rate_limit_max_clients(&self) -> Result<usize, ConfigError> {
        if self.rate_limit_max_clients < 1000 {
            return Err(invalid(
                "ingest.rate_limit_max_clients",
                "must be at least 1000",
            ));
        }
        Ok(self.rate_limit_max_clients)
    }
}
