//! The progress line of long jobs (cut-over, prune): on stderr, at most one
//! every two seconds, so stdout keeps only what the job did.

use std::time::{Duration, Instant};

const EVERY: Duration = Duration::from_secs(2);

pub struct Progress {
    what: &'static str,
    total: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    /// `what` names the job and the unit (`cutover: films balanced`);
    /// `total` 0 when unknown.
    pub fn new(what: &'static str, total: u64) -> Self {
        let now = Instant::now();
        Progress {
            what,
            total,
            started: now,
            last: now,
        }
    }

    pub fn tick(&mut self, done: u64) {
        if self.last.elapsed() < EVERY {
            return;
        }
        self.last = Instant::now();
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        if self.total > 0 {
            eprintln!(
                "{} {done} of {} ({:.0} %), {rate:.0}/s",
                self.what,
                self.total,
                done as f64 * 100.0 / self.total as f64
            );
        } else {
            eprintln!("{} {done}, {rate:.0}/s", self.what);
        }
    }
}
