//! Redis key naming. Every key one event touches carries the same
//! `{p}` hash tag, so each Lua script stays on one Redis Cluster slot.

use std::fmt;

use chrono::NaiveDate;

use crate::hash::{fnv1a64, mix64};
use crate::time::LocalHour;
use crate::vocabulary::{Action, Domain, EntityType, Sum};

/// Hashes per partition and day holding the dedupe entries: small enough
/// (under Redis's `hash-max-listpack-entries`, 128) for the compact
/// encoding up to ~100 × 4,096 × partitions events a day (6.5 M with 16).
pub const SEEN_SHARDS: u16 = 4096;

/// Where an event's dedupe entry lives in a partition's day: the shard of
/// [`SEEN_SHARDS`] and the 8-byte field, from two independent hashes of
/// the id (76 bits in all: two ids of one partition and day meet by
/// chance about once in 10^22 pairs).
pub fn seen_entry(event_id: &str) -> (u16, [u8; 8]) {
    let id = event_id.as_bytes();
    let shard = (mix64(fnv1a64(&[b"seen-shard:", id])) % u64::from(SEEN_SHARDS)) as u16;
    let field = mix64(fnv1a64(&[b"seen-field:", id])).to_be_bytes();
    (shard, field)
}

/// The entity a counter belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityKey {
    pub domain: Domain,
    pub entity_type: EntityType,
    pub entity_id: String,
}

impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.domain, self.entity_type, self.entity_id)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidKeySpace {
    #[error("redis key prefix {0:?} must be 1..64 characters without ':', '{{' or '}}'")]
    Prefix(String),
    #[error("partition count {0} must be between 1 and 1024")]
    Partitions(u32),
}

/// Names of every Redis key the pipeline uses, under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
    partitions: u16,
}

