//! The entity-order sweep of one flush run. Every counter key is scored by
//! its entity's order (a 32-bit hash, [`crate::KeySpace::entity_order`]); a
//! run claims keys round by round over rising ranges of that order, so an
//! entity's keys in every partition land in the same round.
//!
//! A run sweeps the space **once** and ends: each key is claimed when the
//! sweep passes its order, keys that arrive behind the sweep wait for the
//! next run, so a run started under continuous ingest does about the work
//! it found and finishes. Runs of different shards start at different offsets and
//! wrap around, so shards running side by side work on different entities
//! (and different hourly slots) at any moment instead of colliding.

/// An inclusive range of entity orders one round claims from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRange {
    pub min: u32,
    pub max: u32,
}

/// The ranges of one run: consecutive, disjoint ranges from `start` up to
/// the top of the space, then from 0 up to just below `start`. A key is
/// claimed when the sweep passes its order; one that arrives behind the
/// sweep waits for the next run. A range in which a partition had more
/// keys than one batch is claimed again ([`Sweep::repeat_last`]) before the
/// sweep moves on.
#[derive(Debug, Clone)]
pub struct Sweep {
    start: u32,
    step: u32,
    /// The last range handed out.
    last: Option<OrderRange>,
    /// Whether the sweep has wrapped to the part below `start`.
    wrapped: bool,
    done: bool,
}

impl Sweep {
    /// A sweep starting at `start`, rounds `step` orders wide.
    pub fn new(start: u32, step: u32) -> Self {
        Sweep {
            start,
            step: step.max(1),
            last: None,
            wrapped: false,
            done: false,
        }
    }

    /// Rounds of about `batch_size` keys out of `backlog` dirty keys
    /// (orders are uniform over the 32-bit space).
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

    /// The end of the current leg: the top of the space, then just below
    /// `start` after the wrap.
    fn leg_end(&self) -> u32 {
        if self.wrapped {
            self.start.saturating_sub(1)
        } else {
            u32::MAX
        }
    }

    /// The range of the next round, or `None` once the space was covered.
    pub fn next_range(&mut self) -> Option<OrderRange> {
        if self.done {
            return None;
        }
        let min = match self.last {
            None => self.start,
            Some(last) if last.max < self.leg_end() => last.max + 1,
            Some(_) if !self.wrapped && self.start > 0 => {
                self.wrapped = true;
                0
            }
            Some(_) => {
                self.done = true;
                return None;
            }
        };
        let max = min.saturating_add(self.step - 1).min(self.leg_end());
        let range = OrderRange { min, max };
        self.last = Some(range);
        Some(range)
    }

    /// The range last handed out, again (a partition had more keys in it
    /// than one batch).
    pub fn repeat_last(&self) -> Option<OrderRange> {
        self.last
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
    fn a_sweep_from_zero_covers_the_space_in_consecutive_ranges() {
        let r = ranges(Sweep::new(0, 1 << 30));
        assert_eq!(
            r,
            vec![
                OrderRange {
                    min: 0,
                    max: (1 << 30) - 1
                },
                OrderRange {
                    min: 1 << 30,
                    max: (2 << 30) - 1
                },
                OrderRange {
                    min: 2 << 30,
                    max: (3 << 30) - 1
                },
                OrderRange {
                    min: 3 << 30,
                    max: u32::MAX
                },
            ]
        );
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
                    min: start + (1 << 30),
                    max: u32::MAX
                },
                OrderRange {
                    min: 0,
                    max: (1 << 30) - 1
                },
                OrderRange {
                    min: 1 << 30,
                    max: start - 1
                },
            ]
        );
    }

    #[test]
    fn a_dense_range_is_handed_out_again() {
        let mut sweep = Sweep::new(0, 1 << 31);
        let first = sweep.next_range();
        assert_eq!(sweep.repeat_last(), first);
        assert_eq!(sweep.next_range().map(|r| r.min), Some(1 << 31));
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
        /// The ranges tile the whole space exactly once, whatever start and
        /// step: every order is claimed by exactly one round of a run.
        #[test]
        fn the_ranges_tile_the_space(start in any::<u32>(), step in (1u32 << 20)..u32::MAX, probe in any::<u32>()) {
            let r = ranges(Sweep::new(start, step));
            let covering = r.iter().filter(|x| x.min <= probe && probe <= x.max).count();
            prop_assert_eq!(covering, 1);
            let width: u64 = r.iter().map(|x| u64::from(x.max - x.min) + 1).sum();
            prop_assert_eq!(width, u64::from(u32::MAX) + 1);
        }
    }
}
