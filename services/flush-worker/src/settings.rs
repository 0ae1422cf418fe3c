//! flush-worker's typed configuration.

use analytics_runtime::config::{ConfigError, StoreConfig};
use analytics_store::hot_counters::LegacyKeys;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(flatten)]
    pub stores: StoreConfig,
    pub flush: FlushConfig,
    pub cutover: CutoverConfig,
}

/// Where the system this replaces kept its keys in Redis.
#[derive(Debug, Clone, Deserialize)]
pub struct CutoverConfig {
    /// Its `analytics.redis_prefix` (the counter hashes are
    /// `<prefix>:<domain>:<type>:<id>`).
    pub legacy_counter_prefix: String,
    /// Where its flush renamed the hashes it worked on.
    pub legacy_flushing_prefix: String,
    /// Its dedupe markers' prefix.
    pub legacy_marker_prefix: String,
}

impl CutoverConfig {
    pub fn legacy_keys(&self) -> LegacyKeys {
        LegacyKeys {
            counters: self.legacy_counter_prefix.clone(),
            flushing: self.legacy_flushing_prefix.clone(),
            markers: self.legacy_marker_prefix.clone(),
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("cutover.legacy_counter_prefix", &self.legacy_counter_prefix),
            (
                "cutover.legacy_flushing_prefix",
                &self.legacy_flushing_prefix,
            ),
            ("cutover.legacy_marker_prefix", &self.legacy_marker_prefix),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::Invalid {
                    key: key.into(),
                    message: "must not be empty (it would match every key)".into(),
                });
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct FlushConfig {
    pub batch_size: usize,
    pub lease_ttl_ms: u64,
    pub partitions: String,
    pub max_run_seconds: u64,
    pub transaction_retry_seconds: u64,
    pub step_timeout_seconds: u64,
}

impl FlushConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        };
        if !(1..=100_000).contains(&self.batch_size) {
            return Err(invalid("flush.batch_size", "must be 1..100000"));
        }
        if self.lease_ttl_ms < 100 {
            return Err(invalid("flush.lease_ttl_ms", "must be at least 100"));
        }
        if self.max_run_seconds == 0 {
            return Err(invalid("flush.max_run_seconds", "must be greater than 0"));
        }
        if !(1..=3600).contains(&self.transaction_retry_seconds) {
            return Err(invalid(
                "flush.transaction_retry_seconds",
                "must be 1..3600",
            ));
        }
        if !(1..=3600).contains(&self.step_timeout_seconds) {
            return Err(invalid("flush.step_timeout_seconds", "must be 1..3600"));
        }
        Ok(())
    }

    pub fn step_timeout(&self) -> Duration {
        Duration::from_secs(self.step_timeout_seconds)
    }

    /// The longest a whole flush may take: its rounds, the last round's
    /// retries, and the steps after the sweep, each at its deadline. Past
    /// it the process ends with exit 1 whatever it waits on.
    pub fn run_deadline(&self) -> Duration {
        Duration::from_secs(
            self.max_run_seconds + self.transaction_retry_seconds + 6 * self.step_timeout_seconds,
        )
    }
}

/// Parses a partition selection: "" = all, "0-7", "1,3,5", "0-3,8".
pub fn parse_partitions(spec: &str, count: u16) -> Result<Vec<u16>, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        key: "flush.partitions".into(),
        message,
    };
    if spec.trim().is_empty() {
        return Ok((0..count).collect());
    }
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let parse = |s: &str| {
            s.parse::<u16>()
                .ok()
                .filter(|p| *p < count)
                .ok_or_else(|| invalid(format!("{s:?} is not a partition number below {count}")))
        };
        let (lo, hi) = (parse(lo)?, parse(hi)?);
        if lo > hi {
            return Err(invalid(format!("range {part:?} is reversed")));
        }
        out.extend(lo..=hi);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_specs_select_shards() {
        assert_eq!(parse_partitions("", 4).expect("all"), vec![0, 1, 2, 3]);
        assert_eq!(
            parse_partitions("0-2, 7, 1", 16).expect("mixed"),
            vec![0, 1, 2, 7]
        );
        assert!(parse_partitions("3-1", 16).is_err());
        assert!(parse_partitions("16", 16).is_err());
        assert!(parse_partitions("x", 16).is_err());
    }
}
