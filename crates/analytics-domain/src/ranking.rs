//! Ranking entities over any range of days from the daily leaderboards,
//! without reading every entity of the range.
//!
//! Each day has a board: its top entries by one measure, as of the last
//! merge. Over a range, an entity's value is the sum of its days. A
//! candidate (an entity on some day's board) is known to have at least the
//! sum of its listed days (its *floor*) and at most that plus, for each day
//! it is not listed on, that board's *ceiling* (the last entry's value of a
//! full board, 0 of a board that lists every entity with a positive value).
//! An entity on no board has at most the sum of the ceilings. Only the
//! candidates whose upper bound reaches the k-th best floor can be in the top
//! k; their exact values are read, and the result is provably the exact top
//! k when its k-th value is above every unlisted entity's bound (the
//! threshold test of Fagin's algorithm).

use std::collections::HashMap;

use serde::Serialize;

use crate::rollup::Counts;
use crate::{Action, EntityType, Sum};

/// What a leaderboard ranks: an action's count or a sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum Measure {
    Count(Action),
    Total(Sum),
}

impl From<Measure> for &'static str {
    fn from(m: Measure) -> Self {
        m.as_str()
    }
}

const CATALOGUE_PAGES: &[Measure] = &[
    Measure::Count(Action::View),
    Measure::Count(Action::Download),
];
const MOVIES: &[Measure] = &[
    Measure::Count(Action::View),
    Measure::Count(Action::Download),
    Measure::Count(Action::Start),
    Measure::Total(Sum::WatchSeconds),
    Measure::Count(Action::RecommendationClick),
];
const QUERIES: &[Measure] = &[
    Measure::Count(Action::Search),
    Measure::Total(Sum::ZeroResults),
];

impl Measure {
    /// The field name in rollup documents and board entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::Count(a) => a.as_str(),
            Measure::Total(s) => s.as_str(),
        }
    }

    pub fn of(self, counts: &Counts) -> i64 {
        match self {
            Measure::Count(a) => counts.get(a),
            Measure::Total(s) => counts.sum(s),
        }
    }

    pub fn add_to(self, counts: &mut Counts, n: i64) {
        match self {
            Measure::Count(a) => counts.add(a, n),
            Measure::Total(s) => counts.add_sum(s, n),
        }
    }

    /// A name as [`Measure::as_str`] gives it.
    pub fn parse(name: &str) -> Option<Self> {
        Action::parse(name)
            .map(Measure::Count)
            .or_else(|| Sum::parse(name).map(Measure::Total))
    }

    /// The measures an entity type has boards for: a catalogue page's views
    /// and downloads (contract v1), a movie's playback starts, watch time
    /// and clicks from recommendations too, a search query's searches and
    /// zero-result searches.
    pub fn ranked(entity_type: EntityType) -> &'static [Measure] {
        match entity_type {
            EntityType::Movie => MOVIES,
            EntityType::Actor | EntityType::Tag => CATALOGUE_PAGES,
            EntityType::Query => QUERIES,
            EntityType::Featured | EntityType::Site => &[],
        }
    }

    /// Every measure some board ranks (board entries carry all of them).
    pub fn all_ranked() -> Vec<Measure> {
        let mut all: Vec<Measure> = Vec::new();
        for t in EntityType::ALL {
            for m in Self::ranked(t) {
                if !all.contains(m) {
                    all.push(*m);
                }
            }
        }
        all
    }
}

/// One day's board for one measure: entries best first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayBoard {
    pub entries: Vec<(String, i64)>,
    /// A full board may leave out entities with a positive value (up to its
    /// last entry's); a board that is not full lists every one.
    pub full: bool,
}

impl DayBoard {
    /// The most an entity this board does not list can have that day.
    fn ceiling(&self) -> i64 {
        if self.full {
            self.entries.last().map_or(0, |(_, v)| *v)
        } else {
            0
        }
    }
}

/// The bounds the boards give for a range.
#[derive(Debug, Clone, Default)]
pub struct RangeBounds {
    /// Candidate → (floor, upper bound).
    candidates: HashMap<String, (i64, i64)>,
    /// The most an entity on no board can have over the range.
    pub outside: i64,
}

/// A range's top entities and whether the threshold test proved it exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeTop {
    pub items: Vec<(String, i64)>,
    pub exact: bool,
}

impl RangeBounds {
    pub fn of(boards: &[DayBoard]) -> Self {
        let ceilings: i64 = boards.iter().map(DayBoard::ceiling).sum();
        let mut candidates: HashMap<String, (i64, i64)> = HashMap::new();
        for board in boards {
            for (id, value) in &board.entries {
                let slot = candidates.entry(id.clone()).or_insert((0, ceilings));
                slot.0 += value;
                // Listed this day: its value replaces the day's ceiling.
                slot.1 += value - board.ceiling();
            }
        }
        RangeBounds {
            candidates,
            outside: ceilings,
        }
    }

    /// The candidates whose exact value decides the top `k`: every one whose
    /// upper bound reaches the k-th best floor, best floors first.
    pub fn to_resolve(&self, k: usize) -> Vec<String> {
        let mut floors: Vec<i64> = self.candidates.values().map(|(f, _)| *f).collect();
        floors.sort_unstable_by(|a, b| b.cmp(a));
        let kth = floors.get(k.saturating_sub(1)).copied().unwrap_or(0);
        let mut ids: Vec<(&String, i64)> = self
            .candidates
            .iter()
            .filter(|(_, (_, upper))| *upper > 0 && *upper >= kth)
            .map(|(id, (floor, _))| (id, *floor))
            .collect();
        ids.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        ids.into_iter().map(|(id, _)| id.clone()).collect()
    }

