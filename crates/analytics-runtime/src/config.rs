//! Layered, typed configuration: built-in defaults, then an
//! optional file, then `ANALYTICS__SECTION__KEY` env vars. Every invalid value
//! fails at start with a message naming its key.

use std::collections::BTreeMap;
use std::time::Duration;

use analytics_domain::{BucketMode, Domain, EventRules, KeySpace, Lateness};
use analytics_store::settings::{ExactlyOnce, MongoSettings, MySqlSettings, RedisSettings};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The defaults every binary carries, so it runs with no file at all.
pub const DEFAULTS: &str = include_str!("../../../deploy/config/default.toml");

/// Env var naming an optional extra config file.
pub const FILE_VAR: &str = "ANALYTICS_CONFIG_FILE";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("configuration key {key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl ToString) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.to_string(),
    }
}

/// Loads `T` from the layered sources.
pub fn load<T: DeserializeOwned>() -> Result<T, ConfigError> {
    load_with(&[])
}

/// Like [`load`], with explicit `section.key = value` overrides on top
/// (tests run many differently configured apps in one process).
pub fn load_with<T: DeserializeOwned>(overrides: &[(&str, &str)]) -> Result<T, ConfigError> {
    let mut builder = config::Config::builder()
        .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
    if let Ok(path) = std::env::var(FILE_VAR) {
        builder = builder.add_source(config::File::with_name(&path).required(true));
    }
    builder = builder.add_source(
        config::Environment::with_prefix("ANALYTICS")
            .separator("__")
            .list_separator(",")
            .with_list_parse_key("ingest.trusted_proxies")
            .with_list_parse_key("ingest.cors_allowed_origins")
            .with_list_parse_key("read_api.trusted_proxies")
            .with_list_parse_key("read_api.live_allowed_origins")
            .with_list_parse_key("read_api.cors_allowed_origins")
            .with_list_parse_key("events.bot_patterns")
            .try_parsing(true),
    );
    for (key, value) in overrides {
        // Typed like env values are (`try_parsing`): "300" is a number.
        builder = if let Ok(n) = value.parse::<i64>() {
            builder.set_override(*key, n)?
        } else if let Ok(b) = value.parse::<bool>() {
            builder.set_override(*key, b)?
        } else if let Ok(list) = serde_json::from_str::<Vec<String>>(value) {
            // A list as JSON: `["https://a.example"]`.
            builder.set_override(*key, list)?
        } else {
            builder.set_override(*key, *value)?
        };
    }
    let cfg = builder.build()?;
    Ok(cfg.try_deserialize()?)
}

/// Env vars the binaries read besides the config keys.
pub const OTHER_ENV_VARS: [&str; 9] = [
    "RUST_LOG",
    FILE_VAR,
    "ANALYTICS_FLUSH_FAULT",
    // `flush-worker report`'s --dir and --ingest-url, as the evidence
    // CronJob sets them.
    "ANALYTICS_EVIDENCE_DIR",
    "ANALYTICS_INGEST_URL",
    // OpenTelemetry's standard exporter settings (see `logging`).
    crate::logging::OTLP_ENDPOINT_VARS[0],
    crate::logging::OTLP_ENDPOINT_VARS[1],
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_BSP_SCHEDULE_DELAY",
];

