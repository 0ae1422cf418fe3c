//! Taking over a catalogue whose counts have history: the rules that keep a
//! film's `views` / `downloads` from ever going down, and the opening
//! balance that carries the history into the totals.
//!
//! The catalogue counts are replicas of the totals. A count the product did
//! not write (the history of the system replaced, or another writer) shows
//! as a catalogue count above the totals as they were before the flush at
//! hand counted anything. Such a film is *kept*: its catalogue counts are
//! not written, and the totals it had then are recorded as its *base*. The
//! cut-over later adds `catalogue − base` to the totals, so the film ends at
//! its history plus everything counted since.

use std::ops::Sub;

/// Views and downloads: the two counts the catalogue keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CatalogueCounts {
    pub views: i64,
    pub downloads: i64,
}

impl CatalogueCounts {
    pub fn new(views: i64, downloads: i64) -> Self {
        CatalogueCounts { views, downloads }
    }

    /// Whether either count of `self` is above `other`'s.
    fn above(self, other: CatalogueCounts) -> bool {
        self.views > other.views || self.downloads > other.downloads
    }

    pub fn is_zero(self) -> bool {
        self.views == 0 && self.downloads == 0
    }
}

impl Sub for CatalogueCounts {
    type Output = CatalogueCounts;
    fn sub(self, other: CatalogueCounts) -> CatalogueCounts {
        CatalogueCounts::new(self.views - other.views, self.downloads - other.downloads)
    }
}

/// What the flush does with one film's catalogue row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaWrite {
    /// Write the totals (absolute, idempotent).
    Write(CatalogueCounts),
    /// Leave the row as it is; the film waits for the cut-over, with the
    /// totals it had before the product counted it.
    Keep { base: CatalogueCounts },
}

/// The guard. `totals` are the film's totals now, `counted_now` what this
/// flush added to them (zero where unknown), `base` the one recorded when
/// the film was first kept, if it was: a kept film stays kept until the
/// cut-over, however much is counted meanwhile.
pub fn replica_write(
    catalogue: CatalogueCounts,
    totals: CatalogueCounts,
    counted_now: CatalogueCounts,
    base: Option<CatalogueCounts>,
) -> ReplicaWrite {
    if let Some(base) = base {
        return ReplicaWrite::Keep { base };
    }
    let before = totals - counted_now;
    if catalogue.above(before) {
        ReplicaWrite::Keep { base: before }
    } else {
        ReplicaWrite::Write(totals)
    }
}

/// The opening balance of a film: what its catalogue counts hold above the
/// base (the recorded one, else the totals now), never negative.
pub fn opening_balance(catalogue: CatalogueCounts, base: CatalogueCounts) -> CatalogueCounts {
    CatalogueCounts::new(
        (catalogue.views - base.views).max(0),
        (catalogue.downloads - base.downloads).max(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn c(v: i64, d: i64) -> CatalogueCounts {
        CatalogueCounts::new(v, d)
    }

    #[test]
    fn a_count_the_product_did_not_write_is_kept() {
        // 50,000 views of history; the first flush counts one.
        assert_eq!(
            replica_write(c(50_000, 1_200), c(1, 0), c(1, 0), None),
            ReplicaWrite::Keep { base: c(0, 0) }
        );
        // What the product wrote itself is raised as usual.
        assert_eq!(
            replica_write(c(7, 2), c(9, 2), c(2, 0), None),
            ReplicaWrite::Write(c(9, 2))
        );
        // Downloads alone above the totals keep the row too.
        assert_eq!(
            replica_write(c(9, 5), c(10, 2), c(1, 0), None),
            ReplicaWrite::Keep { base: c(9, 2) }
        );
        assert_eq!(opening_balance(c(50_000, 1_200), c(0, 0)), c(50_000, 1_200));
        assert_eq!(opening_balance(c(3, 9), c(5, 2)), c(0, 7));
    }

    /// One film's life: history in the catalogue and in the old totals,
    /// flushes counting `flushes[i]` with the guard, then the cut-over
    /// (run twice).
    fn simulate(
        catalogue: CatalogueCounts,
        old_totals: CatalogueCounts,
        flushes: &[CatalogueCounts],
    ) -> (CatalogueCounts, CatalogueCounts) {
        let (mut catalogue, mut totals, mut base) = (catalogue, old_totals, None);
        for &counted in flushes {
            totals = c(
                totals.views + counted.views,
                totals.downloads + counted.downloads,
            );
            match replica_write(catalogue, totals, counted, base) {
                ReplicaWrite::Write(to) => catalogue = to,
                ReplicaWrite::Keep { base: b } => base = base.or(Some(b)),
            }
            assert!(catalogue.views >= 0 && catalogue.downloads >= 0);
        }
        for _ in 0..2 {
            let opening = opening_balance(catalogue, base.take().unwrap_or(totals));
            totals = c(
                totals.views + opening.views,
                totals.downloads + opening.downloads,
            );
            catalogue = totals;
        }
        (catalogue, totals)
    }

    proptest! {
        #[test]
        fn history_and_every_count_since_survive_the_cutover(
            history in (0i64..100_000, 0i64..10_000),
            old in (0i64..100_000, 0i64..10_000),
            flushes in proptest::collection::vec((0i64..70_000, 0i64..5_000), 0..6),
        ) {
            let flushes: Vec<_> = flushes.into_iter().map(|(v, d)| c(v, d)).collect();
            let (catalogue, totals) = simulate(c(history.0, history.1), c(old.0, old.1), &flushes);
            let counted = flushes.iter().fold(c(0, 0), |a, f| c(a.views + f.views, a.downloads + f.downloads));
            let expected = c(
                history.0.max(old.0) + counted.views,
                history.1.max(old.1) + counted.downloads,
            );
            prop_assert_eq!(totals, expected);
            prop_assert_eq!(catalogue, expected);
        }

        #[test]
        fn a_catalogue_count_never_goes_down(
            history in (0i64..1000, 0i64..1000),
            totals in (0i64..1000, 0i64..1000),
            counted in (0i64..100, 0i64..100),
        ) {
            let catalogue = c(history.0, history.1);
            let totals = c(totals.0 + counted.0, totals.1 + counted.1);
            if let ReplicaWrite::Write(to) = replica_write(catalogue, totals, c(counted.0, counted.1), None) {
                prop_assert!(to.views >= catalogue.views && to.downloads >= catalogue.downloads);
            }
        }
    }
}
