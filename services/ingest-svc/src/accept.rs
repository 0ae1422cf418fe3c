//! From a decoded body to what the ingest script needs: the producer's
//! shape mapped onto the contract, validated, its increments computed and
//! its raw-log entry written.

use analytics_domain::measures::Increments;
pub use analytics_domain::privacy::Provenance;
use analytics_domain::producers::{self, Shape};
use analytics_domain::{BucketMode, Event, EventRules, ValidationErrors, ValueLimits};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

/// A valid event, ready to count.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub event: Event,
    pub shape: Shape,
    pub increments: Increments,
    /// The zone the event was bucketed in (its domain's).
    pub mode: BucketMode,
    /// The raw-log entry: the normalised event with its provenance.
    pub log_entry: String,
}

pub fn prepare(
    rules: &EventRules,
    limits: &ValueLimits,
    body: Map<String, Value>,
    now: DateTime<Utc>,
    provenance: &Provenance,
) -> Result<Prepared, ValidationErrors> {
    let received_at = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mapped = producers::to_contract(body, &rules.default_domain, &received_at, || {
        uuid::Uuid::now_v7().to_string()
    });
    let event = mapped.validate(rules, now, limits)?;
    let mode = rules.bucket_mode(&event.entity.domain);
    let increments = event.increments(&mode);
    let log_entry = event.log_entry(&mode, now, provenance);
    Ok(Prepared {
        event,
        shape: mapped.shape,
        increments,
        mode,
        log_entry,
    })
}
