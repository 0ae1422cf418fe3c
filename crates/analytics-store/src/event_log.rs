//! The raw event log in MySQL: entries copied from the partitions' Redis
//! streams by the flush, one multi-row `INSERT IGNORE` per chunk.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use sqlx::{MySql, QueryBuilder};

use crate::catalogue::CatalogueStore;
use crate::error::StoreError;

/// Rows per statement: 24 columns each stays far below MySQL's 65,535
/// placeholders.
const ROWS_PER_INSERT: usize = 500;
/// The raw event log the reports read.
pub const LOG_TABLE: &str = "analytics_events";
/// Events counted nowhere (a bot's), kept with their reason when
/// `events.log_filtered` is on.
pub const FILTERED_TABLE: &str = "analytics_events_filtered";
/// The ids of erased users' events, kept (without the user) so that an
/// import sending them again is a duplicate; pruned with the log.
pub const ERASED_TABLE: &str = "analytics_erased_events";

/// One entry of the log as ingest wrote it (the normalised event plus its
/// provenance).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LogEntry {
    pub event_id: String,
    pub domain: String,
    pub entity_type: String,
    pub entity_id: String,
    pub action: String,
    pub value: i64,
    pub occurred_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub local_hour: u8,
    #[serde(default)]
    pub user_id: Option<Value>,
    pub session_id: Option<String>,
    pub position_seconds: Option<u32>,
    pub duration_seconds: Option<u32>,
    pub watched_seconds: Option<u32>,
    pub query: Option<String>,
    pub result_count: Option<u32>,
    pub placement: Option<String>,
    pub reason: Option<String>,
    pub properties: Option<Map<String, Value>>,
    pub filters: Option<Map<String, Value>>,
    pub client_network: Option<String>,
    pub user_agent: Option<String>,
    pub received_at: DateTime<Utc>,
    /// Why the event was counted nowhere (`bot`); such events go to
    /// `analytics_events_filtered`, never to the log the reports read.
    #[serde(default)]
    pub filtered: Option<String>,
}

/// What the import lane compares of a logged event: the same entity,
/// action and value under its id is a repeat; anything else is the id
/// reused for another event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub domain: String,
    pub entity_type: String,
    pub entity_id: String,
    pub action: String,
    pub value: i64,
}

impl LogEntry {
    pub fn parse(raw: &str) -> Option<LogEntry> {
        serde_json::from_str(raw).ok()
    }

    fn user_id(&self) -> Option<String> {
        match &self.user_id {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// A UTC time as MySQL's DATETIME(3) literal (bound as text: the driver's
/// chrono support is not compiled in).
pub(crate) fn naive(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

fn json_text(m: &Option<Map<String, Value>>) -> Option<String> {
    m.as_ref().map(|m| Value::Object(m.clone()).to_string())
}

impl CatalogueStore {
    /// Inserts log entries; an event already there is skipped (its id is
    /// unique). Filtered events go to `analytics_events_filtered` with their
    /// reason. Each statement commits on its own, so once this returns every
    /// entry is durable. Returns the rows inserted.
    pub async fn insert_events(&self, entries: &[LogEntry]) -> Result<u64, StoreError> {
        let (filtered, counted): (Vec<&LogEntry>, Vec<&LogEntry>) =
            entries.iter().partition(|e| e.filtered.is_some());
        Ok(self.insert_into(LOG_TABLE, &counted).await?
            + self.insert_into(FILTERED_TABLE, &filtered).await?)
    }

    async fn insert_into(&self, table: &str, entries: &[&LogEntry]) -> Result<u64, StoreError> {
        let filtered = table == FILTERED_TABLE;
        let mut inserted = 0;
        for chunk in entries.chunks(ROWS_PER_INSERT) {
            let mut q = QueryBuilder::<MySql>::new(format!(
                "INSERT IGNORE INTO {table} (event_id, domain, entity_type, entity_id, \
                 action, value, occurred_at, local_date, local_hour, user_id, session_id, \
                 position_seconds, duration_seconds, watched_seconds, query, result_count, \
                 placement, reason, properties, filters, client_network, user_agent, received_at{}) ",
                if filtered { ", filter_reason" } else { "" }
            ));
            q.push_values(chunk, |mut row, e| {
                row.push_bind(&e.event_id)
                    .push_bind(&e.domain)
                    .push_bind(&e.entity_type)
                    .push_bind(&e.entity_id)
                    .push_bind(&e.action)
                    .push_bind(e.value)
                    .push_bind(naive(&e.occurred_at))
                    .push_bind(e.local_date.format("%Y-%m-%d").to_string())
                    .push_bind(e.local_hour)
                    .push_bind(e.user_id())
                    .push_bind(&e.session_id)
                    .push_bind(e.position_seconds)
                    .push_bind(e.duration_seconds)
                    .push_bind(e.watched_seconds)
                    .push_bind(&e.query)
                    .push_bind(e.result_count)
                    .push_bind(&e.placement)
                    .push_bind(&e.reason)
                    .push_bind(json_text(&e.properties))
                    .push_bind(json_text(&e.filters))
                    .push_bind(&e.client_network)
                    .push_bind(&e.user_agent)
                    .push_bind(naive(&e.received_at));
                if filtered {
                    row.push_bind(&e.filtered);
                }
            });
            inserted += q.build().execute(self.pool()).await?.rows_affected();
        }
        Ok(inserted)
    }

    /// The logged events among `ids` (the import lane's durable dedupe:
    /// the log outlives the 48 h Redis markers), by id; an erased user's
    /// events count as logged (their ids stay in `analytics_erased_events`).
    pub async fn find_logged(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, LoggedEvent>, StoreError> {
        let mut found = HashMap::new();
        for (table, chunk) in [LOG_TABLE, ERASED_TABLE]
            .into_iter()
            .flat_map(|t| ids.chunks(ROWS_PER_INSERT).map(move |c| (t, c)))
        {
            let mut q = QueryBuilder::<MySql>::new(format!(
                "SELECT CONVERT(event_id USING utf8mb4), CONVERT(domain USING utf8mb4), \
                 CONVERT(entity_type USING utf8mb4), CONVERT(entity_id USING utf8mb4), \
                 CONVERT(action USING utf8mb4), value FROM {table} WHERE event_id IN ("
            ));
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(")");
            let rows: Vec<(String, String, String, String, String, i64)> =
                q.build_query_as().fetch_all(self.pool()).await?;
            for (id, domain, entity_type, entity_id, action, value) in rows {
                let event = LoggedEvent {
                    domain,
                    entity_type,
                    entity_id,
                    action,
                    value,
                };
                found.insert(id, event);
            }
        }
        Ok(found)
    }

    /// Rows of the log (tests and parity checks).
    pub async fn logged_events(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM analytics_events")
            .fetch_one(self.pool())
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_parses_with_its_optional_fields() {
        let raw = r#"{"event_id":"e","domain":"jav","entity_type":"movie","entity_id":"m",
            "action":"start","value":1,"occurred_at":"2026-11-21T10:00:00Z",
            "local_date":"2026-11-21","local_hour":10,"user_id":42,"session_id":"s",
            "properties":{"quality":"720p"},"received_at":"2026-11-21T10:00:01.250Z",
            "client_network":"203.0.113.0"}"#;
        let e = LogEntry::parse(raw).expect("entry");
        assert_eq!(e.user_id().as_deref(), Some("42"));
        assert_eq!(
            json_text(&e.properties).as_deref(),
            Some(r#"{"quality":"720p"}"#)
        );
        assert_eq!(e.position_seconds, None);
        assert!(LogEntry::parse("{}").is_none());
    }
}