impl KeySpace {
    pub fn new(prefix: impl Into<String>, partitions: u32) -> Result<Self, InvalidKeySpace> {
        let prefix = prefix.into();
        let prefix_ok = (1..=64).contains(&prefix.len())
            && !prefix.contains([':', '{', '}'])
            && !prefix.chars().any(char::is_whitespace);
        if !prefix_ok {
            return Err(InvalidKeySpace::Prefix(prefix));
        }
        let partitions = u16::try_from(partitions)
            .ok()
            .filter(|p| (1..=1024).contains(p))
            .ok_or(InvalidKeySpace::Partitions(partitions))?;
        Ok(KeySpace { prefix, partitions })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn partition_count(&self) -> u16 {
        self.partitions
    }

    pub fn partitions(&self) -> impl Iterator<Item = u16> {
        0..self.partitions
    }

    /// `hash(event_id) mod P`: retries of one event always meet the same marker.
    pub fn partition_of(&self, event_id: &str) -> u16 {
        (fnv1a64(&[event_id.as_bytes()]) % u64::from(self.partitions)) as u16
    }

    fn base(&self, p: u16) -> String {
        format!("{}:{{{p}}}", self.prefix)
    }

    /// Where an entity sorts in every partition's dirty set (its *entity
    /// order*). Flushes claim keys up to a rising *order limit*, so batches
    /// from different partitions hold the same entities and merge into one
    /// write per document. 32 bits: exact as a Redis sorted-set score.
    pub fn entity_order(entity: &EntityKey) -> u32 {
        let key = entity.to_string();
        (mix64(fnv1a64(&[key.as_bytes()])) >> 32) as u32
    }

    /// A dedupe marker of the layout before the day hashes (one key per
    /// event with a 48 h TTL): `migrate` moves those left into the hashes.
    pub fn event_marker(&self, p: u16, event_id: &str) -> String {
        format!("{}:evt:{event_id}", self.base(p))
    }

    /// The glob of the old markers of every partition (see
    /// [`KeySpace::event_marker`]); the prefix holds no glob characters.
    pub fn event_markers_glob(&self) -> String {
        format!("{}:{{*}}:evt:*", self.prefix)
    }

    /// The event id of an old marker's key.
    pub fn parse_event_marker<'k>(&self, key: &'k str) -> Option<&'k str> {
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix(":{")?;
        let (p, id) = rest.split_once("}:evt:")?;
        p.parse::<u16>().ok().filter(|p| *p < self.partitions)?;
        Some(id)
    }

    /// One of the hashes holding the dedupe entries of the events partition
    /// `p` accepted on UTC day `day` (days since 1970-01-01): shard `shard`
    /// of [`SEEN_SHARDS`] (see [`seen_entry`]). The scripts build these
    /// names from [`KeySpace::seen_base`] with Redis's own day.
    pub fn seen(&self, p: u16, day: i64, shard: u16) -> String {
        format!("{}{day}:{shard}", self.seen_base(p))
    }

    pub fn seen_base(&self, p: u16) -> String {
        format!("{}:seen:", self.base(p))
    }

    pub fn counter(&self, p: u16, entity: &EntityKey) -> String {
        format!("{}:cnt:{entity}", self.base(p))
    }

    /// The partition's raw event log (a stream the flush copies to MySQL).
    pub fn log(&self, p: u16) -> String {
        format!("{}:log", self.base(p))
    }

    /// The realtime tallies of one second (every ingest process adds to it;
    /// outside the partitions: realtime figures are site-wide).
    pub fn live_second(&self, unix_second: i64) -> String {
        format!("{}:live:s:{unix_second}", self.prefix)
    }

    /// Viewers by the last second they sent a playback event.
    pub fn live_viewers(&self) -> String {
        format!("{}:live:viewers", self.prefix)
    }

    /// The live feed's sampled events (a capped stream).
    pub fn live_feed(&self) -> String {
        format!("{}:live:feed", self.prefix)
    }

    /// Why ingest holds events back (backpressure), while it does: read
    /// by the operator page.
    pub fn holding_back(&self) -> String {
        format!("{}:ingest:holding_back", self.prefix)
    }

    /// Raised by every flush that changed the rollups, boards or raw log:
    /// a reader keeps a report computed at one generation until the next.
    pub fn rollup_generation(&self) -> String {
        format!("{}:rollups:generation", self.prefix)
    }

    /// Jobs a crawled site started in one epoch second (rate alerts); the
    /// site is last, so any text it holds cannot blur the key.
    pub fn job_starts(&self, second: i64, site: &str) -> String {
        format!("{}:jobs:rate:{second}:{site}", self.prefix)
    }

    /// The entity whose counter hash on partition `p` keeps the site's
    /// unique users per hour (one per partition, so their hourly documents
    /// spread over slots).
    pub fn site_entity(domain: &Domain, p: u16) -> EntityKey {
        EntityKey {
            domain: domain.clone(),
            entity_type: EntityType::Site,
            entity_id: format!("p{p}"),
        }
    }

    pub fn dirty(&self, p: u16) -> String {
        format!("{}:dirty", self.base(p))
    }

    /// The sum of the values counted on partition `p` and not yet flushed
    /// (raised by ingest, lowered when a flushed batch is deleted).
    pub fn waiting(&self, p: u16) -> String {
        format!("{}:waiting", self.base(p))
    }

    /// Written by readiness checks: a partition that cannot take this
    /// small write cannot take events either.
    pub fn write_probe(&self, p: u16) -> String {
        format!("{}:ready", self.base(p))
    }

    pub fn lease(&self, p: u16) -> String {
        format!("{}:flush:lease", self.base(p))
    }

    /// Holds the id of the batch claimed but not yet finished, if any.
    pub fn open_batch(&self, p: u16) -> String {
        format!("{}:flush:open", self.base(p))
    }

    /// The set of counter keys a batch took.
    pub fn batch_manifest(&self, p: u16, batch_id: &str) -> String {
        format!("{}:batch:{batch_id}", self.base(p))
    }

    /// What a claimed counter key is renamed under: the batch's key is
    /// this prefix followed by the counter key (the claim and finish
    /// scripts receive the prefix, so the format lives only here).
    pub fn batched_prefix(&self, p: u16, batch_id: &str) -> String {
        format!("{}:", self.batch_manifest(p, batch_id))
    }

    /// A counter key as a batch holds it.
    pub fn batched_counter(&self, p: u16, batch_id: &str, counter_key: &str) -> String {
        format!("{}{counter_key}", self.batched_prefix(p, batch_id))
    }

    /// Recovers the entity from a counter key. Anything else is `None`: the
    /// flush never guesses (a guess could credit the wrong entity).
    pub fn parse_counter(&self, key: &str) -> Option<(u16, EntityKey)> {
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix(":{")?;
        let (p, rest) = rest.split_once('}')?;
        let p: u16 = p.parse().ok()?;
        let rest = rest.strip_prefix(":cnt:")?;
        // The id is opaque and may itself contain ':'; domain and type cannot.
        let mut parts = rest.splitn(3, ':');
        let domain = Domain::new(parts.next()?).ok()?;
        let entity_type = EntityType::parse(parts.next()?)?;
        let entity_id = parts.next().filter(|id| !id.is_empty())?.to_string();
        Some((
            p,
            EntityKey {
                domain,
                entity_type,
                entity_id,
            },
        ))
    }
}