/// Every `ANALYTICS__SECTION__KEY` a binary understands: one per key of the
/// compiled-in defaults (deployments can check their manifests against it).
pub fn known_env_vars() -> Result<std::collections::BTreeSet<String>, ConfigError> {
    fn walk(prefix: &str, value: config::Value, out: &mut std::collections::BTreeSet<String>) {
        match value.kind {
            config::ValueKind::Table(table) => {
                for (k, v) in table {
                    walk(&format!("{prefix}__{}", k.to_uppercase()), v, out);
                }
            }
            _ => {
                out.insert(prefix.to_string());
            }
        }
    }
    let defaults = config::Config::builder()
        .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
        .build()?
        .cache;
    let mut out = std::collections::BTreeSet::new();
    walk("ANALYTICS", defaults, &mut out);
    Ok(out)
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisConfig {
    pub url: String,
    pub pool_size: usize,
    pub shared_connections: usize,
    /// `host:port,…` of a Redis Cluster's nodes; empty for one Redis.
    pub cluster_nodes: String,
    pub connect_timeout_ms: u64,
    pub command_timeout_ms: u64,
    pub key_prefix: String,
    pub partitions: u32,
    pub max_memory_share: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MongoConfig {
    pub url: String,
    pub database: String,
    pub connect_timeout_ms: u64,
    pub ledger_ttl_hours: u64,
    pub exactly_once: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MySqlConfig {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventsConfig {
    pub max_future_seconds: u64,
    pub max_lateness_hours: u64,
    pub default_domain: String,
    pub raw_log: bool,
    /// Whether events whose request comes from a crawler, monitor or
    /// headless browser (by its user agent) are kept out of every count.
    pub filter_bots: bool,
    /// User-agent patterns (regular expressions) added to the bot list.
    pub bot_patterns: Vec<String>,
    /// Whether filtered events are kept, flagged, in the raw event log.
    pub log_filtered: bool,
}

/// How long data is kept (`flush-worker prune` applies it).
#[derive(Debug, Clone, Deserialize)]
pub struct RetentionConfig {
    /// Days of the raw event log (`analytics_events`); 0 keeps it all.
    pub raw_log_days: u64,
    /// Days of job telemetry (`job_events`, block signals).
    pub telemetry_days: u64,
    /// Days of the per-day and per-hour rollup documents; 0 keeps them
    /// (weeks, months, years and totals are always kept).
    pub rollup_days: u64,
}

/// [`RetentionConfig`], checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub raw_log_days: Option<u32>,
    pub telemetry_days: u32,
    pub rollup_days: Option<u32>,
}

impl Retention {
    /// Where the raw event log begins on `today`: midnight UTC of the day
    /// before the first day the read routes allow, so every local day they
    /// serve stays whole in any zone. `None`: the log is kept forever.
    /// Prune deletes what occurred before it; the import lane refuses it.
    pub fn raw_log_since(&self, today: NaiveDate) -> Option<DateTime<Utc>> {
        self.raw_log_days.map(|days| {
            (today - chrono::Duration::days(i64::from(days)))
                .and_time(NaiveTime::MIN)
                .and_utc()
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DomainConfig {
    pub zone: String,
}

/// The store and contract sections every service reads.
#[derive(Debug, Clone, Deserialize)]
pub struct StoreConfig {
    pub redis: RedisConfig,
    pub mongo: MongoConfig,
    pub mysql: MySqlConfig,
    pub events: EventsConfig,
    pub domains: BTreeMap<String, DomainConfig>,
    pub retention: RetentionConfig,
}

fn positive_ms(key: &str, ms: u64) -> Result<Duration, ConfigError> {
    if ms == 0 {
        return Err(invalid(key, "must be greater than 0"));
    }
    Ok(Duration::from_millis(ms))
}

impl StoreConfig {
    pub fn key_space(&self) -> Result<KeySpace, ConfigError> {
        KeySpace::new(&self.redis.key_prefix, self.redis.partitions).map_err(|e| {
            let key = match e {
                analytics_domain::keys::InvalidKeySpace::Prefix(_) => "redis.key_prefix",
                analytics_domain::keys::InvalidKeySpace::Partitions(_) => "redis.partitions",
            };
            invalid(key, e)
        })
    }

    /// `redis.max_memory_share`: the share of Redis's maxmemory at which
    /// ingest holds back (`None`: off).
    pub fn max_memory_share(&self) -> Result<Option<f64>, ConfigError> {
        let share = self.redis.max_memory_share;
        if share == 0.0 {
            return Ok(None);
        }
        if !(share > 0.0 && share <= 1.0) {
            return Err(invalid(
                "redis.max_memory_share",
                "must be 0 (off) or more than 0 and at most 1",
            ));
        }
        Ok(Some(share))
    }

    pub fn redis_settings(&self) -> Result<RedisSettings, ConfigError> {
        if !self.redis.url.starts_with("redis://") && !self.redis.url.starts_with("rediss://") {
            return Err(invalid(
                "redis.url",
                "must start with redis:// or rediss://",
            ));
        }
        if self.redis.pool_size == 0 {
            return Err(invalid("redis.pool_size", "must be greater than 0"));
        }
        if !(1..=64).contains(&self.redis.shared_connections) {
            return Err(invalid("redis.shared_connections", "must be 1..64"));
        }
        Ok(RedisSettings {
            url: self.redis.url.clone(),
            pool_size: self.redis.pool_size,
            shared_connections: self.redis.shared_connections,
            cluster_nodes: cluster_nodes(&self.redis.cluster_nodes)?,
            connect_timeout: positive_ms(
                "redis.connect_timeout_ms",
                self.redis.connect_timeout_ms,
            )?,
            command_timeout: positive_ms(
                "redis.command_timeout_ms",
                self.redis.command_timeout_ms,
            )?,
        })
    }

    pub fn mongo_settings(&self) -> Result<MongoSettings, ConfigError> {
        if !self.mongo.url.starts_with("mongodb://")
            && !self.mongo.url.starts_with("mongodb+srv://")
        {
            return Err(invalid(
                "mongo.url",
                "must start with mongodb:// or mongodb+srv://",
            ));
        }
        if self.mongo.database.is_empty() {
            return Err(invalid("mongo.database", "must not be empty"));
        }
        if self.mongo.ledger_ttl_hours < 24 {
            return Err(invalid("mongo.ledger_ttl_hours", "must be at least 24"));
        }
        Ok(MongoSettings {
            url: self.mongo.url.clone(),
            database: self.mongo.database.clone(),
            connect_timeout: positive_ms(
                "mongo.connect_timeout_ms",
                self.mongo.connect_timeout_ms,
            )?,
            ledger_ttl: Duration::from_secs(self.mongo.ledger_ttl_hours * 3600),
            exactly_once: match self.mongo.exactly_once.as_str() {
                "transaction" => ExactlyOnce::Transaction,
                "markers" => ExactlyOnce::Markers,
                _ => {
                    return Err(invalid(
                        "mongo.exactly_once",
                        "must be transaction (one replica set) or markers (a sharded cluster)",
                    ))
                }
            },
        })
    }

    pub fn mysql_settings(&self) -> Result<MySqlSettings, ConfigError> {
        if !self.mysql.url.starts_with("mysql://") && !self.mysql.url.starts_with("mariadb://") {
            return Err(invalid("mysql.url", "must start with mysql://"));
        }
        if self.mysql.pool_size == 0 {
            return Err(invalid("mysql.pool_size", "must be greater than 0"));
        }
        Ok(MySqlSettings {
            url: self.mysql.url.clone(),
            pool_size: self.mysql.pool_size,
            connect_timeout: positive_ms(
                "mysql.connect_timeout_ms",
                self.mysql.connect_timeout_ms,
            )?,
        })
    }

    pub fn retention(&self) -> Result<Retention, ConfigError> {
        let r = &self.retention;
        let days = |key: &str, n: u64, min: u64| -> Result<Option<u32>, ConfigError> {
            if n == 0 {
                return Ok(None);
            }
            u32::try_from(n)
                .ok()
                .filter(|n| (min..=36_500).contains(&u64::from(*n)))
                .map(Some)
                .ok_or_else(|| invalid(key, format!("must be 0 (keep) or {min}..36500")))
        };
        // The raw log is the durable dedupe of imports and what a rebuild
        // reads: it must outlive the 48 h of the Redis markers.
        let raw_log_days = days("retention.raw_log_days", r.raw_log_days, 3)?;
        let rollup_days = days("retention.rollup_days", r.rollup_days, 3)?;
        if !(1..=365).contains(&r.telemetry_days) {
            return Err(invalid("retention.telemetry_days", "must be 1..365"));
        }
        Ok(Retention {
            raw_log_days,
            telemetry_days: r.telemetry_days as u32,
            rollup_days,
        })
    }

    /// Whether accepted events are kept in the raw event log.
    pub fn raw_log(&self) -> bool {
        self.events.raw_log
    }

    pub fn event_rules(&self) -> Result<EventRules, ConfigError> {
        if self.domains.is_empty() {
            return Err(invalid("domains", "at least one domain must be configured"));
        }
        let mut domains = BTreeMap::new();
        for (name, domain) in &self.domains {
            let key = format!("domains.{name}");
            let parsed = Domain::new(name.clone()).map_err(|e| invalid(&key, e))?;
            let mode: BucketMode = domain
                .zone
                .parse()
                .map_err(|e| invalid(format!("{key}.zone"), e))?;
            domains.insert(parsed, mode);
        }
        let lateness = self.events.max_lateness_hours;
        if lateness == 0 || lateness >= 48 {
            return Err(invalid(
                "events.max_lateness_hours",
                "must be 1..47: it must stay below the 48 h dedupe window",
            ));
        }
        let default_domain = Domain::new(self.events.default_domain.clone())
            .ok()
            .filter(|d| domains.contains_key(d))
            .ok_or_else(|| {
                invalid(
                    "events.default_domain",
                    "must name one of the configured [domains.*]",
                )
            })?;
        Ok(EventRules {
            domains,
            default_domain,
            max_future: Duration::from_secs(self.events.max_future_seconds),
            lateness: Lateness::Within(Duration::from_secs(lateness * 3600)),
        })
    }
}

/// `redis.cluster_nodes`: `host:port` items separated by commas.
fn cluster_nodes(list: &str) -> Result<Vec<String>, ConfigError> {
    let nodes: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    for node in &nodes {
        let valid = node.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            return Err(invalid(
                "redis.cluster_nodes",
                format!("{node:?} is not host:port (expected host:port,host:port,...)"),
            ));
        }
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> StoreConfig {
        config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .expect("defaults deserialize")
    }

    #[test]
    fn the_defaults_are_valid() {
        let cfg = defaults();
        assert!(cfg.key_space().is_ok());
        assert!(cfg.redis_settings().is_ok());
        assert!(cfg.mongo_settings().is_ok());
        assert!(cfg.mysql_settings().is_ok());
        let rules = cfg.event_rules().expect("rules");
        assert_eq!(
            rules.lateness,
            Lateness::Within(Duration::from_secs(47 * 3600))
        );
    }

    #[test]
    fn known_env_vars_follow_the_default_keys() {
        let vars = known_env_vars().expect("defaults parse");
        for v in [
            "ANALYTICS__REDIS__URL",
            "ANALYTICS__DOMAINS__JAV__ZONE",
            "ANALYTICS__READ_API__ADMIN_TOKEN",
        ] {
            assert!(vars.contains(v), "{v}");
        }
        assert!(!vars.contains("ANALYTICS__REDIS"));
    }

    #[test]
    fn invalid_values_name_their_key() {
        let mut cfg = defaults();
        cfg.domains.insert(
            "jav".into(),
            DomainConfig {
                zone: "Mars/Base".into(),
            },
        );
        let err = cfg.event_rules().expect_err("bad zone").to_string();
        assert!(err.contains("domains.jav.zone"), "{err}");

        let mut cfg = defaults();
        cfg.events.max_lateness_hours = 48;
        assert!(cfg
            .event_rules()
            .expect_err("48h")
            .to_string()
            .contains("events.max_lateness_hours"));

        let mut cfg = defaults();
        cfg.redis.partitions = 0;
        assert!(cfg
            .key_space()
            .expect_err("0")
            .to_string()
            .contains("redis.partitions"));

        let mut cfg = defaults();
        cfg.redis.command_timeout_ms = 0;
        assert!(cfg
            .redis_settings()
            .expect_err("0")
            .to_string()
            .contains("redis.command_timeout_ms"));

        let mut cfg = defaults();
        cfg.redis.cluster_nodes = "10.0.0.1:7000, redis-2".into();
        assert_eq!(
            cfg.redis_settings().expect_err("no port").to_string(),
            "configuration key redis.cluster_nodes: \"redis-2\" is not host:port (expected host:port,host:port,...)"
        );
        cfg.redis.cluster_nodes = " 10.0.0.1:7000, redis-2:7001 ,".into();
        assert_eq!(
            cfg.redis_settings().map(|s| s.cluster_nodes).ok(),
            Some(vec![
                "10.0.0.1:7000".to_string(),
                "redis-2:7001".to_string()
            ])
        );

        let mut cfg = defaults();
        cfg.mongo.exactly_once = "ledger".into();
        assert_eq!(
            cfg.mongo_settings().err().map(|e| e.to_string()),
            Some(
                "configuration key mongo.exactly_once: must be transaction (one replica set) \
                 or markers (a sharded cluster)"
                    .into()
            )
        );
        cfg.mongo.exactly_once = "markers".into();
        assert_eq!(
            cfg.mongo_settings().map(|s| s.exactly_once).ok(),
            Some(ExactlyOnce::Markers)
        );
    }
}
