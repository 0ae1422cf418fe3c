//! The xcity.jp profile crawler's coverage of the actor catalogue.

use serde::Serialize;

use super::{or_absent, CatalogueStore};
use crate::error::StoreError;

/// How much of the actor catalogue the xcity.jp profile crawler has filled
/// in: read from its columns on `actors` (`xcity_id`, `xcity_url`,
/// `xcity_cover`, `xcity_birth_date`, `xcity_size`, `xcity_synced_at`) and
/// its `actor_profile_sources` rows where the catalogue has them, else 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct XcityCoverage {
    pub actors_total: i64,
    pub actors_created_today: i64,
    pub with_xcity_id: i64,
    pub with_xcity_url: i64,
    pub with_xcity_cover: i64,
    pub with_xcity_birth_date: i64,
    pub with_xcity_size: i64,
    pub xcity_synced_today: i64,
    pub xcity_profile_source_total: i64,
    pub xcity_profile_source_today: i64,
}

/// `SUM(column is filled)` as a number.
fn filled(column: &str) -> String {
    format!("CAST(COALESCE(SUM({column} IS NOT NULL AND {column} <> ''), 0) AS SIGNED)")
}

impl CatalogueStore {
    /// The xcity.jp crawler's coverage; `today` starts at `today_start`.
    pub async fn xcity_coverage(&self, today_start: i64) -> Result<XcityCoverage, StoreError> {
        let since = "FROM_UNIXTIME(?)";
        let (actors_total, actors_created_today) = self
            .count_pair(
                &format!("SELECT COUNT(*), CAST(COALESCE(SUM(created_at >= {since}), 0) AS SIGNED) FROM actors"),
                today_start,
            )
            .await?;
        let columns = sqlx::query_as::<_, (i64, i64, i64, i64, i64, i64)>(&format!(
            "SELECT {}, {}, {}, CAST(COALESCE(SUM(xcity_birth_date IS NOT NULL), 0) AS SIGNED), {}, \
             CAST(COALESCE(SUM(xcity_synced_at >= {since}), 0) AS SIGNED) FROM actors",
            filled("xcity_id"),
            filled("xcity_url"),
            filled("xcity_cover"),
            filled("xcity_size"),
        ))
        .bind(today_start)
        .fetch_one(self.pool())
        .await;
        let (profiles, profiles_today) = self
            .count_pair(
                &format!(
                    "SELECT COUNT(*), CAST(COALESCE(SUM(created_at >= {since}), 0) AS SIGNED) \
                     FROM actor_profile_sources WHERE source = 'xcity'"
                ),
                today_start,
            )
            .await?;
        let mut coverage = XcityCoverage {
            actors_total,
            actors_created_today,
            xcity_profile_source_total: profiles,
            xcity_profile_source_today: profiles_today,
            ..XcityCoverage::default()
        };
        if let Some((id, url, cover, birth_date, size, synced_today)) =
            or_absent(columns.map(Some), None)?
        {
            coverage.with_xcity_id = id;
            coverage.with_xcity_url = url;
            coverage.with_xcity_cover = cover;
            coverage.with_xcity_birth_date = birth_date;
            coverage.with_xcity_size = size;
            coverage.xcity_synced_today = synced_today;
        }
        Ok(coverage)
    }

    /// Two figures of one row, the query taking one time bound.
    async fn count_pair(&self, sql: &str, bound: i64) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query_as(sql).bind(bound).fetch_one(self.pool()).await;
        or_absent(row, (0, 0))
    }
}