/// The label of a [`CounterField::Total`] field.
const TOTAL_LABEL: &str = "all";

/// One field of a counter hash. Totals, days, weeks, months and years are
/// all derived from the hour fields, so they can never drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CounterField {
    /// `view|2026-11-21|19`: how often the action happened in a local hour.
    Count { action: Action, hour: LocalHour },
    /// `+watch_seconds|2026-11-21|19`: a sum over the hour's events.
    Sum { sum: Sum, hour: LocalHour },
    /// `~2026-11-21|1234`: a register of the entity's unique viewers on a
    /// local day (the hash value is the rank).
    DayRegister { date: NaiveDate, index: u16 },
    /// `~2026-11-21|19|1234`: a register of the site's unique users in a
    /// local hour (kept on the domain's [`EntityType::Site`] key).
    HourRegister { hour: LocalHour, index: u16 },
    /// `view|2026-11-21`: a count on a local day whose hour is not known.
    /// Only counters taken over from the system this replaces carry these
    /// (it counted per day): they count in the totals and every period,
    /// never in an hour.
    Day { action: Action, date: NaiveDate },
    /// `view|all`: a count known only as part of an all-time total (the
    /// replaced system's total field above the sum of its day fields).
    /// Counts in the totals alone.
    Total { action: Action },
}

impl CounterField {
    /// The field counting `action` in `hour` (contract v1's only kind).
    pub fn count(action: Action, hour: LocalHour) -> Self {
        CounterField::Count { action, hour }
    }

    pub fn encode(&self) -> String {
        let day = |d: &NaiveDate| d.format("%Y-%m-%d").to_string();
        match self {
            CounterField::Count { action, hour } => {
                format!("{action}|{}|{:02}", day(&hour.date), hour.hour)
            }
            CounterField::Sum { sum, hour } => {
                format!("+{}|{}|{:02}", sum.as_str(), day(&hour.date), hour.hour)
            }
            CounterField::DayRegister { date, index } => format!("~{}|{index}", day(date)),
            CounterField::HourRegister { hour, index } => {
                format!("~{}|{:02}|{index}", day(&hour.date), hour.hour)
            }
            CounterField::Day { action, date } => format!("{action}|{}", day(date)),
            CounterField::Total { action } => format!("{action}|{TOTAL_LABEL}"),
        }
    }

    /// Whether the field's value counts events (the waiting sum and the
    /// hot counts add only these).
    pub fn is_count(&self) -> bool {
        matches!(
            self,
            CounterField::Count { .. } | CounterField::Day { .. } | CounterField::Total { .. }
        )
    }

