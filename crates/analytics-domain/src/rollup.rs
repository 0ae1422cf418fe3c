//! Rollup math: a batch of counter hashes becomes one increment per document.
//! Totals and every dated bucket come from the same hour fields, so they can
//! never drift apart (the system this replaces fed totals and days from
//! separate fields, and they drifted).

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::keys::{CounterField, EntityKey, KeySpace};
use crate::time::Period;
use crate::unique::{Register, Sketch};
use crate::vocabulary::{Action, Domain, EntityType, Sum};

/// An entity's (or bucket's) counts: one per [`Action`] and one per [`Sum`],
/// zero when absent. Sparse: an entity rarely has more than a few of the
/// thirty, and a flush round holds hundreds of thousands of these.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// (measure, value) sorted by measure: actions are `0..A`, sums `A..`.
    entries: Vec<(u8, i64)>,
}

impl PartialEq for Counts {
    fn eq(&self, other: &Self) -> bool {
        let nonzero = |c: &Counts| {
            c.entries
                .iter()
                .filter(|(_, n)| *n != 0)
                .copied()
                .collect::<Vec<_>>()
        };
        nonzero(self) == nonzero(other)
    }
}

impl Eq for Counts {}

const SUMS_FROM: usize = Action::ALL.len();

/// The figures a catalogue page shows beside a film: the public counts
/// route's answer. Net figures (likes, watchlist) go down when a user takes
/// theirs back; they are zero for kinds of entity the vocabulary does not
/// count them for.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DisplayCounts {
    pub view: i64,
    pub download: i64,
    /// `like` − `unlike`.
    pub likes: i64,
    pub favorites: i64,
    /// `watchlist_add` − `watchlist_remove`.
    pub watchlist: i64,
    /// `rate` events.
    pub ratings: i64,
    /// Stars ÷ ratings (two decimals); `None` before the first rating.
    pub rating_average: Option<f64>,
}

impl Counts {
    /// Counts of the given actions (the rest zero).
    pub fn of(actions: &[(Action, i64)]) -> Self {
        let mut c = Counts::default();
        for (a, n) in actions {
            c.add(*a, *n);
        }
        c
    }

    fn value(&self, measure: usize) -> i64 {
        self.entries
            .binary_search_by_key(&(measure as u8), |(m, _)| *m)
            .map_or(0, |i| self.entries[i].1)
    }

    fn add_to(&mut self, measure: usize, n: i64) {
        if n == 0 {
            return;
        }
        match self
            .entries
            .binary_search_by_key(&(measure as u8), |(m, _)| *m)
        {
            Ok(i) => self.entries[i].1 += n,
            Err(i) => self.entries.insert(i, (measure as u8, n)),
        }
    }

    pub fn add(&mut self, action: Action, n: i64) {
        self.add_to(action.index(), n);
    }

    pub fn get(&self, action: Action) -> i64 {
        self.value(action.index())
    }

    pub fn add_sum(&mut self, sum: Sum, n: i64) {
        self.add_to(SUMS_FROM + sum.index(), n);
    }

    pub fn sum(&self, sum: Sum) -> i64 {
        self.value(SUMS_FROM + sum.index())
    }

    /// Likes minus unlikes: the like count shown beside a movie, which goes
    /// down when a like is taken back.
    pub fn likes_net(&self) -> i64 {
        self.get(Action::Like) - self.get(Action::Unlike)
    }

    /// What a catalogue page shows beside a film, from these counts.
    pub fn display(&self) -> DisplayCounts {
        let ratings = self.get(Action::Rate);
        DisplayCounts {
            view: self.get(Action::View),
            download: self.get(Action::Download),
            likes: self.likes_net(),
            favorites: self.get(Action::Favorite),
            watchlist: self.get(Action::WatchlistAdd) - self.get(Action::WatchlistRemove),
            ratings,
            // Two decimals, as the catalogue shows a rating.
            rating_average: (ratings > 0).then(|| {
                (self.sum(Sum::RatingStars) as f64 / ratings as f64 * 100.0).round() / 100.0
            }),
        }
    }