    /// The top `k` by the exact values read for [`RangeBounds::to_resolve`]'s
    /// candidates (value descending, then id). Exact when no entity left
    /// out could reach the k-th value (or tie it, since ties go by id).
    pub fn rank(&self, exact: &HashMap<String, i64>, k: usize) -> RangeTop {
        let mut items: Vec<(String, i64)> = exact
            .iter()
            .filter(|(_, v)| **v > 0)
            .map(|(id, v)| (id.clone(), *v))
            .collect();
        items.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        items.truncate(k);
        let unresolved_best = self
            .candidates
            .iter()
            .filter(|(id, _)| !exact.contains_key(*id))
            .map(|(_, (_, upper))| *upper)
            .max()
            .unwrap_or(0);
        let threshold = self.outside.max(unresolved_best);
        let exact = match items.get(k.saturating_sub(1)) {
            Some((_, kth)) if items.len() == k => *kth > threshold || threshold == 0,
            _ => threshold == 0,
        };
        RangeTop { items, exact }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Days of entity values → each day's board of `size` (as a merge
    /// keeps it: value descending, then id; zeros left out).
    fn boards_of(days: &[HashMap<String, i64>], size: usize) -> Vec<DayBoard> {
        days.iter()
            .map(|day| {
                let mut entries: Vec<(String, i64)> = day
                    .iter()
                    .filter(|(_, v)| **v > 0)
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let full = entries.len() >= size;
                entries.truncate(size);
                DayBoard { entries, full }
            })
            .collect()
    }

    fn brute_top(days: &[HashMap<String, i64>], k: usize) -> Vec<(String, i64)> {
        let mut totals: HashMap<String, i64> = HashMap::new();
        for day in days {
            for (id, v) in day {
                *totals.entry(id.clone()).or_default() += v;
            }
        }
        let mut all: Vec<(String, i64)> = totals.into_iter().filter(|(_, v)| *v > 0).collect();
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }

    fn resolve(days: &[HashMap<String, i64>], ids: &[String]) -> HashMap<String, i64> {
        ids.iter()
            .map(|id| {
                let v = days.iter().map(|d| d.get(id).copied().unwrap_or(0)).sum();
                (id.clone(), v)
            })
            .collect()
    }

    #[test]
    fn boards_that_list_everyone_give_the_exact_top() {
        let days: Vec<HashMap<String, i64>> = vec![
            [("a".to_string(), 5), ("b".to_string(), 3)].into(),
            [("b".to_string(), 4), ("c".to_string(), 1)].into(),
        ];
        let bounds = RangeBounds::of(&boards_of(&days, 10));
        let top = bounds.rank(&resolve(&days, &bounds.to_resolve(2)), 2);
        assert_eq!(top.items, vec![("b".into(), 7), ("a".into(), 5)]);
        assert!(top.exact);
    }

    #[test]
    fn an_entity_just_below_every_board_can_make_the_range_inexact() {
        // "z" is 4th every day, off boards of 3, yet the best over the range.
        let day = |a: i64| -> HashMap<String, i64> {
            [
                (format!("a{a}"), 10),
                (format!("b{a}"), 10),
                (format!("c{a}"), 10),
                ("z".to_string(), 9),
            ]
            .into()
        };
        let days = vec![day(1), day(2), day(3)];
        let bounds = RangeBounds::of(&boards_of(&days, 3));
        assert_eq!(bounds.outside, 30);
        let top = bounds.rank(&resolve(&days, &bounds.to_resolve(1)), 1);
        assert!(!top.exact, "z (27) is unseen, the best seen has 10");
    }

    proptest! {
        /// Whenever the threshold test says exact, the result is the
        /// brute-force top k; and it reads no more than the candidates.
        #[test]
        fn exact_results_equal_brute_force(
            raw in proptest::collection::vec(
                proptest::collection::hash_map(0u8..40, 0i64..50, 0..30), 1..8),
            size in 1usize..12,
            k in 1usize..10,
        ) {
            let days: Vec<HashMap<String, i64>> = raw
                .iter()
                .map(|d| d.iter().map(|(id, v)| (format!("e{id}"), *v)).collect())
                .collect();
            let k = k.min(size);
            let bounds = RangeBounds::of(&boards_of(&days, size));
            let ids = bounds.to_resolve(k);
            let top = bounds.rank(&resolve(&days, &ids), k);
            if top.exact {
                prop_assert_eq!(top.items, brute_top(&days, k));
            }
        }

        /// Boards larger than every day's entity count are always exact.
        #[test]
        fn complete_boards_are_always_exact(
            raw in proptest::collection::vec(
                proptest::collection::hash_map(0u8..20, 0i64..50, 0..20), 1..8),
            k in 1usize..10,
        ) {
            let days: Vec<HashMap<String, i64>> = raw
                .iter()
                .map(|d| d.iter().map(|(id, v)| (format!("e{id}"), *v)).collect())
                .collect();
            let bounds = RangeBounds::of(&boards_of(&days, 100));
            let top = bounds.rank(&resolve(&days, &bounds.to_resolve(k)), k);
            prop_assert!(top.exact);
            prop_assert_eq!(top.items, brute_top(&days, k));
        }
    }
}