    pub fn parse(field: &str) -> Option<Self> {
        fn date(s: &str) -> Option<NaiveDate> {
            NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
        }
        fn hour(date_part: &str, hour_part: &str) -> Option<LocalHour> {
            if hour_part.len() != 2 {
                return None;
            }
            let hour: u8 = hour_part.parse().ok().filter(|h| *h < 24)?;
            Some(LocalHour {
                date: date(date_part)?,
                hour,
            })
        }
        fn index(s: &str) -> Option<u16> {
            s.parse()
                .ok()
                .filter(|i| usize::from(*i) < crate::unique::REGISTERS)
        }
        if let Some(rest) = field.strip_prefix('~') {
            let parts: Vec<&str> = rest.split('|').collect();
            return match parts[..] {
                [d, i] => Some(CounterField::DayRegister {
                    date: date(d)?,
                    index: index(i)?,
                }),
                [d, h, i] => Some(CounterField::HourRegister {
                    hour: hour(d, h)?,
                    index: index(i)?,
                }),
                _ => None,
            };
        }
        let (sum, rest) = match field.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, field),
        };
        let parts: Vec<&str> = rest.split('|').collect();
        let (name, d, h) = match parts[..] {
            [name, d, h] => (name, d, h),
            [name, TOTAL_LABEL] if !sum => {
                return Some(CounterField::Total {
                    action: Action::parse(name)?,
                })
            }
            [name, d] if !sum => {
                return Some(CounterField::Day {
                    action: Action::parse(name)?,
                    date: date(d)?,
                })
            }
            _ => return None,
        };
        let hour = hour(d, h)?;
        if sum {
            Some(CounterField::Sum {
                sum: Sum::parse(name)?,
                hour,
            })
        } else {
            Some(CounterField::Count {
                action: Action::parse(name)?,
                hour,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn space() -> KeySpace {
        KeySpace::new("anl", 16).expect("key space")
    }

    fn movie(id: &str) -> EntityKey {
        EntityKey {
            domain: Domain::new("jav").expect("domain"),
            entity_type: EntityType::Movie,
            entity_id: id.to_string(),
        }
    }

    #[test]
    fn keys_share_the_partition_hash_tag() {
        let ks = space();
        assert_eq!(ks.event_marker(7, "e1"), "anl:{7}:evt:e1");
        assert_eq!(ks.event_markers_glob(), "anl:{*}:evt:*");
        assert_eq!(ks.parse_event_marker("anl:{7}:evt:e:1"), Some("e:1"));
        assert_eq!(ks.parse_event_marker("anl:{16}:evt:e1"), None);
        assert_eq!(ks.seen(7, 20425, 12), "anl:{7}:seen:20425:12");
        assert_eq!(ks.counter(7, &movie("m1")), "anl:{7}:cnt:jav:movie:m1");
        assert_eq!(ks.dirty(7), "anl:{7}:dirty");
        assert_eq!(ks.log(7), "anl:{7}:log");
        let site = KeySpace::site_entity(&Domain::new("jav").expect("domain"), 7);
        assert_eq!(ks.counter(7, &site), "anl:{7}:cnt:jav:site:p7");
        assert_eq!(ks.parse_counter(&ks.counter(7, &site)), Some((7, site)));
        assert_eq!(ks.lease(7), "anl:{7}:flush:lease");
        assert_eq!(ks.batch_manifest(7, "b1"), "anl:{7}:batch:b1");
        assert_eq!(
            ks.batched_counter(7, "b1", "anl:{7}:cnt:jav:movie:m1"),
            "anl:{7}:batch:b1:anl:{7}:cnt:jav:movie:m1"
        );
    }

    #[test]
    fn counter_keys_round_trip_even_with_colons_and_braces_in_the_id() {
        let ks = space();
        for id in ["m1", "a:b:c", "{x}", "1' OR '1'='1"] {
            let key = ks.counter(3, &movie(id));
            assert_eq!(ks.parse_counter(&key), Some((3, movie(id))));
        }
    }

    #[test]
    fn foreign_and_malformed_keys_are_rejected() {
        let ks = space();
        for key in [
            "anl:{3}:evt:e1",
            "anl:{3}:cnt:jav:movie",
            "anl:{3}:cnt:jav:movie:",
            "anl:{3}:cnt:jav:person:x",
            "other:{3}:cnt:jav:movie:x",
            "anl:{x}:cnt:jav:movie:x",
            "anl:counters:jav:movie:x",
        ] {
            assert_eq!(ks.parse_counter(key), None, "{key}");
        }
    }

    #[test]
    fn bad_prefixes_and_partition_counts_are_refused() {
        assert!(KeySpace::new("a:b", 16).is_err());
        assert!(KeySpace::new("", 16).is_err());
        assert!(KeySpace::new("anl", 0).is_err());
        assert!(KeySpace::new("anl", 5000).is_err());
    }

    #[test]
    fn counter_fields_round_trip_and_reject_garbage() {
        let f = CounterField::parse("view|2026-11-21|19").expect("field");
        assert!(matches!(
            f,
            CounterField::Count {
                action: Action::View,
                ..
            }
        ));
        assert_eq!(f.encode(), "view|2026-11-21|19");
        for good in [
            "+watch_seconds|2026-11-21|19",
            "~2026-11-21|16383",
            "~2026-11-21|07|0",
            "quality_change|2026-01-01|00",
            "view|2026-02-19",
            "download|all",
        ] {
            let f = CounterField::parse(good).expect(good);
            assert_eq!(f.encode(), good);
        }
        for bad in [
            "view",
            "view:2026-02-19",
            "view|not-a-date|01",
            "view|2026-02-30|01",
            "view|2026-02-19|24",
            "favourite|2026-02-19|01",
            "view|2026-02-19|01|x",
            "view|2026-02-19|1",
            "+view|2026-02-19|01",
            "+nothing|2026-02-19|01",
            "~2026-02-19|16384",
            "~2026-02-19",
            "~2026-02-19|24|1",
            "~2026-02-19|01|2|3",
            "view|2026-02-30",
            "+watch_seconds|2026-02-19",
            "+watch_seconds|all",
            "favourite|all",
            "view|ALL",
        ] {
            assert_eq!(CounterField::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn partitions_are_stable_and_in_range(id in ".{1,64}", parts in 1u32..1024) {
            let ks = KeySpace::new("anl", parts).expect("key space");
            let p = ks.partition_of(&id);
            prop_assert!(u32::from(p) < parts);
            prop_assert_eq!(p, ks.partition_of(&id));
        }
    }
}
