//! What one event adds to the counters: its action's count, the sums the
//! read side derives its figures from, and its viewer's unique-viewer
//! registers. Everything is decided from the event alone (no per-session
//! state), so every key an event touches shares its partition and each
//! increment is applied exactly once by the flush.
//!
//! The derived figures (documented for readers in `docs/events.md`):
//! - **watch time** = Σ `watch_seconds`: an event's `watched_seconds`
//!   (seconds played since the session's previous event) when sent;
//!   otherwise, for an event that ends playback (`finish`, `complete`),
//!   its `position_seconds` (players that only report where they stopped).
//! - **completion rate** = `completions` ÷ `start`: a `complete` is one
//!   completion, a `finish` is one when it stopped at ≥ 90 % of a known
//!   duration or its duration is unknown (a stop report without length).
//! - **average watch percentage** = `watch_percent_sum` ÷
//!   `watch_percent_samples`, over ending events with a known duration.
//! - **average rating** = `rating_stars` ÷ `rate`.
//! - **zero-result searches** = `zero_results`; **net likes** = `like` −
//!   `unlike`.

use crate::details::Details;
use crate::event::Event;
use crate::keys::CounterField;
use crate::time::BucketMode;
use crate::unique::Register;
use crate::vocabulary::{Action, Sum};

/// A finish at or beyond this share of a known duration is a completion.
pub const COMPLETION_PERCENT: i64 = 90;

/// What one playback event says about its viewing: the seconds it adds to
/// watch time and, for an event that ends playback, whether the viewing
/// completed and how far through it was. The counters and the raw-log
/// readers (user statistics) both decide with this one function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Playback {
    pub watched_seconds: i64,
    pub completed: bool,
    /// Whole percent of a known duration, for ending events.
    pub percent: Option<i64>,
}

