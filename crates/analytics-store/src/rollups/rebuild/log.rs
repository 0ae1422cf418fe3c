//! The raw-log side of a rebuild: the entities of a window of local days
//! and their events, read from MySQL as the contract's JSON objects.

use analytics_domain::{Domain, EntityType};
use chrono::{DateTime, NaiveDate, Utc};
use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::mysql::MySqlRow;
use sqlx::Row;

use crate::catalogue::CatalogueStore;
use crate::error::{bounded, StoreError};
use crate::event_log::{naive, LOG_TABLE};

/// A raw-log row as the contract's JSON object, so the domain validates
/// and buckets it exactly as ingest did.
#[derive(Debug)]
struct LoggedRow {
    event_id: String,
    domain: String,
    entity_type: String,
    entity_id: String,
    action: String,
    value: i32,
    occurred_at: String,
    user_id: Option<String>,
    session_id: Option<String>,
    position_seconds: Option<u32>,
    duration_seconds: Option<u32>,
    watched_seconds: Option<u32>,
    query: Option<String>,
    result_count: Option<u32>,
    placement: Option<String>,
    reason: Option<String>,
    properties: Option<String>,
    filters: Option<String>,
}

impl LoggedRow {
    fn into_event(self) -> Map<String, Value> {
        let mut e = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                e.insert(k.to_string(), v);
            }
        };
        put("event_id", Some(self.event_id.into()));
        put("domain", Some(self.domain.into()));
        put("entity_type", Some(self.entity_type.into()));
        put("entity_id", Some(self.entity_id.into()));
        put("action", Some(self.action.into()));
        put("value", Some(self.value.into()));
        put("occurred_at", Some(self.occurred_at.into()));
        // The log keeps an integer id by its digits; either form buckets
        // the same (registers hash the text).
        put("user_id", self.user_id.map(Value::from));
        put("session_id", self.session_id.map(Value::from));
        put("position_seconds", self.position_seconds.map(Value::from));
        put("duration_seconds", self.duration_seconds.map(Value::from));
        put("watched_seconds", self.watched_seconds.map(Value::from));
        put("query", self.query.map(Value::from));
        put("result_count", self.result_count.map(Value::from));
        put("placement", self.placement.map(Value::from));
        put("reason", self.reason.map(Value::from));
        let json = |s: Option<String>| s.and_then(|s| serde_json::from_str::<Value>(&s).ok());
        put("properties", json(self.properties));
        put("filters", json(self.filters));
        e
    }
}

/// The window of the raw log a rebuild reads: rows whose local date is in
/// `from..=to`, found along `occurred_at` between `since` and `until` (the
/// range widened by a day each side: every zone's local days fall inside).
#[derive(Debug, Clone, Copy)]
pub struct LogWindow {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// One entity of the raw log's window, as stored (its domain may no longer
/// be configured): how many events it has there and the least event id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEntity {
    pub domain: String,
    pub entity_type: String,
    pub entity_id: String,
    pub events: i64,
    pub first_event: String,
}

// Read by column name, as a derive would (sqlx's `macros` feature is not
// built: see catalogue/migrations.rs).
impl<'r> sqlx::FromRow<'r, MySqlRow> for LoggedEntity {
    fn from_row(row: &'r MySqlRow) -> Result<Self, sqlx::Error> {
        Ok(LoggedEntity {
            domain: row.try_get("domain")?,
            entity_type: row.try_get("entity_type")?,
            entity_id: row.try_get("entity_id")?,
            events: row.try_get("events")?,
            first_event: row.try_get("first_event")?,
        })
    }
}

impl<'r> sqlx::FromRow<'r, MySqlRow> for LoggedRow {
    fn from_row(row: &'r MySqlRow) -> Result<Self, sqlx::Error> {
        Ok(LoggedRow {
            event_id: row.try_get("event_id")?,
            domain: row.try_get("domain")?,
            entity_type: row.try_get("entity_type")?,
            entity_id: row.try_get("entity_id")?,
            action: row.try_get("action")?,
            value: row.try_get("value")?,
            occurred_at: row.try_get("occurred_at")?,
            user_id: row.try_get("user_id")?,
            session_id: row.try_get("session_id")?,
            position_seconds: row.try_get("position_seconds")?,
            duration_seconds: row.try_get("duration_seconds")?,
            watched_seconds: row.try_get("watched_seconds")?,
            query: row.try_get("query")?,
            result_count: row.try_get("result_count")?,
            placement: row.try_get("placement")?,
            reason: row.try_get("reason")?,
            properties: row.try_get("properties")?,
            filters: row.try_get("filters")?,
        })
    }
}