    /// Non-zero `(action, count)` pairs, in declaration order.
    pub fn nonzero(&self) -> impl Iterator<Item = (Action, i64)> + '_ {
        Action::ALL
            .into_iter()
            .map(|a| (a, self.get(a)))
            .filter(|(_, n)| *n != 0)
    }

    /// Non-zero `(sum, value)` pairs, in declaration order.
    pub fn nonzero_sums(&self) -> impl Iterator<Item = (Sum, i64)> + '_ {
        Sum::ALL
            .into_iter()
            .map(|s| (s, self.sum(s)))
            .filter(|(_, n)| *n != 0)
    }

    /// Every measure with its sign turned (a correction that takes away).
    pub fn negated(&self) -> Counts {
        Counts {
            entries: self.entries.iter().map(|&(m, n)| (m, -n)).collect(),
        }
    }

    pub fn merge(&mut self, other: &Counts) {
        for &(measure, n) in &other.entries {
            self.add_to(usize::from(measure), n);
        }
    }

    /// Adds a count or sum field (registers are not counts: ignored).
    pub fn add_field(&mut self, field: &CounterField, n: i64) {
        match field {
            CounterField::Count { action, .. }
            | CounterField::Day { action, .. }
            | CounterField::Total { action } => self.add(*action, n),
            CounterField::Sum { sum, .. } => self.add_sum(*sum, n),
            CounterField::DayRegister { .. } | CounterField::HourRegister { .. } => {}
        }
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

/// An entity's unique viewers on one local day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DayKey {
    pub entity: EntityKey,
    pub date: NaiveDate,
}

/// Everything one flush batch adds to the rollups.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RollupDelta {
    pub totals: BTreeMap<EntityKey, Counts>,
    pub buckets: BTreeMap<BucketKey, Counts>,
    pub hourly: BTreeMap<HourlyKey, Counts>,
    /// Unique-viewer registers per entity and local day (merged by max).
    pub day_viewers: BTreeMap<DayKey, Sketch>,
    /// The site's unique-user registers per local hour (on the hourly
    /// documents of type `site`).
    pub hour_users: BTreeMap<HourlyKey, Sketch>,
    /// Fields that were not well formed or had a non-positive value:
    /// never counted, reported by the flush.
    pub ignored_fields: u64,
}

impl RollupDelta {
    /// Adds one counter hash field; returns whether it was used.
    pub fn add_field(&mut self, entity: &EntityKey, field: &str, n: i64) -> bool {
        let parsed = CounterField::parse(field).filter(|_| n > 0);
        let Some(field) = parsed else {
            self.ignored_fields += 1;
            return false;
        };
        let hourly_key = |hour: &crate::time::LocalHour| HourlyKey {
            domain: entity.domain.clone(),
            entity_type: entity.entity_type,
            date: Period::Day.bucket_of(hour.date),
            hour: hour.hour,
            slot: hourly_slot(entity),
        };
        let hour = match &field {
            CounterField::Count { hour, .. } | CounterField::Sum { hour, .. } => *hour,
            CounterField::Total { .. } => {
                self.totals
                    .entry(entity.clone())
                    .or_default()
                    .add_field(&field, n);
                return true;
            }
            CounterField::Day { date, .. } => {
                self.add_to_totals_and_periods(entity, &field, *date, n);
                return true;
            }
            CounterField::DayRegister { date, index } => {
                let Some(register) = register(*index, n) else {
                    self.ignored_fields += 1;
                    return false;
                };
                let key = DayKey {
                    entity: entity.clone(),
                    date: *date,
                };
                self.day_viewers
                    .entry(key)
                    .or_default()
                    .merge_register(register);
                return true;
            }
            CounterField::HourRegister { hour, index } => {
                let Some(register) = register(*index, n) else {
                    self.ignored_fields += 1;
                    return false;
                };
                self.hour_users
                    .entry(hourly_key(hour))
                    .or_default()
                    .merge_register(register);
                return true;
            }
        };
        self.add_to_totals_and_periods(entity, &field, hour.date, n);
        self.hourly
            .entry(hourly_key(&hour))
            .or_default()
            .add_field(&field, n);
        true
    }

    /// A count or sum into the entity's totals and its day, week, month
    /// and year of `date`.
    fn add_to_totals_and_periods(
        &mut self,
        entity: &EntityKey,
        field: &CounterField,
        date: NaiveDate,
        n: i64,
    ) {
        self.totals
            .entry(entity.clone())
            .or_default()
            .add_field(field, n);
        for period in Period::ALL {
            let key = BucketKey {
                period: PeriodOrd::of(period),
                entity: entity.clone(),
                label: period.bucket_of(date),
            };
            self.buckets.entry(key).or_default().add_field(field, n);
        }
    }

