//! Rollup math: a batch of counter hashes becomes one increment per document.
//! Totals and every dated bucket come from the same hour fields, so they can
//! never drift apart (the system this replaces fed totals and days from
//! separate fields, and they drifted).

use std::collections::BTreeMap;

use crate::keys::{CounterField, EntityKey, KeySpace};
use crate::time::Period;
use crate::vocabulary::{Action, Domain, EntityType};

/// One count per [`Action`], indexed by [`Action::index`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActionCounts(pub [i64; Action::ALL.len()]);

impl ActionCounts {
    pub fn add(&mut self, action: Action, n: i64) {
        self.0[action.index()] += n;
    }

    pub fn get(&self, action: Action) -> i64 {
        self.0[action.index()]
    }

    /// Non-zero `(action, count)` pairs, in declaration order.
    pub fn nonzero(&self) -> impl Iterator<Item = (Action, i64)> + '_ {
        Action::ALL
            .into_iter()
            .map(|a| (a, self.get(a)))
            .filter(|(_, n)| *n != 0)
    }
}

/// An entity's bucket in one period: `(period, entity, label)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BucketKey {
    pub period: PeriodOrd,
    pub entity: EntityKey,
    pub label: String,
}

/// [`Period`] with an order, so bucket maps iterate deterministically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PeriodOrd(pub u8);

impl PeriodOrd {
    pub fn of(p: Period) -> Self {
        PeriodOrd(match p {
            Period::Day => 0,
            Period::Week => 1,
            Period::Month => 2,
            Period::Year => 3,
        })
    }

    pub fn period(self) -> Period {
        Period::ALL[usize::from(self.0)]
    }
}

/// A site-wide local hour for one domain and entity type (peak hours),
/// split into [`HOURLY_SLOTS`] documents by entity order: flushes working
/// on different entity ranges at once never write the same hour document.
/// Readers sum the slots.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HourlyKey {
    pub domain: Domain,
    pub entity_type: EntityType,
    pub date: String,
    pub hour: u8,
    pub slot: u8,
}

/// How many documents one site-wide hour is split into.
pub const HOURLY_SLOTS: u32 = 16;

/// The hourly slot of an entity: the top bits of its entity order.
pub fn hourly_slot(entity: &EntityKey) -> u8 {
    (KeySpace::entity_order(entity) / (u32::MAX / HOURLY_SLOTS + 1)) as u8
}

/// Everything one flush batch adds to the rollups.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RollupDelta {
    pub totals: BTreeMap<EntityKey, ActionCounts>,
    pub buckets: BTreeMap<BucketKey, ActionCounts>,
    pub hourly: BTreeMap<HourlyKey, ActionCounts>,
    /// Fields that were not a well-formed `action|date|hour` or had a
    /// non-positive count: never counted, reported by the flush.
    pub ignored_fields: u64,
}

impl RollupDelta {
    /// Adds one counter hash field; returns whether it was counted.
    pub fn add_field(&mut self, entity: &EntityKey, field: &str, n: i64) -> bool {
        let parsed = CounterField::parse(field).filter(|_| n > 0);
        let Some(CounterField { action, hour }) = parsed else {
            self.ignored_fields += 1;
            return false;
        };
        self.totals
            .entry(entity.clone())
            .or_default()
            .add(action, n);
        for period in Period::ALL {
            let key = BucketKey {
                period: PeriodOrd::of(period),
                entity: entity.clone(),
                label: period.bucket_of(hour.date),
            };
            self.buckets.entry(key).or_default().add(action, n);
        }
        let hourly = HourlyKey {
            domain: entity.domain.clone(),
            entity_type: entity.entity_type,
            date: Period::Day.bucket_of(hour.date),
            hour: hour.hour,
            slot: hourly_slot(entity),
        };
        self.hourly.entry(hourly).or_default().add(action, n);
        true
    }

    /// Adds another delta into this one (batches applied together).
    pub fn merge(&mut self, other: &RollupDelta) {
        fn add_all<K: Ord + Clone>(
            into: &mut BTreeMap<K, ActionCounts>,
            from: &BTreeMap<K, ActionCounts>,
        ) {
            for (k, v) in from {
                let slot = into.entry(k.clone()).or_default();
                for (a, n) in v.nonzero() {
                    slot.add(a, n);
                }
            }
        }
        add_all(&mut self.totals, &other.totals);
        add_all(&mut self.buckets, &other.buckets);
        add_all(&mut self.hourly, &other.hourly);
        self.ignored_fields += other.ignored_fields;
    }