impl CatalogueStore {
    /// Every entity with events in the window (of one entity type or all),
    /// in key order. A rebuild pages through these, so it holds one page
    /// of events at a time however large the range.
    pub async fn logged_entities(
        &self,
        window: &LogWindow,
        entity_type: Option<EntityType>,
    ) -> Result<Vec<LoggedEntity>, StoreError> {
        let type_clause = if entity_type.is_some() {
            " AND entity_type = ?"
        } else {
            ""
        };
        let sql = format!(
            "SELECT CONVERT(domain USING utf8mb4) AS domain, \
             CONVERT(entity_type USING utf8mb4) AS entity_type, \
             CONVERT(entity_id USING utf8mb4) AS entity_id, COUNT(*) AS events, \
             CONVERT(MIN(event_id) USING utf8mb4) AS first_event FROM {LOG_TABLE} \
             WHERE occurred_at >= ? AND occurred_at < ? AND local_date BETWEEN ? AND ?{type_clause} \
             GROUP BY domain, entity_type, entity_id ORDER BY domain, entity_type, entity_id"
        );
        let mut q = sqlx::query_as::<_, LoggedEntity>(&sql)
            .bind(naive(&window.since))
            .bind(naive(&window.until))
            .bind(window.from.to_string())
            .bind(window.to.to_string());
        if let Some(t) = entity_type {
            q = q.bind(t.as_str());
        }
        Ok(q.fetch_all(self.pool()).await?)
    }

    /// Calls `each` with every raw-log event of the window that belongs to
    /// one of `ids` (entities of one domain and type), read along the
    /// entity index. Returns the rows read. A page of a long range may
    /// stream for minutes: `idle` bounds each wait for the next row, so a
    /// store that stops answering ends the read whatever its length.
    pub async fn for_each_logged(
        &self,
        window: &LogWindow,
        domain: &Domain,
        entity_type: EntityType,
        ids: &[String],
        idle: std::time::Duration,
        mut each: impl FnMut(Map<String, Value>),
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let text = |c: &str| format!("CONVERT({c} USING utf8mb4) AS {c}");
        let columns = [
            text("event_id"),
            text("domain"),
            text("entity_type"),
            text("entity_id"),
            text("action"),
            "value".into(),
            "DATE_FORMAT(occurred_at, '%Y-%m-%dT%H:%i:%s.%fZ') AS occurred_at".into(),
            text("user_id"),
            text("session_id"),
            "position_seconds".into(),
            "duration_seconds".into(),
            "watched_seconds".into(),
            text("query"),
            "result_count".into(),
            text("placement"),
            text("reason"),
            text("properties"),
            text("filters"),
        ]
        .join(", ");
        let placeholders = vec!["?"; ids.len()].join(", ");
        let sql = format!(
            "SELECT {columns} FROM {LOG_TABLE} WHERE domain = ? AND entity_type = ? \
             AND entity_id IN ({placeholders}) AND occurred_at >= ? AND occurred_at < ? \
             AND local_date BETWEEN ? AND ?"
        );
        let mut q = sqlx::query_as::<_, LoggedRow>(&sql)
            .bind(domain.as_str())
            .bind(entity_type.as_str());
        for id in ids {
            q = q.bind(id);
        }
        let mut rows = q
            .bind(naive(&window.since))
            .bind(naive(&window.until))
            .bind(window.from.to_string())
            .bind(window.to.to_string())
            .fetch(self.pool());
        let mut n = 0;
        while let Some(row) = bounded("mariadb", idle, rows.try_next()).await? {
            each(row.into_event());
            n += 1;
        }
        Ok(n)
    }
}
