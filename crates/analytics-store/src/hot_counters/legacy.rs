//! What the replaced system left in Redis at the switch: its counter hashes
//! (`anl:counters:<domain>:<type>:<id>`, and `anl:flushing:…:<rand>` where one
//! of its flushes stopped) and its 48 h dedupe markers (`anl:evt:<id>`); the
//! prefixes are [`LegacyKeys`], its defaults those names. The
//! cut-over drains the hashes into the hot counters (the next flush counts
//! them) and enters each marker as a dedupe entry of its event, so an event
//! retried across the switch is a duplicate.

use analytics_domain::keys::seen_entry;
use analytics_domain::{Action, Domain, EntityKey, EntityType, KeySpace};
use deadpool_redis::redis;

use super::{HotCounters, DEDUPE_TTL_SECS};
use crate::error::StoreError;

/// Where the replaced system kept its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyKeys {
    /// Its counter hashes are `<counters>:<domain>:<type>:<id>`.
    pub counters: String,
    /// Where its flush renamed a hash it was working on:
    /// `<flushing><domain>:<type>:<id>:<rand>`.
    pub flushing: String,
    /// Its dedupe markers are `<markers><event_id>` (the prefix was fixed
    /// there; it ignored its own prefix setting).
    pub markers: String,
}

impl Default for LegacyKeys {
    fn default() -> Self {
        LegacyKeys {
            counters: "anl:counters".into(),
            flushing: "anl:flushing:".into(),
            markers: "anl:evt:".into(),
        }
    }
}
/// The value of a marker copied from the replaced system. Ingest takes any
/// event under such a marker for a duplicate: that system's dedupe was by
/// id alone. (A fingerprint is 8 bytes, never this.)
pub const LEGACY_MARKER: &str = "legacy";
/// Why the cut-over does not run on a cluster.
pub const CUTOVER_ON_CLUSTER: &str = "the cut-over reads the replaced system's keys from the one Redis it wrote them to: run it with redis.url pointing there and redis.cluster_nodes empty, before moving to the cluster";

/// Keys asked for per SCAN step.
const SCAN_COUNT: usize = 1000;

/// One old counter hash: its key and the entity it counts, if the key names
/// one (a key that does not is left where it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyCounter {
    pub key: String,
    pub entity: Option<EntityKey>,
}

/// What draining one old hash moved (or would move, in a dry run).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Counts added to the hot counters.
    pub units: i64,
    /// Fields that were not counts of a known action: dropped.
    pub left_out: u64,
    pub fields: u64,
}

/// What copying one page of old markers did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarkersCopied {
    pub seen: u64,
    /// Copied now (the rest were copied before, or expired meanwhile).
    pub copied: u64,
}

/// The entity of an old counter key: `<counters>:<domain>:<type>:<id>`, or
/// `<flushing><domain>:<type>:<id>:<rand>`. The id may hold ':'.
pub fn parse_legacy_counter(legacy: &LegacyKeys, key: &str) -> Option<EntityKey> {
    let rest = match key.strip_prefix(legacy.flushing.as_str()) {
        Some(rest) => rest.rsplit_once(':')?.0,
        None => key
            .strip_prefix(legacy.counters.as_str())?
            .strip_prefix(':')?,
    };
    let mut parts = rest.splitn(3, ':');
    let domain = Domain::new(parts.next()?).ok()?;
    let entity_type = EntityType::parse_from_producer(parts.next()?)?;
    let entity_id = parts.next().filter(|id| !id.trim().is_empty())?;
    Some(EntityKey {
        domain,
        entity_type,
        entity_id: entity_id.to_string(),
    })
}

