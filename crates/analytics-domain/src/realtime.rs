//! Realtime figures: what ingest saw in the last seconds, summed by every
//! ingest process into per-second tallies, and the metrics derived from
//! them. Best effort by design — a lost tally makes a second look quiet; it
//! never touches the exactly-once counts.

use std::collections::BTreeMap;

use serde::Serialize;

/// Seconds the error rates look back over.
pub const ERROR_WINDOW_SECONDS: i64 = 60;
/// Seconds `events_per_second` averages over (complete seconds only).
pub const RATE_WINDOW_SECONDS: i64 = 10;
/// The longest concurrent-viewer window a reader may ask for; writers keep
/// viewers this long.
pub const MAX_VIEWER_WINDOW_SECONDS: i64 = 900;
/// Distinct viewers one process reports per second (bounds its memory).
pub const MAX_VIEWERS_PER_TICK: usize = 100_000;

/// One second's counts of one process, or of all of them summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LiveCounts {
    /// Every event that reached ingest: counted, repeated or refused.
    pub received: i64,
    pub accepted: i64,
    pub rejected: i64,
    /// Accepted player events, and those of them that were `error`s.
    pub playback: i64,
    pub playback_errors: i64,
}

impl LiveCounts {
    pub const FIELDS: [&'static str; 5] = [
        "received",
        "accepted",
        "rejected",
        "playback",
        "playback_errors",
    ];

    pub fn values(&self) -> [i64; 5] {
        [
            self.received,
            self.accepted,
            self.rejected,
            self.playback,
            self.playback_errors,
        ]
    }

    /// Adds a field by its name (unknown names are ignored).
    pub fn add_field(&mut self, name: &str, n: i64) {
        match name {
            "received" => self.received += n,
            "accepted" => self.accepted += n,
            "rejected" => self.rejected += n,
            "playback" => self.playback += n,
            "playback_errors" => self.playback_errors += n,
            _ => {}
        }
    }

    pub fn add(&mut self, other: &LiveCounts) {
        for (name, n) in Self::FIELDS.iter().zip(other.values()) {
            self.add_field(name, n);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values().iter().all(|n| *n == 0)
    }
}

/// What one process saw since its last report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    pub counts: LiveCounts,
    /// Viewers with a playback event (their session, else their user), each
    /// with the latest second (epoch) one of those events happened: who is
    /// watching now is decided by when they watched, not when the event
    /// arrived (a batch replayed from a player's queue hours later watches
    /// nothing now).
    pub viewers: BTreeMap<String, i64>,
    /// Accepted events for the live feed (normalised JSON), a bounded sample.
    pub samples: Vec<String>,
}

impl Tick {
    /// Notes `viewer` watching at `occurred` (epoch seconds); a tick holds at
    /// most [`MAX_VIEWERS_PER_TICK`] viewers.
    pub fn saw_viewer(&mut self, viewer: String, occurred: i64) {
        let full = self.viewers.len() >= MAX_VIEWERS_PER_TICK;
        match self.viewers.get_mut(&viewer) {
            Some(latest) => *latest = (*latest).max(occurred),
            None if !full => {
                self.viewers.insert(viewer, occurred);
            }
            None => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.viewers.is_empty() && self.samples.is_empty()
    }
}

/// The realtime metrics (the video player's `/api/metrics/realtime`, less what
/// only a CDN knows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RealtimeMetrics {
    /// Viewers with a playback event in the last `viewer_window_seconds`.
    pub concurrent_viewers: u64,
    pub viewer_window_seconds: i64,
    /// Accepted events per second over the last complete seconds.
    pub events_per_second: f64,
    /// Refused ÷ received over the last minute.
    pub error_rate: f64,
    /// Player `error` events ÷ player events over the last minute.
    pub playback_error_rate: f64,
    pub received_last_minute: i64,
    pub accepted_last_minute: i64,
    /// The second (Unix time) these figures are as of.
    pub as_of: i64,
}

fn rate(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    ((part as f64 / whole as f64) * 10_000.0).round() / 10_000.0
}

impl RealtimeMetrics {
    /// From the per-second tallies (second → counts, any order) at `now`.
    pub fn of(
        seconds: &[(i64, LiveCounts)],
        now: i64,
        concurrent_viewers: u64,
        viewer_window_seconds: i64,
    ) -> Self {
        let mut minute = LiveCounts::default();
        let mut recent_accepted = 0;
        for (second, counts) in seconds {
            let age = now - second;
            if (0..ERROR_WINDOW_SECONDS).contains(&age) {
                minute.add(counts);
            }
            // The current second is still being tallied: left out.
            if (1..=RATE_WINDOW_SECONDS).contains(&age) {
                recent_accepted += counts.accepted;
            }
        }
        RealtimeMetrics {
            concurrent_viewers,
            viewer_window_seconds,
            events_per_second: (recent_accepted as f64 / RATE_WINDOW_SECONDS as f64 * 10.0).round()
                / 10.0,
            error_rate: rate(minute.rejected, minute.received),
            playback_error_rate: rate(minute.playback_errors, minute.playback),
            received_last_minute: minute.received,
            accepted_last_minute: minute.accepted,
            as_of: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_is_kept_at_the_latest_time_they_watched() {
        let mut tick = Tick::default();
        tick.saw_viewer("s-1".into(), 100);
        tick.saw_viewer("s-1".into(), 40);
        tick.saw_viewer("s-2".into(), 7);
        tick.saw_viewer("s-2".into(), 9);
        assert_eq!(
            tick.viewers.into_iter().collect::<Vec<_>>(),
            [("s-1".to_string(), 100), ("s-2".to_string(), 9)]
        );
    }

    fn counts(
        received: i64,
        accepted: i64,
        rejected: i64,
        playback: i64,
        errors: i64,
    ) -> LiveCounts {
        LiveCounts {
            received,
            accepted,
            rejected,
            playback,
            playback_errors: errors,
        }
    }

    #[test]
    fn rates_cover_their_windows_only() {
        let now = 1_000;
        let seconds = vec![
            (now, counts(5, 5, 0, 0, 0)),            // current: error window only
            (now - 1, counts(10, 8, 2, 4, 1)),       // both windows
            (now - 10, counts(20, 20, 0, 0, 0)),     // both windows
            (now - 11, counts(100, 50, 50, 10, 0)),  // error window only
            (now - 60, counts(1000, 0, 1000, 0, 0)), // outside both
        ];
        let m = RealtimeMetrics::of(&seconds, now, 7, 60);
        assert_eq!(m.events_per_second, 2.8);
        assert_eq!(m.received_last_minute, 135);
        assert_eq!(m.error_rate, 0.3852);
        assert_eq!(m.playback_error_rate, 0.0714);
        assert_eq!((m.concurrent_viewers, m.as_of), (7, now));
    }

    #[test]
    fn a_quiet_minute_has_zero_rates() {
        let m = RealtimeMetrics::of(&[], 5, 0, 60);
        assert_eq!((m.events_per_second, m.error_rate), (0.0, 0.0));
        let mut c = LiveCounts::default();
        c.add_field("accepted", 3);
        c.add_field("nonsense", 9);
        assert_eq!(c.values(), [0, 3, 0, 0, 0]);
    }
}