    /// Adds another delta into this one (batches applied together).
    pub fn merge(&mut self, other: &RollupDelta) {
        fn add_all<K: Ord + Clone>(into: &mut BTreeMap<K, Counts>, from: &BTreeMap<K, Counts>) {
            for (k, v) in from {
                into.entry(k.clone()).or_default().merge(v);
            }
        }
        fn max_all<K: Ord + Clone>(into: &mut BTreeMap<K, Sketch>, from: &BTreeMap<K, Sketch>) {
            for (k, v) in from {
                into.entry(k.clone()).or_default().merge(v);
            }
        }
        add_all(&mut self.totals, &other.totals);
        add_all(&mut self.buckets, &other.buckets);
        add_all(&mut self.hourly, &other.hourly);
        max_all(&mut self.day_viewers, &other.day_viewers);
        max_all(&mut self.hour_users, &other.hour_users);
        self.ignored_fields += other.ignored_fields;
    }

    pub fn is_empty(&self) -> bool {
        self.totals.is_empty() && self.day_viewers.is_empty() && self.hour_users.is_empty()
    }

    /// How many documents applying this delta upserts: an entity's totals
    /// document (holding its weeks, months and years), its days, and the
    /// hours (registers share the day and hour documents of their counts
    /// where those exist).
    pub fn document_count(&self) -> usize {
        let day = PeriodOrd::of(Period::Day);
        let days = self.buckets.keys().filter(|k| k.period == day).count();
        let totals_only = self
            .buckets
            .keys()
            .filter(|k| k.period != day && !self.totals.contains_key(&k.entity))
            .map(|k| &k.entity)
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let daily_only = self
            .day_viewers
            .keys()
            .filter(|k| !self.buckets.contains_key(&k.day_bucket()))
            .count();
        let hourly_only = self
            .hour_users
            .keys()
            .filter(|k| !self.hourly.contains_key(k))
            .count();
        self.totals.len() + totals_only + days + self.hourly.len() + daily_only + hourly_only
    }
}

/// A register field's value as a register, if it could be one.
fn register(index: u16, rank: i64) -> Option<Register> {
    let rank = u8::try_from(rank).ok()?;
    Some(Register { index, rank }).filter(|r| r.is_valid())
}

