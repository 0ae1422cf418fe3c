//! Rebuilding rollups from the raw event log: the correction that turns the
//! day and hour documents of a range into what the log says, and carries
//! each day's difference into its week, month, year and the totals (which
//! hold days outside the range too, so they are adjusted, never replaced).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::rollup::{BucketKey, Counts, HourlyKey, PeriodOrd, RollupDelta};
use crate::time::Period;

/// What the day and hour documents of the range hold now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Current {
    /// Day buckets (period day) and their counts.
    pub days: BTreeMap<BucketKey, Counts>,
    pub hours: BTreeMap<HourlyKey, Counts>,
}

/// `a − b`, measure by measure.
pub fn minus(a: &Counts, b: &Counts) -> Counts {
    let mut d = a.clone();
    d.merge(&b.negated());
    d
}

/// The increments (negative where the documents hold too much) that make
/// every day and hour of `current` and `rebuilt` what `rebuilt` says, with
/// each day's difference added to its week, month, year and the totals.
/// Registers are not in it: they are replaced, not corrected (a maximum
/// cannot be lowered by an increment). `rebuilt` is the delta of the
/// range's logged events, as a flush of them would have built it.
pub fn correction(current: &Current, rebuilt: &RollupDelta) -> RollupDelta {
    let day = PeriodOrd::of(Period::Day);
    let mut out = RollupDelta::default();
    let keys: BTreeSet<&BucketKey> = current
        .days
        .keys()
        .chain(rebuilt.buckets.keys().filter(|k| k.period == day))
        .collect();
    let none = Counts::default();
    for key in keys {
        let new = rebuilt.buckets.get(key).unwrap_or(&none);
        let old = current.days.get(key).unwrap_or(&none);
        let diff = minus(new, old);
        if diff == none {
            continue;
        }
        let Ok(date) = NaiveDate::parse_from_str(&key.label, "%Y-%m-%d") else {
            continue;
        };
        out.totals
            .entry(key.entity.clone())
            .or_default()
            .merge(&diff);
        for period in Period::ALL {
            let bucket = BucketKey {
                period: PeriodOrd::of(period),
                entity: key.entity.clone(),
                label: period.bucket_of(date),
            };
            out.buckets.entry(bucket).or_default().merge(&diff);
        }
    }
    let hours: BTreeSet<&HourlyKey> = current.hours.keys().chain(rebuilt.hourly.keys()).collect();
    for key in hours {
        let new = rebuilt.hourly.get(key).unwrap_or(&none);
        let old = current.hours.get(key).unwrap_or(&none);
        let diff = minus(new, old);
        if diff != none {
            out.hourly.insert(key.clone(), diff);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::EntityKey;
    use crate::vocabulary::{Action, Domain, EntityType};
    use proptest::prelude::*;

    fn movie(id: &str) -> EntityKey {
        EntityKey {
            domain: Domain::new("jav").expect("domain"),
            entity_type: EntityType::Movie,
            entity_id: id.to_string(),
        }
    }

    fn day(entity: &EntityKey, date: NaiveDate) -> BucketKey {
        BucketKey {
            period: PeriodOrd::of(Period::Day),
            entity: entity.clone(),
            label: Period::Day.bucket_of(date),
        }
    }

    proptest! {
        /// Days as stored (damaged, missing, extra) and days as logged: the
        /// correction makes every day what the log says, and each week,
        /// month, year and total moves by exactly the sum of its days'
        /// differences.
        #[test]
        fn the_correction_makes_each_day_the_logs_and_moves_the_periods_by_the_difference(
            stored in proptest::collection::vec((0u8..3, 0i64..40, 0i64..50), 0..30),
            logged in proptest::collection::vec((0u8..3, 0i64..40, 0i64..50), 0..30),
        ) {
            let first = NaiveDate::from_ymd_opt(2020, 12, 20).expect("date");
            let build = |rows: &[(u8, i64, i64)]| {
                let mut days: BTreeMap<BucketKey, Counts> = BTreeMap::new();
                for (m, d, n) in rows {
                    let key = day(&movie(&format!("m-{m}")), first + chrono::Duration::days(*d));
                    days.entry(key).or_default().add(Action::View, *n);
                }
                days
            };
            let current = Current { days: build(&stored), hours: BTreeMap::new() };
            let rebuilt = RollupDelta { buckets: build(&logged), ..RollupDelta::default() };
            let fix = correction(&current, &rebuilt);
            let none = Counts::default();
            for key in current.days.keys().chain(rebuilt.buckets.keys()) {
                let mut after = current.days.get(key).cloned().unwrap_or_default();
                after.merge(fix.buckets.get(key).unwrap_or(&none));
                let expected = rebuilt.buckets.get(key).cloned().unwrap_or_default();
                prop_assert_eq!(after.get(Action::View), expected.get(Action::View));
            }
            for (key, diff) in &fix.buckets {
                let date_of = |k: &BucketKey| NaiveDate::parse_from_str(&k.label, "%Y-%m-%d").ok();
                let days_in = |map: &BTreeMap<BucketKey, Counts>| -> i64 {
                    map.iter()
                        .filter(|(k, _)| k.entity == key.entity)
                        .filter(|(k, _)| date_of(k).is_some_and(|d| key.period.period().bucket_of(d) == key.label))
                        .map(|(_, c)| c.get(Action::View))
                        .sum()
                };
                prop_assert_eq!(diff.get(Action::View), days_in(&rebuilt.buckets) - days_in(&current.days));
            }
            for (entity, diff) in &fix.totals {
                let all = |map: &BTreeMap<BucketKey, Counts>| -> i64 {
                    map.iter().filter(|(k, _)| &k.entity == entity).map(|(_, c)| c.get(Action::View)).sum()
                };
                prop_assert_eq!(diff.get(Action::View), all(&rebuilt.buckets) - all(&current.days));
            }
        }
    }

    #[test]
    fn a_range_that_already_matches_needs_no_correction() {
        let m = movie("m-1");
        let date = NaiveDate::from_ymd_opt(2021, 1, 1).expect("date");
        let mut days = BTreeMap::new();
        days.insert(day(&m, date), Counts::of(&[(Action::View, 3)]));
        let current = Current {
            days: days.clone(),
            hours: BTreeMap::new(),
        };
        let rebuilt = RollupDelta {
            buckets: days,
            ..RollupDelta::default()
        };
        assert!(correction(&current, &rebuilt).totals.is_empty());
        assert!(correction(&current, &rebuilt).buckets.is_empty());
    }
}
