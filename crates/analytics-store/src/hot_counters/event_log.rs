//! The Redis half of the raw event log: each partition's stream, read in
//! order by the flush and trimmed (lease-fenced) once copied.

use deadpool_redis::redis;

use super::HotCounters;
use crate::error::StoreError;

/// An entry of a partition's log: its stream id and what ingest wrote (the
/// events of one script call, one JSON line each).
pub type LogRecord = (String, String);

impl HotCounters {
    /// The id of the newest entry now: a run copies up to it, so under
    /// continuous ingest it still ends.
    pub async fn log_end(&self, p: u16) -> Result<Option<String>, StoreError> {
        self.newest_stream_id(&self.keys.log(p)).await
    }

    /// The id of a stream's newest entry (none for an empty stream).
    pub(super) async fn newest_stream_id(&self, key: &str) -> Result<Option<String>, StoreError> {
        let newest: Vec<(String, Vec<(String, String)>)> = self
            .run(async |c| {
                redis::cmd("XREVRANGE")
                    .arg(key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(c)
                    .await
            })
            .await?;
        Ok(newest.into_iter().next().map(|(id, _)| id))
    }

    /// The oldest `count` entries up to `end` (inclusive).
    pub async fn read_log(
        &self,
        p: u16,
        end: &str,
        count: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        self.read_log_range(p, "-", end, count).await
    }

    /// The oldest `count` entries from `start` to `end` (XRANGE bounds:
    /// `-`, an id, or `(id` for after it).
    pub(super) async fn read_log_range(
        &self,
        p: u16,
        start: &str,
        end: &str,
        count: usize,
    ) -> Result<Vec<LogRecord>, StoreError> {
        let key = self.keys.log(p);
        let entries: Vec<(String, Vec<(String, String)>)> = self
            .run(async |c| {
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg(start)
                    .arg(end)
                    .arg("COUNT")
                    .arg(count)
                    .query_async(c)
                    .await
            })
            .await?;
        Ok(entries
            .into_iter()
            .map(|(id, fields)| {
                let entry = fields
                    .into_iter()
                    .find(|(f, _)| f == "e")
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                (id, entry)
            })
            .collect())
    }

    /// Appends events counted nowhere (a bot's) to their partitions' logs,
    /// one entry per partition, as ingest's script appends counted ones: the
    /// flush copies them to the filtered table by the reason in each line.
    /// `events`: `(event_id, log line)`.
    pub async fn log_filtered(&self, events: &[(&str, &str)]) -> Result<(), StoreError> {
        let mut by_partition: std::collections::BTreeMap<u16, Vec<&str>> = Default::default();
        for (id, line) in events {
            by_partition
                .entry(self.keys.partition_of(id))
                .or_default()
                .push(line);
        }
        let mut pipe = redis::pipe();
        for (p, lines) in &by_partition {
            pipe.cmd("XADD")
                .arg(self.keys.log(*p))
                .arg("*")
                .arg("e")
                .arg(lines.join("\n"))
                .ignore();
        }
        self.run(async |c| pipe.query_async::<()>(c).await).await
    }

    /// Deletes copied entries; `LeaseLost` if another run holds the
    /// partition now.
    pub async fn trim_log(&self, p: u16, run_id: &str, ids: &[String]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut invocation = self.scripts.trim_log.prepare_invoke();
        invocation
            .key(self.keys.lease(p))
            .key(self.keys.log(p))
            .arg(run_id);
        for id in ids {
            invocation.arg(id);
        }
        let deleted: i64 = self.run(async |c| invocation.invoke_async(c).await).await?;
        u64::try_from(deleted).map_err(|_| StoreError::LeaseLost { partition: p })
    }
}