    pub fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }

    /// How many documents applying this delta upserts.
    pub fn document_count(&self) -> usize {
        self.totals.len() + self.buckets.len() + self.hourly.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entity(id: &str) -> EntityKey {
        EntityKey {
            domain: Domain::new("jav").expect("domain"),
            entity_type: EntityType::Movie,
            entity_id: id.into(),
        }
    }

    fn bucket(delta: &RollupDelta, period: Period, id: &str, label: &str) -> ActionCounts {
        let key = BucketKey {
            period: PeriodOrd::of(period),
            entity: entity(id),
            label: label.into(),
        };
        delta.buckets.get(&key).copied().unwrap_or_default()
    }

    #[test]
    fn one_field_feeds_every_period_and_the_total() {
        let mut d = RollupDelta::default();
        assert!(d.add_field(&entity("m"), "view|2027-01-01|00", 3));
        assert!(d.add_field(&entity("m"), "download|2026-12-31|23", 1));
        assert_eq!(d.totals[&entity("m")], ActionCounts([3, 1]));
        assert_eq!(
            bucket(&d, Period::Day, "m", "2027-01-01"),
            ActionCounts([3, 0])
        );
        assert_eq!(
            bucket(&d, Period::Week, "m", "2026-W53"),
            ActionCounts([3, 1])
        );
        assert_eq!(
            bucket(&d, Period::Month, "m", "2027-01"),
            ActionCounts([3, 0])
        );
        assert_eq!(bucket(&d, Period::Year, "m", "2026"), ActionCounts([0, 1]));
        assert_eq!(d.document_count(), 1 + 7 + 2);
    }

    #[test]
    fn malformed_fields_and_non_positive_counts_are_ignored_not_counted() {
        let mut d = RollupDelta::default();
        assert!(!d.add_field(&entity("m"), "view:not-a-valid-date", 3));
        assert!(!d.add_field(&entity("m"), "view", 3));
        assert!(!d.add_field(&entity("m"), "view|2026-02-19|10", 0));
        assert!(d.is_empty());
        assert_eq!(d.ignored_fields, 3);
    }

    #[test]
    fn merging_two_deltas_adds_their_counts_per_document() {
        let mut a = RollupDelta::default();
        a.add_field(&entity("m"), "view|2026-11-21|10", 2);
        let mut b = RollupDelta::default();
        b.add_field(&entity("m"), "view|2026-11-21|10", 3);
        b.add_field(&entity("n"), "download|2026-11-21|11", 1);
        b.add_field(&entity("n"), "bogus", 1);
        a.merge(&b);
        assert_eq!(a.totals[&entity("m")], ActionCounts([5, 0]));
        assert_eq!(a.totals[&entity("n")], ActionCounts([0, 1]));
        assert_eq!(a.document_count(), 2 + 8 + 2);
        assert_eq!(a.ignored_fields, 1);
    }

    #[test]
    fn hourly_slots_cover_the_entity_order_space() {
        let slots: std::collections::BTreeSet<u8> = (0..2000)
            .map(|i| hourly_slot(&entity(&format!("m{i}"))))
            .collect();
        assert_eq!(slots.len(), HOURLY_SLOTS as usize);
        assert!(slots.iter().all(|s| u32::from(*s) < HOURLY_SLOTS));
    }

    proptest! {
        #[test]
        fn every_period_sums_to_the_total(
            fields in proptest::collection::vec((0u8..2, 0i64..3000, 0u8..24, 1i64..100), 1..40)
        ) {
            let mut d = RollupDelta::default();
            for (action, day, hour, n) in &fields {
                let date = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date")
                    + chrono::Duration::days(*day);
                let action = Action::ALL[usize::from(*action)];
                let field = format!("{action}|{}|{hour:02}", date.format("%Y-%m-%d"));
                prop_assert!(d.add_field(&entity("m"), &field, *n));
            }
            let total = d.totals[&entity("m")];
            for period in Period::ALL {
                let mut sum = ActionCounts::default();
                for (k, v) in &d.buckets {
                    if k.period.period() == period {
                        for (a, n) in v.nonzero() { sum.add(a, n); }
                    }
                }
                prop_assert_eq!(sum, total);
            }
        }
    }
}