impl HotCounters {
    /// One SCAN step over the old counter hashes (both patterns in turn:
    /// `pattern` 0 is the counter hashes, 1 the flushing keys). Returns the
    /// next cursor (0 when the pattern is done).
    pub async fn scan_legacy_counters(
        &self,
        legacy: &LegacyKeys,
        pattern: u8,
        cursor: u64,
    ) -> Result<(u64, Vec<LegacyCounter>), StoreError> {
        let glob = if pattern == 0 {
            format!("{}:*", glob_escape(&legacy.counters))
        } else {
            format!("{}*", glob_escape(&legacy.flushing))
        };
        let (next, keys) = self.scan(&glob, cursor).await?;
        let counters = keys
            .into_iter()
            .map(|key| LegacyCounter {
                entity: parse_legacy_counter(legacy, &key),
                key,
            })
            .collect();
        Ok((next, counters))
    }

    /// Moves one old hash into the entity's hot counter on a partition
    /// chosen by its key (any partition will do: a flush sums them), or
    /// with `dry_run` only says what would move.
    pub async fn drain_legacy_counter(
        &self,
        key: &str,
        entity: &EntityKey,
        dry_run: bool,
    ) -> Result<Drained, StoreError> {
        let p = self.keys.partition_of(key);
        let mut invocation = self.scripts.drain_legacy.prepare_invoke();
        invocation
            .key(key)
            .key(self.keys.counter(p, entity))
            .key(self.keys.dirty(p))
            .key(self.keys.waiting(p))
            .arg(KeySpace::entity_order(entity))
            .arg(if dry_run { "1" } else { "0" });
        for action in Action::V1 {
            invocation.arg(action.as_str());
        }
        let (units, left_out, fields): (i64, u64, u64) =
            self.run(async |c| invocation.invoke_async(c).await).await?;
        Ok(Drained {
            units,
            left_out,
            fields,
        })
    }

    /// One SCAN step over the old markers, each entered as a dedupe entry
    /// `legacy` of its event (see `lua/enter_seen.lua`: it lives at least as
    /// long as the marker would have) unless `dry_run`. Returns the next
    /// cursor.
    pub async fn copy_legacy_markers(
        &self,
        legacy: &LegacyKeys,
        cursor: u64,
        dry_run: bool,
    ) -> Result<(u64, MarkersCopied), StoreError> {
        let glob = format!("{}*", glob_escape(&legacy.markers));
        let (next, keys) = self.scan(&glob, cursor).await?;
        let mut copied = MarkersCopied {
            seen: keys.len() as u64,
            copied: 0,
        };
        if keys.is_empty() || dry_run {
            return Ok((next, copied));
        }
        let entries = keys.iter().filter_map(|key| {
            let event_id = key.strip_prefix(legacy.markers.as_str())?;
            Some((event_id, LEGACY_MARKER.as_bytes().to_vec()))
        });
        copied.copied = self.enter_seen(entries).await?;
        Ok((next, copied))
    }

