//! read-api's typed configuration.

use std::net::SocketAddr;
use std::time::Duration;

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
    pub read_api: ReadApiConfig,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReadApiConfig {
    pub bind: String,
    pub admin_token: Token,
    pub retry_after_seconds: u64,
    pub shutdown_timeout_seconds: u64,
    pub max_series_points: usize,
    /// Public `counts` requests per client and minute (0: unlimited).
    pub counts_rate_limit_per_minute: u32,
    pub rate_limit_max_clients: usize,
    pub trusted_proxies: Vec<String>,
    /// How long a public count is served from memory (0: not at all).
    pub counts_cache_ms: u64,
    /// How long at most a computed report (popular content, trends, peak
    /// hours…) is served from memory; a flush that changes the stores
    /// outdates it sooner (0: not kept at all).
    pub report_cache_ms: u64,
    /// The longest a read route may take: past it, 503 + Retry-After (a
    /// store that stopped answering without closing its sockets).
    pub query_timeout_ms: u64,
    /// How long the admin snapshot and the actor analytics (read from the
    /// catalogue, which no flush announces) are served from memory per
    /// parameters (0: not kept at all).
    pub snapshot_cache_ms: u64,
    /// A concurrent viewer sent a playback event within this many seconds.
    pub live_viewer_window_seconds: i64,
    /// WebSocket clients of the live feed this process serves at most.
    pub live_max_connections: i64,
    /// Page origins (besides read-api's own) allowed to open the live feed.
    pub live_allowed_origins: Vec<String>,
    /// Page origins whose scripts may read the public counts (a film page
    /// showing its own count); `*` any.
    pub cors_allowed_origins: Vec<String>,
    /// How long an erasure waits for a flush holding a partition (then
    /// 503 with `Retry-After`).
    pub erasure_wait_seconds: u64,
}

fn invalid(key: &str, message: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.to_string(),
    }
}

impl ReadApiConfig {
    pub fn validate(&self) -> Result<SocketAddr, ConfigError> {
        if self.admin_token.expose_secret().trim().len() < 8 {
            return Err(invalid(
                "read_api.admin_token",
                "must be at least 8 characters",
            ));
        }
        if self.max_series_points == 0 {
            return Err(invalid(
                "read_api.max_series_points",
                "must be greater than 0",
            ));
        }
        if self.rate_limit_max_clients < 1000 {
            return Err(invalid(
                "read_api.rate_limit_max_clients",
                "must be at least 1000",
            ));
        }
        if self.counts_cache_ms > 60_000 {
            return Err(invalid("read_api.counts_cache_ms", "must be at most 60000"));
        }
        if !(1..=analytics_domain::realtime::MAX_VIEWER_WINDOW_SECONDS)
            .contains(&self.live_viewer_window_seconds)
        {
            return Err(invalid(
                "read_api.live_viewer_window_seconds",
                format!(
                    "must be 1..{}",
                    analytics_domain::realtime::MAX_VIEWER_WINDOW_SECONDS
                ),
            ));
        }
        if self.erasure_wait_seconds > 300 {
            return Err(invalid(
                "read_api.erasure_wait_seconds",
                "must be 0..300 (an HTTP client gives up long before)",
            ));
        }
        if !(1..=100_000).contains(&self.live_max_connections) {
            return Err(invalid(
                "read_api.live_max_connections",
                "must be 1..100000",
            ));
        }
        if !(1..=600_000).contains(&self.query_timeout_ms) {
            return Err(invalid("read_api.query_timeout_ms", "must be 1..600000"));
        }
        if self.report_cache_ms > 600_000 {
            return Err(invalid(
                "read_api.report_cache_ms",
                "must be at most 600000",
            ));
        }
        if self.snapshot_cache_ms > 600_000 {
            return Err(invalid(
                "read_api.snapshot_cache_ms",
                "must be at most 600000",
            ));
        }
        self.bind
            .parse()
            .map_err(|e| invalid("read_api.bind", format!("{:?}: {e}", self.bind)))
    }

    pub fn cors_allowed_origins(&self) -> Result<AllowedOrigins, ConfigError> {
        AllowedOrigins::parse(&self.cors_allowed_origins, "read_api.cors_allowed_origins")
    }

    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, ConfigError> {
        analytics_runtime::client_ip::parse_trusted(
            &self.trusted_proxies,
            "read_api.trusted_proxies",
        )
    }

    pub fn counts_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.counts_cache_ms)
    }

    pub fn query_timeout(&self) -> Duration {
        Duration::from_millis(self.query_timeout_ms)
    }

    pub fn report_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.report_cache_ms)
    }

    pub fn snapshot_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.snapshot_cache_ms)
    }
}
