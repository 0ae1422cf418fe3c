//! The entity-order sweep of one flush run. Every counter key is scored by
//! its entity's order (a 32-bit hash, [`crate::KeySpace::entity_order`]); a
//! run claims keys round by round over rising ranges of that order, so an
//! entity's keys in every partition land in the same round.
//!
//! A run sweeps the space **once** and ends: keys that arrive behind the
//! sweep wait for the next run, so a run started under continuous ingest
//! still finishes. Runs of different shards start at different offsets and
//! wrap around, so shards running side by side work on different entities
//! (and different hourly slots) at any moment instead of colliding.

/// An inclusive range of entity orders one round claims from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRange {
    pub min: u32,
    pub max: u32,
}

/// The ranges of one run: from `start` up to the top of the space, then
/// from 0 up to just below `start`. Within a leg every range begins at the
/// leg's start, so keys a round left behind (a partition had more than a
/// batch) are claimed by the next round.
#[derive(Debug, Clone)]
pub struct Sweep {
    start: u32,
    step: u32,
    /// The end of the last range handed out, in the current leg.
    reached: Option<u32>,
    second_leg: bool,
    done: bool,
}

impl Sweep {
    /// A sweep starting at `start`, rounds `step` orders wide.
    pub fn new(start: u32, step: u32) -> Self {
        Sweep {
            start,
            step: step.max(1),
            reached: None,
            second_leg: false,
            done: false,
        }
    }

    /// Rounds of about `batch_size` keys out of `backlog` dirty keys per
    /// partition set (orders are uniform over the 32-bit space).
    pub fn step_for(batch_size: usize, backlog: u64) -> u32 {
        let space = u64::from(u32::MAX) + 1;
        let step = space * batch_size as u64 / backlog.max(1);
        u32::try_from(step.max(1)).unwrap_or(u32::MAX)
    }

    /// Where the shard owning partitions from `first_partition` on starts:
    /// its share of the order space, so shards start apart.
    pub fn start_for(first_partition: u16, partition_count: u16) -> u32 {
        let space = u64::from(u32::MAX) + 1;
        let start = space * u64::from(first_partition) / u64::from(partition_count.max(1));
        u32::try_from(start).unwrap_or(0)
    }

    fn leg(&self) -> (u32, u32) {
        if self.second_leg {
            (0, self.start.saturating_sub(1))
        } else {
            (self.start, u32::MAX)
        }
    }

    /// The range of the next round, or `None` once the space was covered.
    pub fn next_range(&mut self) -> Option<OrderRange> {
        if self.done {
            return None;
        }
        let (leg_start, leg_end) = self.leg();
        let max = match self.reached {
            None => leg_start.saturating_add(self.step - 1).min(leg_end),
            Some(r) if r >= leg_end => {
                // This leg is covered: on to the second, if there is one.
                if self.second_leg || self.start == 0 {
                    self.done = true;
                    return None;
                }
                self.second_leg = true;
                self.reached = None;
                return self.next_range();
            }
            Some(r) => r.saturating_add(self.step).min(leg_end),
        };
        self.reached = Some(max);
        Some(OrderRange {
            min: leg_start,
            max,
        })
    }

    /// The range last handed out again: its leg's end was reached but a
    /// partition still had more keys in it than one batch.
    pub fn repeat_last(&self) -> Option<OrderRange> {
        let (leg_start, _) = self.leg();
        self.reached.map(|max| OrderRange {
            min: leg_start,
            max,
        })
    }

    /// Whether the last range handed out ended its leg.
    pub fn at_leg_end(&self) -> bool {
        self.reached.is_some_and(|r| r >= self.leg().1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ranges(mut sweep: Sweep) -> Vec<OrderRange> {
        std::iter::from_fn(|| sweep.next_range()).collect()
    }

    #[test]
    fn a_sweep_from_zero_covers_the_space_in_rising_ranges() {
        let r = ranges(Sweep::new(0, 1 << 30));
        assert_eq!(r.len(), 4);
        assert!(r.iter().all(|x| x.min == 0));
        assert_eq!(r[0].max, (1 << 30) - 1);
        assert_eq!(r[3].max, u32::MAX);
    }

    #[test]
    fn a_shard_sweep_wraps_around_to_below_its_start() {
        let start = 1u32 << 31;
        let r = ranges(Sweep::new(start, 1 << 30));
        assert_eq!(
            r,
            vec![
                OrderRange {
                    min: start,
                    max: start + (1 << 30) - 1
                },
                OrderRange {
                    min: start,
                    max: u32::MAX
                },
                OrderRange {
                    min: 0,
                    max: (1 << 30) - 1
                },
                OrderRange {
                    min: 0,
                    max: start - 1
                },
            ]
        );
    }

    #[test]
    fn steps_and_starts_follow_the_backlog_and_the_shard() {
        assert_eq!(Sweep::step_for(1000, 0), u32::MAX);
        assert_eq!(Sweep::step_for(1000, 4000), 1 << 30);
        assert_eq!(Sweep::step_for(1, u64::MAX), 1);
        assert_eq!(Sweep::start_for(0, 16), 0);
        assert_eq!(Sweep::start_for(8, 16), 1 << 31);
        assert_eq!(Sweep::start_for(12, 16), 3 << 30);
    }

    proptest! {
        /// Every order is in the union of the ranges, and each range's max
        /// is new ground: a run always ends, whatever start and step.
        #[test]
        fn every_order_is_swept_once(start in any::<u32>(), step in 1u32..u32::MAX, probe in any::<u32>()) {
            let step = step.max(1 << 20); // keep the number of rounds small
            let r = ranges(Sweep::new(start, step));
            prop_assert!(r.iter().any(|x| x.min <= probe && probe <= x.max));
            prop_assert!(r.len() as u64 <= (u64::from(u32::MAX) / u64::from(step)) + 3);
            for w in r.windows(2) {
                prop_assert!(w[0].max != w[1].max);
            }
        }
    }
}