    /// `migrate`: moves the per-event markers of the layout before the day
    /// hashes (`{p}:evt:<id>`, 48 h each) into dedupe entries, so an event
    /// accepted just before an upgrade is still a duplicate after it.
    /// Returns the markers moved. Earlier releases never ran on a cluster,
    /// so there is nothing to move there.
    pub async fn move_old_markers(&self) -> Result<u64, StoreError> {
        if self.is_cluster() {
            return Ok(0);
        }
        let mut moved = 0;
        let glob = self.keys.event_markers_glob();
        let mut cursor = 0;
        loop {
            let (next, keys) = self.scan(&glob, cursor).await?;
            if !keys.is_empty() {
                let mut gets = redis::pipe();
                for key in &keys {
                    gets.get(key);
                }
                let values: Vec<Option<String>> =
                    self.run(async |c| gets.query_async(c).await).await?;
                let entries = keys.iter().zip(&values).filter_map(|(key, value)| {
                    let event_id = self.keys.parse_event_marker(key)?;
                    Some((event_id, marker_value(value.as_deref()?)))
                });
                self.enter_seen(entries).await?;
                let _: () = self
                    .run(async |c| redis::cmd("UNLINK").arg(&keys).query_async(c).await)
                    .await?;
                moved += keys.len() as u64;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(moved)
    }

    /// Enters `(event id, value)` dedupe entries, a script call per
    /// partition; returns those newly entered.
    async fn enter_seen<'a>(
        &self,
        entries: impl Iterator<Item = (&'a str, Vec<u8>)>,
    ) -> Result<u64, StoreError> {
        // Per partition: (shard, id hash, value) of each entry.
        type Entries = Vec<(u16, [u8; 8], Vec<u8>)>;
        let mut by_partition: std::collections::BTreeMap<u16, Entries> = Default::default();
        for (event_id, value) in entries {
            let (shard, id) = seen_entry(event_id);
            by_partition
                .entry(self.keys.partition_of(event_id))
                .or_default()
                .push((shard, id, value));
        }
        let mut entered = 0;
        for (p, entries) in by_partition {
            let mut invocation = self.scripts.enter_seen.prepare_invoke();
            invocation.key(self.keys.seen_base(p)).arg(DEDUPE_TTL_SECS);
            for (shard, id, value) in &entries {
                invocation.arg(*shard).arg(&id[..]).arg(&value[..]);
            }
            let n: u64 = self.run(async |c| invocation.invoke_async(c).await).await?;
            entered += n;
        }
        Ok(entered)
    }

    /// One SCAN step. A cluster's SCAN walks one node only, and the
    /// replaced system's keys live on the one Redis it used: refused there
    /// rather than read in part.
    async fn scan(&self, glob: &str, cursor: u64) -> Result<(u64, Vec<String>), StoreError> {
        if self.is_cluster() {
            return Err(StoreError::Config(CUTOVER_ON_CLUSTER.into()));
        }
        self.run(async |c| {
            redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(glob)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async(c)
                .await
        })
        .await
    }
}

/// A literal for a SCAN pattern (the prefixes hold no glob characters
/// today; a configured one might).
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An old marker's value as a dedupe entry's: a fingerprint (16 hex digits)
/// as its 8 bytes; anything else (`legacy`) as it is.
fn marker_value(value: &str) -> Vec<u8> {
    match u64::from_str_radix(value, 16) {
        Ok(fp) if value.len() == 16 => fp.to_be_bytes().to_vec(),
        _ => value.as_bytes().to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_keys_name_their_entity_and_ids_keep_colons() {
        let legacy = LegacyKeys::default();
        let e = parse_legacy_counter(&legacy, "anl:counters:jav:movie:a:b").expect("key");
        assert_eq!(e.to_string(), "jav:movie:a:b");
        let f = parse_legacy_counter(&legacy, "anl:flushing:jav:actor:x:y:Ab3dEf9z")
            .expect("flushing key");
        assert_eq!(f.to_string(), "jav:actor:x:y");
        for bad in [
            "anl:counters:badkey",
            "anl:counters:jav:movie:",
            "anl:counters:jav:planet:1",
            "anl:countersx:jav:movie:1",
            "anl:flushing:jav:movie",
            "other:jav:movie:1",
        ] {
            assert_eq!(parse_legacy_counter(&legacy, bad), None, "{bad}");
        }
        assert_eq!(glob_escape("a*b[c]"), "a\\*b\\[c\\]");
    }

    #[test]
    fn the_drain_script_writes_the_fields_the_flush_reads() {
        let script = include_str!("lua/drain_legacy.lua");
        let day = analytics_domain::CounterField::Day {
            action: Action::View,
            date: chrono::NaiveDate::from_ymd_opt(2026, 2, 19).expect("date"),
        };
        let total = analytics_domain::CounterField::Total {
            action: Action::View,
        };
        // The script builds `action .. '|' .. date` and `action .. '|all'`.
        assert_eq!(day.encode(), "view|2026-02-19");
        assert_eq!(total.encode(), "view|all");
        assert!(script.contains("action .. '|all'") && script.contains("action .. '|' .. date"));
        let ingest = include_str!("lua/ingest.lua");
        assert!(ingest.contains(&format!("'{LEGACY_MARKER}'")));
    }
}
