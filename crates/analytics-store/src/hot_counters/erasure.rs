//! Erasure on the Redis side: a user's events taken out of the partitions'
//! raw event logs before the flush copies them to MySQL (under the flush
//! leases, so no copy is under way), out of the live feed's samples, and
//! the user off the live viewers.

use std::time::Duration;

use deadpool_redis::redis;
use serde_json::Value;
use tokio::time::Instant;

use super::HotCounters;
use crate::error::StoreError;

/// Stream entries read per round trip.
const PAGE: usize = 500;
/// How often a busy lease is tried again.
const LEASE_POLL: Duration = Duration::from_millis(100);

/// Whether one event line (a raw-log line or a live-feed sample) is the
/// user's: its `user_id`, text or integer, is `user_id` exactly.
pub fn is_users_line(line: &str, user_id: &str) -> bool {
    match serde_json::from_str::<Value>(line) {
        Ok(event) => match event.get("user_id") {
            Some(Value::String(s)) => s == user_id,
            Some(Value::Number(n)) => n.to_string() == user_id,
            _ => false,
        },
        Err(_) => false,
    }
}

/// An entry of a partition's log holding a user's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersEntry {
    pub id: String,
    /// The user's lines (events as ingest logged them).
    pub theirs: Vec<String>,
    /// The other lines, joined as the entry held them.
    pub rest: String,
}

impl HotCounters {
    /// Takes every partition's flush lease for `ttl`, waiting up to `wait`
    /// for a flush that holds one; past it, gives back what it took and
    /// answers `PartitionsBusy` (an outage: the caller retries).
    pub async fn lease_every_partition(
        &self,
        run_id: &str,
        ttl: Duration,
        wait: Duration,
    ) -> Result<(), StoreError> {
        let deadline = Instant::now() + wait;
        for p in self.keys.partitions() {
            loop {
                match self.acquire_lease(p, run_id, ttl).await {
                    Ok(true) => break,
                    Ok(false) if Instant::now() < deadline => tokio::time::sleep(LEASE_POLL).await,
                    Ok(false) => {
                        self.release_every_partition(run_id).await;
                        return Err(StoreError::PartitionsBusy {
                            partition: p,
                            waited_seconds: wait.as_secs(),
                        });
                    }
                    Err(e) => {
                        self.release_every_partition(run_id).await;
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }

    /// Extends every lease `run_id` holds (`LeaseLost` if one was lost).
    pub async fn renew_every_partition(
        &self,
        run_id: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        for p in self.keys.partitions() {
            self.renew_lease(p, run_id, ttl).await?;
        }
        Ok(())
    }

    /// Gives back every lease `run_id` holds. Best effort: a lease left
    /// behind expires by its TTL.
    pub async fn release_every_partition(&self, run_id: &str) {
        for p in self.keys.partitions() {
            if let Err(e) = self.release_lease(p, run_id).await {
                tracing::warn!(partition = p, error = %e, "could not release a lease; it expires");
            }
        }
    }

    /// The entries of partition `p`'s log that hold the user's events:
    /// each entry's id, the user's lines, and the other lines.
    pub async fn users_log_entries(
        &self,
        p: u16,
        user_id: &str,
    ) -> Result<Vec<UsersEntry>, StoreError> {
        let Some(end) = self.log_end(p).await? else {
            return Ok(Vec::new());
        };
        let mut start = "-".to_string();
        let mut found = Vec::new();
        loop {
            let page = self.read_log_range(p, &start, &end, PAGE).await?;
            for (id, entry) in &page {
                let (theirs, rest): (Vec<&str>, Vec<&str>) =
                    entry.split('\n').partition(|l| is_users_line(l, user_id));
                if !theirs.is_empty() {
                    found.push(UsersEntry {
                        id: id.clone(),
                        theirs: theirs.into_iter().map(str::to_string).collect(),
                        rest: rest.join("\n"),
                    });
                }
            }
            match page.last() {
                Some((last, _)) if page.len() == PAGE => start = format!("({last}"),
                _ => return Ok(found),
            }
        }
    }

    /// Replaces an entry of partition `p`'s log by its other lines, under
    /// the lease `run_id` holds; false if the entry was already gone.
    pub async fn replace_log_entry(
        &self,
        p: u16,
        run_id: &str,
        entry: &UsersEntry,
    ) -> Result<bool, StoreError> {
        self.replace_entry(p, run_id, &entry.id, &entry.rest).await
    }

    async fn replace_entry(
        &self,
        p: u16,
        run_id: &str,
        id: &str,
        rest: &str,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.scripts.scrub_log_entry.prepare_invoke();
        invocation
            .key(self.keys.lease(p))
            .key(self.keys.log(p))
            .arg(run_id)
            .arg(id)
            .arg(rest);
        let reply: i64 = self.run(async |c| invocation.invoke_async(c).await).await?;
        match reply {
            -1 => Err(StoreError::LeaseLost { partition: p }),
            replaced => Ok(replaced == 1),
        }
    }

    /// Takes the user's samples out of the live feed and the user off the
    /// live viewers; returns the samples deleted and whether the user was
    /// watching. (The feed is capped at about a thousand entries.)
    pub async fn scrub_live(&self, user_id: &str) -> Result<(u64, bool), StoreError> {
        let feed = self.keys.live_feed();
        let entries: Vec<(String, Vec<(String, String)>)> = self
            .run(async |c| {
                redis::cmd("XRANGE")
                    .arg(&feed)
                    .arg("-")
                    .arg("+")
                    .query_async(c)
                    .await
            })
            .await?;
        let theirs: Vec<String> = entries
            .into_iter()
            .filter(|(_, fields)| {
                fields
                    .iter()
                    .any(|(f, v)| f == "e" && is_users_line(v, user_id))
            })
            .map(|(id, _)| id)
            .collect();
        let mut pipe = redis::pipe();
        if !theirs.is_empty() {
            pipe.cmd("XDEL").arg(&feed).arg(&theirs);
        } else {
            pipe.cmd("PING");
        }
        pipe.cmd("ZREM")
            .arg(self.keys.live_viewers())
            .arg(format!("u:{user_id}"));
        let (deleted, watching): (redis::Value, u64) =
            self.run(async |c| pipe.query_async(c).await).await?;
        let deleted = match deleted {
            redis::Value::Int(n) => u64::try_from(n).unwrap_or(0),
            _ => 0,
        };
        Ok((deleted, watching == 1))
    }
}

#[cfg(test)]
mod tests {
    use super::is_users_line;

    #[test]
    fn a_line_is_the_users_by_its_id_as_text_or_integer() {
        assert!(is_users_line(r#"{"event_id":"e","user_id":"u-9"}"#, "u-9"));
        assert!(is_users_line(r#"{"event_id":"e","user_id":42}"#, "42"));
        assert!(!is_users_line(r#"{"event_id":"e","user_id":420}"#, "42"));
        assert!(!is_users_line(r#"{"event_id":"e","user_id":"U-9"}"#, "u-9"));
        assert!(!is_users_line(
            r#"{"event_id":"e","session_id":"42"}"#,
            "42"
        ));
        assert!(!is_users_line("not json", "42"));
        assert!(!is_users_line("", "42"));
    }
}
