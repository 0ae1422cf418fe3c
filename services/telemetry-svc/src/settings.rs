//! telemetry-svc's typed configuration.

use std::net::SocketAddr;

use std::collections::BTreeMap;

use analytics_domain::job_summary::RateThresholds;
use analytics_runtime::auth::Token;
use analytics_runtime::config::{ConfigError, StoreConfig};
use secrecy::ExposeSecret;
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
    pub producer_token: Token,
    pub operator_token: Token,
    /// Moved to `retention.telemetry_days`; a configuration that still
    /// sets it is refused, so it is never silently ignored.
    #[serde(default)]
    pub retention_days: Option<u64>,
    pub body_limit_bytes: usize,
    pub body_timeout_seconds: u64,
    pub retry_after_seconds: u64,
    pub shutdown_timeout_seconds: u64,
    pub flush_stale_seconds: u64,
    pub rate_warning_per_second: u64,
    pub rate_critical_per_second: u64,
    #[serde(default)]
    pub site_thresholds: BTreeMap<String, RateThresholds>,
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
            if token.expose_secret().trim().len() < 8 {
                return Err(invalid(key, "must be at least 8 characters"));
            }
        }
        if self.producer_token.expose_secret() == self.operator_token.expose_secret() {
            return Err(invalid(
                "telemetry.operator_token",
                "must differ from telemetry.producer_token",
            ));
        }
        if !(1..=300).contains(&self.body_timeout_seconds) {
            return Err(invalid("telemetry.body_timeout_seconds", "must be 1..300"));
        }
        if self.retention_days.is_some() {
            return Err(invalid(
                "telemetry.retention_days",
                "moved to retention.telemetry_days (ANALYTICS__RETENTION__TELEMETRY_DAYS)",
            ));
        }
        let defaults = self.default_thresholds();
        for (key, t) in std::iter::once(("telemetry.rate_*_per_second".to_string(), defaults))
            .chain(
                self.site_thresholds
                    .iter()
                    .map(|(site, t)| (format!("telemetry.site_thresholds.{site}"), *t)),
            )
        {
            if t.warning < 1 || t.critical < t.warning {
                return Err(ConfigError::Invalid {
                    key,
                    message: "warning must be at least 1 and critical at least warning".into(),
                });
            }
        }
        self.bind.parse().map_err(|e| ConfigError::Invalid {
            key: "telemetry.bind".into(),
            message: format!("{:?}: {e}", self.bind),
        })
    }

    fn default_thresholds(&self) -> RateThresholds {
        RateThresholds {
            warning: self.rate_warning_per_second,
            critical: self.rate_critical_per_second,
        }
    }

    /// The rate thresholds of `site`: its override, else the defaults.
    pub fn thresholds(&self, site: &str) -> RateThresholds {
        self.site_thresholds
            .get(site)
            .copied()
            .unwrap_or_else(|| self.default_thresholds())
    }
}