impl Playback {
    pub fn of(action: Action, d: &Details) -> Self {
        let watched_seconds = match (d.watched_seconds, d.position_seconds) {
            (Some(w), _) => i64::from(w),
            (None, Some(p)) if action.ends_playback() => i64::from(p),
            _ => 0,
        };
        if !action.ends_playback() {
            return Playback {
                watched_seconds,
                ..Playback::default()
            };
        }
        let percent = d.watch_percent(action);
        let completed = match (action, percent) {
            (Action::Complete, _) | (Action::Finish, None) => true,
            (_, Some(p)) => p >= COMPLETION_PERCENT,
            _ => false,
        };
        Playback {
            watched_seconds,
            completed,
            percent,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increments {
    /// Added (HINCRBY) to the entity's counter hash.
    pub counter: Vec<(CounterField, i64)>,
    /// Events this one counts for: its action's count.
    pub units: i64,
    /// The viewer's register of the entity's unique viewers that day.
    pub day_register: Option<(CounterField, u8)>,
    /// The viewer's register of the site's unique users that hour.
    pub hour_register: Option<(CounterField, u8)>,
}

impl Event {
    /// Everything this event adds, bucketed in its domain's zone.
    pub fn increments(&self, mode: &BucketMode) -> Increments {
        let hour = mode.local_hour(&self.occurred_at);
        let d = &self.details;
        let units = match self.action {
            // A rating's value is its stars; it counts once.
            Action::Rate => 1,
            _ => self.value,
        };
        let mut counter = vec![(CounterField::count(self.action, hour), units)];
        let mut sum = |sum: Sum, n: i64| {
            if n > 0 {
                counter.push((CounterField::Sum { sum, hour }, n));
            }
        };
        if self.action == Action::Rate {
            sum(Sum::RatingStars, self.value);
        }
        let playback = Playback::of(self.action, d);
        sum(Sum::WatchSeconds, playback.watched_seconds);
        sum(Sum::Completions, i64::from(playback.completed));
        if let Some(p) = playback.percent {
            sum(Sum::WatchPercentSum, p);
            sum(Sum::WatchPercentSamples, 1);
        }
        if self.action == Action::Search && d.result_count == Some(0) {
            sum(Sum::ZeroResults, 1);
        }
        let register = self.viewer().map(|v| Register::of(&v));
        Increments {
            counter,
            units,
            day_register: register.map(|r| {
                (
                    CounterField::DayRegister {
                        date: hour.date,
                        index: r.index,
                    },
                    r.rank,
                )
            }),
            hour_register: register.map(|r| {
                (
                    CounterField::HourRegister {
                        hour,
                        index: r.index,
                    },
                    r.rank,
                )
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventRules, ValueLimits};
    use chrono::{DateTime, Utc};
    use serde_json::{json, Value};

    fn event(body: Value) -> Event {
        let now: DateTime<Utc> = "2026-02-19T12:00:00Z".parse().expect("now");
        let mut base = json!({
            "event_id": "e", "domain": "jav", "entity_type": "movie", "entity_id": "m",
            "occurred_at": "2026-02-19T10:30:00Z"
        });
        for (k, v) in body.as_object().expect("object") {
            base[k] = v.clone();
        }
        EventRules::default()
            .validate(
                base.as_object().expect("object"),
                now,
                &ValueLimits::contract(),
            )
            .expect("valid")
    }

    fn fields(e: &Event) -> Vec<(String, i64)> {
        e.increments(&BucketMode::default())
            .counter
            .iter()
            .map(|(f, n)| (f.encode(), *n))
            .collect()
    }

    fn pairs(list: &[(&str, i64)]) -> Vec<(String, i64)> {
        list.iter().map(|(f, n)| (f.to_string(), *n)).collect()
    }

    #[test]
    fn a_v1_view_adds_its_value_to_its_hour() {
        let e = event(json!({"action": "view", "value": 3}));
        assert_eq!(fields(&e), pairs(&[("view|2026-02-19|10", 3)]));
        let inc = e.increments(&BucketMode::default());
        assert_eq!(inc.units, 3);
        assert_eq!(inc.day_register, None, "no user, no session: no viewer");
    }

    #[test]
    fn a_rating_counts_once_and_sums_its_stars() {
        let e = event(json!({"action": "rate", "value": 4, "user_id": 7}));
        assert_eq!(
            fields(&e),
            pairs(&[
                ("rate|2026-02-19|10", 1),
                ("+rating_stars|2026-02-19|10", 4)
            ])
        );
        assert_eq!(e.increments(&BucketMode::default()).units, 1);
    }

    #[test]
    fn a_finish_near_the_end_is_a_completion_with_its_position_as_watch_time() {
        let e = event(json!({"action": "stream.stop", "position_seconds": 5400,
                             "duration_seconds": 5700, "session_id": "s"}));
        assert_eq!(
            fields(&e),
            pairs(&[
                ("finish|2026-02-19|10", 1),
                ("+watch_seconds|2026-02-19|10", 5400),
                ("+completions|2026-02-19|10", 1),
                ("+watch_percent_sum|2026-02-19|10", 95),
                ("+watch_percent_samples|2026-02-19|10", 1),
            ])
        );
        let early = event(json!({"action": "finish", "position_seconds": 600,
                                 "duration_seconds": 5700, "watched_seconds": 20}));
        assert_eq!(
            fields(&early),
            pairs(&[
                ("finish|2026-02-19|10", 1),
                ("+watch_seconds|2026-02-19|10", 20),
                ("+watch_percent_sum|2026-02-19|10", 11),
                ("+watch_percent_samples|2026-02-19|10", 1),
            ])
        );
        // A stop report without a length counts as finished (the streaming
        // service's own rule).
        let bare = event(json!({"action": "finish", "position_seconds": 60}));
        assert!(fields(&bare).contains(&("+completions|2026-02-19|10".to_string(), 1)));
    }

    #[test]
    fn progress_adds_only_what_was_watched() {
        let e =
            event(json!({"action": "progress", "position_seconds": 300, "watched_seconds": 30}));
        assert_eq!(
            fields(&e),
            pairs(&[
                ("progress|2026-02-19|10", 1),
                ("+watch_seconds|2026-02-19|10", 30)
            ])
        );
        let no_delta = event(json!({"action": "progress", "position_seconds": 300}));
        assert_eq!(fields(&no_delta), pairs(&[("progress|2026-02-19|10", 1)]));
    }

    #[test]
    fn a_search_without_results_is_counted_as_such() {
        let e = event(
            json!({"action": "search", "entity_type": "query", "entity_id": null,
                             "query": "Space Opera", "result_count": 0}),
        );
        assert_eq!(e.entity.entity_id, "space opera");
        assert_eq!(
            fields(&e),
            pairs(&[
                ("search|2026-02-19|10", 1),
                ("+zero_results|2026-02-19|10", 1)
            ])
        );
    }

    #[test]
    fn viewers_are_users_or_else_sessions_and_only_for_viewing_actions() {
        let by_user = event(json!({"action": "start", "user_id": 5, "session_id": "s"}));
        let by_session = event(json!({"action": "start", "session_id": "s"}));
        assert_eq!(by_user.viewer().as_deref(), Some("u:5"));
        assert_eq!(by_session.viewer().as_deref(), Some("s:s"));
        let like = event(json!({"action": "like", "user_id": 5}));
        assert_eq!(like.viewer(), None);
        let inc = by_user.increments(&BucketMode::default());
        let (day, rank) = inc.day_register.expect("register");
        let r = Register::of("u:5");
        assert_eq!(day.encode(), format!("~2026-02-19|{}", r.index));
        assert_eq!(rank, r.rank);
        let (hour, _) = inc.hour_register.expect("register");
        assert_eq!(hour.encode(), format!("~2026-02-19|10|{}", r.index));
    }
}
