//! How segments grew: actors created per week, month or year, alone and per
//! segment.

use analytics_domain::actor_segments::Dimension;
use chrono::{Datelike, NaiveDate};
use sqlx::{MySql, QueryBuilder};

use super::{segment_sql, Counted};
use crate::catalogue::CatalogueStore;
use crate::error::StoreError;

/// The grain of a time series: ISO week, month or year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grain {
    Week,
    Month,
    Year,
}

impl Grain {
    pub const ALL: [Grain; 3] = [Grain::Week, Grain::Month, Grain::Year];

    /// MySQL's `DATE_FORMAT` of the period (`2026-W48`, `2026-11`, `2026`).
    fn format(self) -> &'static str {
        match self {
            Grain::Week => "%x-W%v",
            Grain::Month => "%Y-%m",
            Grain::Year => "%Y",
        }
    }

    /// The period a date falls in, labelled as [`Grain::format`] does.
    pub fn label(self, day: NaiveDate) -> String {
        match self {
            Grain::Week => {
                let week = day.iso_week();
                format!("{}-W{:02}", week.year(), week.week())
            }
            Grain::Month => day.format("%Y-%m").to_string(),
            Grain::Year => day.format("%Y").to_string(),
        }
    }
}

impl CatalogueStore {
    /// Actors created per period (of those in a genre, if given), and per
    /// period and segment: `(totals, [(period, segment, count)])`, oldest
    /// first.
    pub async fn segment_trends(
        &self,
        dimension: Dimension,
        genre: Option<u64>,
        grain: Grain,
    ) -> Result<(Vec<(String, i64)>, Vec<(String, String, i64)>), StoreError> {
        let segment = segment_sql(dimension);
        let period = format!("DATE_FORMAT(a.created_at, '{}')", grain.format());
        let from = |q: &mut QueryBuilder<'_, MySql>| {
            q.push(" FROM actors a");
            if let Some(tag) = genre {
                q.push(" JOIN actor_genres g ON g.actor_id = a.id AND g.tag_id = ")
                    .push_bind(tag);
            }
            q.push(" WHERE a.created_at IS NOT NULL");
        };
        let mut totals = QueryBuilder::<MySql>::new(format!("SELECT {period} AS p, COUNT(*)"));
        from(&mut totals);
        totals.push(" GROUP BY p ORDER BY p");
        let mut split =
            QueryBuilder::<MySql>::new(format!("SELECT {period} AS p, {segment} AS s, COUNT(*)"));
        from(&mut split);
        split.push(format!(" AND {segment} IS NOT NULL GROUP BY p, s"));
        Ok(tokio::try_join!(
            totals.build_query_as::<Counted>().fetch_all(self.pool()),
            split.build_query_as().fetch_all(self.pool()),
        )?)
    }
}
