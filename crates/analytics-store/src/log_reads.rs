//! Questions only the raw event log can answer (the rollups count per
//! entity, not per user or per recommendation placement): one user's
//! playback, and recommendations by where and why they were shown.
//!
//! The log's text columns are binary-collated (exact ids), which the driver
//! reads as bytes, so every text column read is converted to utf8mb4. Each
//! read names its index, which holds every column it reads: with `action
//! IN (…)` and a time range in the same query the planner may otherwise
//! take the recommendation (action + time) index for a user's statistics
//! and scan every player event of the window.

use analytics_domain::details::Details;
use analytics_domain::Action;
use chrono::{Duration, NaiveDate};
use sqlx::{MySql, QueryBuilder, Row};

use crate::catalogue::CatalogueStore;
use crate::error::StoreError;

/// Local days `from..=to`: the rows' local dates, and a UTC window on
/// `occurred_at` wide enough for any zone (±14 h) so the time index is used.
#[derive(Debug, Clone, Copy)]
pub struct LocalDays {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl LocalDays {
    fn push_filter(&self, q: &mut QueryBuilder<'_, MySql>) {
        let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        q.push(" AND occurred_at >= ")
            .push_bind(day(self.from - Duration::days(1)))
            .push(" AND occurred_at < ")
            .push_bind(day(self.to + Duration::days(2)))
            .push(" AND local_date BETWEEN ")
            .push_bind(day(self.from))
            .push(" AND ")
            .push_bind(day(self.to));
    }
}

/// One playback event of a user, as far as its figures need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaybackRow {
    pub movie_id: String,
    pub action: Action,
    pub details: Details,
}

/// Recommendation events of one (placement, reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecommendationCell {
    /// Empty when the event did not say.
    pub placement: String,
    pub reason: String,
    pub impressions: i64,
    pub clicks: i64,
}

fn push_actions(q: &mut QueryBuilder<'_, MySql>, actions: &[Action]) {
    q.push(" AND action IN (");
    let mut list = q.separated(", ");
    for a in actions {
        list.push_bind(a.as_str());
    }
    q.push(")");
}

impl CatalogueStore {
    /// A user's playback events on movies over local days (the user + time
    /// index: a heavy viewer's month is a range of it).
    pub async fn user_playback(
        &self,
        domain: &str,
        user_id: &str,
        days: LocalDays,
    ) -> Result<Vec<PlaybackRow>, StoreError> {
        let mut q = QueryBuilder::<MySql>::new(
            "SELECT CONVERT(entity_id USING utf8mb4) AS movie_id, \
             CONVERT(action USING utf8mb4) AS action, position_seconds, duration_seconds, \
             watched_seconds FROM analytics_events \
             FORCE INDEX (analytics_events_user_playback_index) WHERE user_id = ",
        );
        q.push_bind(user_id);
        days.push_filter(&mut q);
        q.push(" AND domain = ")
            .push_bind(domain)
            .push(" AND entity_type = 'movie'");
        push_actions(&mut q, &Action::PLAYBACK);
        let rows = q.build().fetch_all(self.pool()).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let action: String = row.try_get("action")?;
            let Some(action) = Action::parse(&action) else {
                continue;
            };
            out.push(PlaybackRow {
                movie_id: row.try_get("movie_id")?,
                action,
                details: Details {
                    position_seconds: row.try_get("position_seconds")?,
                    duration_seconds: row.try_get("duration_seconds")?,
                    watched_seconds: row.try_get("watched_seconds")?,
                    ..Details::default()
                },
            });
        }
        Ok(out)
    }

    /// Recommendation impressions and clicks per (placement, reason).
    pub async fn recommendation_cells(
        &self,
        domain: &str,
        days: LocalDays,
    ) -> Result<Vec<RecommendationCell>, StoreError> {
        let mut q = QueryBuilder::<MySql>::new(
            "SELECT CONVERT(COALESCE(placement, '') USING utf8mb4) AS placement, \
             CONVERT(COALESCE(reason, '') USING utf8mb4) AS reason, \
             CAST(SUM(action = 'recommendation_impression') AS SIGNED) AS impressions, \
             CAST(SUM(action = 'recommendation_click') AS SIGNED) AS clicks \
             FROM analytics_events FORCE INDEX (analytics_events_recommendation_index) \
             WHERE domain = ",
        );
        q.push_bind(domain);
        push_actions(
            &mut q,
            &[
                Action::RecommendationImpression,
                Action::RecommendationClick,
            ],
        );
        days.push_filter(&mut q);
        q.push(" GROUP BY 1, 2 ORDER BY 1, 2");
        let rows = q.build().fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                Ok(RecommendationCell {
                    placement: row.try_get("placement")?,
                    reason: row.try_get("reason")?,
                    impressions: row.try_get("impressions")?,
                    clicks: row.try_get("clicks")?,
                })
            })
            .collect()
    }
}
