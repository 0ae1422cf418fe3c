//! What still waits in Redis for a range of local days: a rebuild from the
//! raw log is exact only for days whose every event is both in MySQL and
//! in the rollups, so it refuses days that still have counts or log lines
//! waiting for a flush (or a batch an interrupted flush left open).

use analytics_domain::{CounterField, EntityType};
use chrono::NaiveDate;
use deadpool_redis::redis;
use serde_json::Value;

use super::HotCounters;
use crate::error::StoreError;

/// Keys read per round trip.
const PAGE: usize = 500;

/// What waits in Redis on the days of a range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitingInRange {
    /// Batches an interrupted flush left claimed (any days).
    pub open_batches: u64,
    /// Counter fields (counts, sums, registers) dated in the range.
    pub counter_fields: u64,
    /// Raw-log lines dated in the range not yet copied to MySQL.
    pub log_lines: u64,
}

impl WaitingInRange {
    pub fn is_empty(&self) -> bool {
        *self == WaitingInRange::default()
    }
}

/// The local date a counter field counts on (none for a total-only count).
fn field_date(field: &CounterField) -> Option<NaiveDate> {
    match field {
        CounterField::Count { hour, .. }
        | CounterField::Sum { hour, .. }
        | CounterField::HourRegister { hour, .. } => Some(hour.date),
        CounterField::Day { date, .. } | CounterField::DayRegister { date, .. } => Some(*date),
        CounterField::Total { .. } => None,
    }
}

impl HotCounters {
    /// What waits on partition `p` for `from..=to` (of one entity type, or
    /// all; the site's hour registers count for all only).
    pub async fn waiting_in_range(
        &self,
        p: u16,
        from: NaiveDate,
        to: NaiveDate,
        entity_type: Option<EntityType>,
    ) -> Result<WaitingInRange, StoreError> {
        let in_range = |d: NaiveDate| from <= d && d <= to;
        let type_matches = |t: &str| match entity_type {
            Some(want) => t == want.as_str(),
            None => true,
        };
        let mut waiting = WaitingInRange::default();
        let open_key = self.keys.open_batch(p);
        let dirty_key = self.keys.dirty(p);
        let (open, dirty): (Option<String>, Vec<String>) = self
            .run(async |c| {
                redis::pipe()
                    .cmd("GET")
                    .arg(&open_key)
                    .cmd("ZRANGE")
                    .arg(&dirty_key)
                    .arg(0)
                    .arg(-1)
                    .query_async(c)
                    .await
            })
            .await?;
        waiting.open_batches = u64::from(open.is_some());
        // A counter key ends in `cnt:<domain>:<type>:<id>`.
        let type_of = |key: &str| {
            key.split_once(":cnt:")
                .and_then(|(_, rest)| rest.split(':').nth(1))
                .map(str::to_string)
        };
        let keys: Vec<&String> = dirty
            .iter()
            .filter(|k| type_of(k).is_some_and(|t| type_matches(&t)))
            .collect();
        for page in keys.chunks(PAGE) {
            let mut pipe = redis::pipe();
            for key in page {
                pipe.cmd("HKEYS").arg(key.as_str());
            }
            let fields: Vec<Vec<String>> = self.run(async |c| pipe.query_async(c).await).await?;
            waiting.counter_fields += fields
                .iter()
                .flatten()
                .filter_map(|f| CounterField::parse(f))
                .filter_map(|f| field_date(&f))
                .filter(|d| in_range(*d))
                .count() as u64;
        }
        if let Some(end) = self.log_end(p).await? {
            let mut start = "-".to_string();
            loop {
                let page = self.read_log_range(p, &start, &end, PAGE).await?;
                for (_, entry) in &page {
                    for line in entry.lines() {
                        let Ok(e) = serde_json::from_str::<Value>(line) else {
                            continue;
                        };
                        let logged = e.get("filtered").is_none_or(Value::is_null);
                        let date = e["local_date"]
                            .as_str()
                            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
                        let kind = e["entity_type"].as_str().unwrap_or_default();
                        if logged && date.is_some_and(in_range) && type_matches(kind) {
                            waiting.log_lines += 1;
                        }
                    }
                }
                match page.last() {
                    Some((last, _)) if page.len() == PAGE => start = format!("({last}"),
                    _ => break,
                }
            }
        }
        Ok(waiting)
    }
}