impl DayKey {
    /// The daily bucket document this key's registers live on.
    pub fn day_bucket(&self) -> BucketKey {
        BucketKey {
            period: PeriodOrd::of(Period::Day),
            entity: self.entity.clone(),
            label: Period::Day.bucket_of(self.date),
        }
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

    fn vd(view: i64, download: i64) -> Counts {
        Counts::of(&[(Action::View, view), (Action::Download, download)])
    }

    fn bucket(delta: &RollupDelta, period: Period, id: &str, label: &str) -> Counts {
        let key = BucketKey {
            period: PeriodOrd::of(period),
            entity: entity(id),
            label: label.into(),
        };
        delta.buckets.get(&key).cloned().unwrap_or_default()
    }

    #[test]
    fn day_and_total_fields_count_without_an_hour() {
        let mut delta = RollupDelta::default();
        assert!(delta.add_field(&entity("m"), "view|2027-01-01", 4));
        assert!(delta.add_field(&entity("m"), "view|all", 3));
        assert!(delta.add_field(&entity("m"), "download|2026-12-31", 1));
        assert_eq!(delta.totals[&entity("m")], vd(7, 1));
        assert_eq!(bucket(&delta, Period::Day, "m", "2027-01-01"), vd(4, 0));
        assert_eq!(bucket(&delta, Period::Week, "m", "2026-W53"), vd(4, 1));
        assert_eq!(bucket(&delta, Period::Year, "m", "2027"), vd(4, 0));
        assert_eq!(bucket(&delta, Period::Year, "m", "2026"), vd(0, 1));
        // Four periods of two days, no hour and no other bucket.
        assert!(delta.hourly.is_empty());
        assert_eq!(delta.buckets.len(), 7);
        assert!(!delta.add_field(&entity("m"), "view|all", 0));
        assert_eq!(delta.ignored_fields, 1);
    }

    #[test]
    fn one_field_feeds_every_period_and_the_total() {
        let mut d = RollupDelta::default();
        assert!(d.add_field(&entity("m"), "view|2027-01-01|00", 3));
        assert!(d.add_field(&entity("m"), "download|2026-12-31|23", 1));
        assert_eq!(d.totals[&entity("m")], vd(3, 1));
        assert_eq!(bucket(&d, Period::Day, "m", "2027-01-01"), vd(3, 0));
        assert_eq!(bucket(&d, Period::Week, "m", "2026-W53"), vd(3, 1));
        assert_eq!(bucket(&d, Period::Month, "m", "2027-01"), vd(3, 0));
        assert_eq!(bucket(&d, Period::Year, "m", "2026"), vd(0, 1));
        // One totals document (its week, months and years inside), two days,
        // two hours.
        assert_eq!(d.document_count(), 1 + 2 + 2);
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
        assert_eq!(a.totals[&entity("m")], vd(5, 0));
        assert_eq!(a.totals[&entity("n")], vd(0, 1));
        assert_eq!(a.document_count(), 2 + 2 + 2);
        assert_eq!(a.ignored_fields, 1);
    }

    #[test]
    fn sums_and_viewer_registers_feed_their_documents() {
        let mut d = RollupDelta::default();
        assert!(d.add_field(&entity("m"), "+watch_seconds|2026-11-21|10", 300));
        assert!(d.add_field(&entity("m"), "~2026-11-21|42", 3));
        assert!(d.add_field(&entity("m"), "~2026-11-21|42", 2));
        assert!(
            !d.add_field(&entity("m"), "~2026-11-21|42", 90),
            "not a rank"
        );
        assert!(!d.add_field(&entity("m"), "~2026-11-21|42", 300));
        assert_eq!(d.totals[&entity("m")].sum(Sum::WatchSeconds), 300);
        assert_eq!(d.totals[&entity("m")].get(Action::View), 0);
        let day = DayKey {
            entity: entity("m"),
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 21).expect("date"),
        };
        let regs: Vec<Register> = d.day_viewers[&day].registers().collect();
        assert_eq!(regs, [Register { index: 42, rank: 3 }]);
        // The registers share the day's document with the sum.
        assert_eq!(d.document_count(), 1 + 1 + 1);
        let site = EntityKey {
            domain: Domain::new("jav").expect("domain"),
            entity_type: EntityType::Site,
            entity_id: "p3".into(),
        };
        assert!(d.add_field(&site, "~2026-11-21|10|7", 1));
        assert_eq!(d.hour_users.len(), 1);
        assert_eq!(d.document_count(), 1 + 1 + 1 + 1);
        assert_eq!(d.ignored_fields, 2);
    }

    #[test]
    fn display_counts_net_likes_and_watchlist_and_average_the_stars() {
        let mut c = Counts::default();
        for (action, n) in [
            (Action::View, 9),
            (Action::Like, 5),
            (Action::Unlike, 2),
            (Action::WatchlistAdd, 3),
            (Action::WatchlistRemove, 1),
            (Action::Favorite, 4),
            (Action::Rate, 3),
        ] {
            c.add(action, n);
        }
        c.add_sum(Sum::RatingStars, 13);
        assert_eq!(
            c.display(),
            DisplayCounts {
                view: 9,
                download: 0,
                likes: 3,
                favorites: 4,
                watchlist: 2,
                ratings: 3,
                rating_average: Some(4.33),
            }
        );
        assert_eq!(Counts::default().display().rating_average, None);
    }

    #[test]
    fn likes_net_goes_down_with_unlikes() {
        let c = Counts::of(&[(Action::Like, 5), (Action::Unlike, 2)]);
        assert_eq!(c.likes_net(), 3);
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
            fields in proptest::collection::vec((0usize..Action::ALL.len(), 0i64..3000, 0u8..24, 1i64..100), 1..40)
        ) {
            let mut d = RollupDelta::default();
            for (action, day, hour, n) in &fields {
                let date = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).expect("date")
                    + chrono::Duration::days(*day);
                let action = Action::ALL[*action];
                let field = format!("{action}|{}|{hour:02}", date.format("%Y-%m-%d"));
                prop_assert!(d.add_field(&entity("m"), &field, *n));
            }
            let total = d.totals[&entity("m")].clone();
            for period in Period::ALL {
                let mut sum = Counts::default();
                for (k, v) in &d.buckets {
                    if k.period.period() == period {
                        sum.merge(v);
                    }
                }
                prop_assert_eq!(&sum, &total);
            }
        }
    }
}
