//! The figures the read side derives from a range's counts and sums (one
//! definition for every route that shows them).

use serde::Serialize;

use crate::rollup::Counts;
use crate::{Action, Sum};

/// A range's viewing figures of one film (or of the site).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ViewingFigures {
    /// Playback starts.
    pub views: i64,
    pub unique_viewers: u64,
    pub watch_time_seconds: i64,
    /// Mean of the ending events' watched percentage (0..100, 2 decimals).
    pub avg_watch_percentage: f64,
    /// Completions ÷ starts, 0..1 (4 decimals); a viewing that sent both a
    /// `complete` and a late `finish` could count twice, so it is capped.
    pub completion_rate: f64,
    /// 0..10, see [`engagement_score`].
    pub engagement_score: f64,
}

/// `x` rounded half away from zero to `decimals` places.
pub fn round_to(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale
}

/// `part ÷ whole` (0 when there is no whole), capped at 1.
pub fn ratio(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 0.0;
    }
    (part.max(0) as f64 / whole as f64).min(1.0)
}

/// A ratio as a percentage with 2 decimals (as the viewing service showed
/// its completion rates).
pub fn percent(part: i64, whole: i64) -> f64 {
    round_to(ratio(part, whole) * 100.0, 2)
}

/// Engagement on a 0–10 scale: how much of a film its viewers watch (40 %),
/// how many of its starts are finished (40 %) and how often a viewer comes
/// back to it (20 %: starts per unique viewer, 1 = nobody came back, 3 or
/// more = full marks). One decimal.
pub fn engagement_score(
    avg_watch_percentage: f64,
    completion_rate: f64,
    views: i64,
    unique_viewers: u64,
) -> f64 {
    let watched = (avg_watch_percentage / 100.0).clamp(0.0, 1.0);
    let returns = if unique_viewers == 0 {
        0.0
    } else {
        ((views as f64 / unique_viewers as f64 - 1.0) / 2.0).clamp(0.0, 1.0)
    };
    round_to(
        10.0 * (0.4 * watched + 0.4 * completion_rate.clamp(0.0, 1.0) + 0.2 * returns),
        1,
    )
}

impl ViewingFigures {
    pub fn of(counts: &Counts, unique_viewers: u64) -> Self {
        let views = counts.get(Action::Start);
        let samples = counts.sum(Sum::WatchPercentSamples);
        let avg_watch_percentage = if samples > 0 {
            round_to(counts.sum(Sum::WatchPercentSum) as f64 / samples as f64, 2)
        } else {
            0.0
        };
        let completion_rate = round_to(ratio(counts.sum(Sum::Completions), views), 4);
        ViewingFigures {
            views,
            unique_viewers,
            watch_time_seconds: counts.sum(Sum::WatchSeconds),
            avg_watch_percentage,
            completion_rate,
            engagement_score: engagement_score(
                avg_watch_percentage,
                completion_rate,
                views,
                unique_viewers,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_follow_the_documented_rules() {
        let mut c = Counts::of(&[(Action::Start, 10)]);
        c.add_sum(Sum::Completions, 4);
        c.add_sum(Sum::WatchSeconds, 3600);
        c.add_sum(Sum::WatchPercentSum, 300);
        c.add_sum(Sum::WatchPercentSamples, 4);
        let f = ViewingFigures::of(&c, 5);
        assert_eq!(f.views, 10);
        assert_eq!(f.watch_time_seconds, 3600);
        assert_eq!(f.avg_watch_percentage, 75.0);
        assert_eq!(f.completion_rate, 0.4);
        // 10 × (0.4·0.75 + 0.4·0.4 + 0.2·0.5) = 5.6
        assert_eq!(f.engagement_score, 5.6);
    }

    #[test]
    fn empty_ranges_and_excess_completions_stay_in_bounds() {
        let f = ViewingFigures::of(&Counts::default(), 0);
        assert_eq!((f.completion_rate, f.engagement_score), (0.0, 0.0));
        let mut c = Counts::of(&[(Action::Start, 2)]);
        c.add_sum(Sum::Completions, 3);
        assert_eq!(ViewingFigures::of(&c, 2).completion_rate, 1.0);
        assert_eq!(percent(1, 3), 33.33);
        assert_eq!(engagement_score(100.0, 1.0, 9, 3), 10.0);
    }
}
