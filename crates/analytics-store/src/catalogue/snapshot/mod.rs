//! The admin snapshot's reads of the catalogue: each one aggregation MySQL
//! answers from an index, all run at once; the figures that need a pass over
//! the whole catalogue are kept by the catalogue refresh. A table the
//! catalogue does not have reads as empty (older catalogues lack some).
//! The whole-catalogue figures (`figures`) and the profile crawler's
//! coverage (`xcity`) have modules of their own.

use analytics_domain::snapshot::{DayCounts, SnapshotFacts, TopMovie};
use sqlx::{MySql, QueryBuilder};

use super::CatalogueStore;
use crate::error::StoreError;

mod figures;
mod xcity;

pub use xcity::XcityCoverage;

/// The queue the catalogue's sync jobs run on.
const SYNC_QUEUE: &str = "jav";

/// A movie's catalogue row as the top lists show it.
const TOP_MOVIE: &str = "SELECT uuid, code, title, CAST(COALESCE(views, 0) AS SIGNED), \
    CAST(COALESCE(downloads, 0) AS SIGNED) FROM jav";

/// A [`TOP_MOVIE`] row: uuid, code, title, views, downloads.
type TopMovieRow = (String, Option<String>, Option<String>, i64, i64);

/// The window a snapshot counts in: the first instant (epoch seconds) of
/// each of its local days, then of the day after it.
struct DayBounds<'a>(&'a [i64]);

impl DayBounds<'_> {
    fn start(&self) -> i64 {
        self.0.first().copied().unwrap_or(0)
    }

    fn end(&self) -> i64 {
        self.0.last().copied().unwrap_or(0)
    }

    /// `INTERVAL(UNIX_TIMESTAMP(created_at), b0, b1, …)`: 1 for the first
    /// day, 2 for the second… (MySQL binary-searches the sorted bounds, so
    /// days of any length, DST included, are exact).
    fn push_day_of(&self, q: &mut QueryBuilder<'_, MySql>) {
        q.push("INTERVAL(UNIX_TIMESTAMP(created_at)");
        for b in self.0 {
            q.push(", ").push_bind(*b);
        }
        q.push(")");
    }

    fn push_within(&self, q: &mut QueryBuilder<'_, MySql>) {
        q.push(" WHERE created_at >= FROM_UNIXTIME(")
            .push_bind(self.start())
            .push(") AND created_at < FROM_UNIXTIME(")
            .push_bind(self.end())
            .push(")");
    }
}

/// A read of a table (or column) that may not exist: its absence reads as
/// `empty`.
fn or_absent<T>(read: Result<T, sqlx::Error>, empty: T) -> Result<T, StoreError> {
    match read {
        Err(sqlx::Error::Database(e)) if matches!(e.code().as_deref(), Some("42S02" | "42S22")) => {
            Ok(empty)
        }
        other => Ok(other?),
    }
}

/// A window day from `INTERVAL`'s answer (1-based; 0 is before the window).
fn day_index(interval: i64) -> Option<usize> {
    usize::try_from(interval).ok()?.checked_sub(1)
}

impl CatalogueStore {
    /// Everything the snapshot shows, read at once: rows created per day
    /// between `day_starts` (epoch seconds, the window's days and the end),
    /// `top` movies per top list (at most the 100 the refresh keeps of the
    /// best rated), failed jobs since 24 hours before `now`; the
    /// whole-catalogue figures as the last refresh kept them, or computed
    /// now before the first one.
    pub async fn snapshot_facts(
        &self,
        day_starts: &[i64],
        now: i64,
        top: i64,
    ) -> Result<SnapshotFacts, StoreError> {
        let bounds = &DayBounds(day_starts);
        let (
            movies_by_source,
            movies_created,
            actors_total,
            actors_created,
            tags_total,
            tags_created,
            favorites,
            watchlists,
            ratings,
            history,
            top_viewed,
            top_downloaded,
            (pending_jobs, failed_jobs_24h),
            stored,
        ) = tokio::try_join!(
            self.movies_by_source(),
            self.movies_created(bounds),
            self.count("SELECT COUNT(*) FROM actors"),
            self.created_per_day("actors", bounds),
            self.count("SELECT COUNT(*) FROM tags"),
            self.created_per_day("tags", bounds),
            self.created_per_day("favorites", bounds),
            self.created_per_day("watchlists", bounds),
            self.created_per_day("ratings", bounds),
            self.created_per_day("user_jav_history", bounds),
            self.top_movies_by("views DESC, downloads DESC, id DESC", top),
            self.top_movies_by("downloads DESC, views DESC, id DESC", top),
            async {
                tokio::try_join!(self.pending_jobs(), self.failed_jobs_since(now - 24 * 3600))
            },
            self.stored_figures(),
        )?;
        let (figures_refreshed_at, figures) = match stored {
            Some((at, mut figures)) => {
                figures
                    .top_rated
                    .truncate(usize::try_from(top).unwrap_or(0));
                (Some(at), figures)
            }
            None => (None, self.catalogue_figures(top).await?),
        };
        Ok(SnapshotFacts {
            movies_by_source,
            movies_created,
            actors_total,
            actors_created,
            tags_total,
            tags_created,
            favorites,
            watchlists,
            ratings,
            history,
            top_viewed,
            top_downloaded,
            figures,
            figures_refreshed_at,
            pending_jobs,
            failed_jobs_24h,
        })
    }

    /// A single `COUNT(*)`-like figure.
    async fn count(&self, sql: &str) -> Result<i64, StoreError> {
        or_absent(
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(self.pool())
                .await,
            0,
        )
    }

    async fn movies_by_source(&self) -> Result<Vec<(Option<String>, i64)>, StoreError> {
        let rows = sqlx::query_as("SELECT source, COUNT(*) FROM jav GROUP BY source")
            .fetch_all(self.pool())
            .await;
        or_absent(rows, Vec::new())
    }

    async fn movies_created(
        &self,
        bounds: &DayBounds<'_>,
    ) -> Result<Vec<(Option<String>, usize, i64)>, StoreError> {
        let mut q = QueryBuilder::<MySql>::new("SELECT source, ");
        bounds.push_day_of(&mut q);
        q.push(" AS d, COUNT(*) FROM jav");
        bounds.push_within(&mut q);
        q.push(" GROUP BY source, d");
        let rows: Vec<(Option<String>, i64, i64)> =
            or_absent(q.build_query_as().fetch_all(self.pool()).await, Vec::new())?;
        Ok(rows
            .into_iter()
            .filter_map(|(source, d, n)| Some((source, day_index(d)?, n)))
            .collect())
    }

    /// Rows of `table` created on each window day.
    async fn created_per_day(
        &self,
        table: &'static str,
        bounds: &DayBounds<'_>,
    ) -> Result<DayCounts, StoreError> {
        let mut q = QueryBuilder::<MySql>::new("SELECT ");
        bounds.push_day_of(&mut q);
        q.push(format!(" AS d, COUNT(*) FROM {table}"));
        bounds.push_within(&mut q);
        q.push(" GROUP BY d");
        let rows: Vec<(i64, i64)> =
            or_absent(q.build_query_as().fetch_all(self.pool()).await, Vec::new())?;
        Ok(rows
            .into_iter()
            .filter_map(|(d, n)| Some((day_index(d)?, n)))
            .collect())
    }

    async fn top_movies_by(
        &self,
        order: &'static str,
        top: i64,
    ) -> Result<Vec<TopMovie>, StoreError> {
        let rows: Vec<TopMovieRow> = or_absent(
            sqlx::query_as(&format!("{TOP_MOVIE} ORDER BY {order} LIMIT ?"))
                .bind(top)
                .fetch_all(self.pool())
                .await,
            Vec::new(),
        )?;
        Ok(rows
            .into_iter()
            .map(|(uuid, code, title, views, downloads)| TopMovie {
                uuid,
                code,
                title,
                views,
                downloads,
            })
            .collect())
    }

    async fn pending_jobs(&self) -> Result<i64, StoreError> {
        let n = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE queue = ?")
            .bind(SYNC_QUEUE)
            .fetch_one(self.pool())
            .await;
        or_absent(n, 0)
    }

    async fn failed_jobs_since(&self, since: i64) -> Result<i64, StoreError> {
        let n = sqlx::query_scalar(
            "SELECT COUNT(*) FROM failed_jobs WHERE queue = ? AND failed_at >= FROM_UNIXTIME(?)",
        )
        .bind(SYNC_QUEUE)
        .bind(since)
        .fetch_one(self.pool())
        .await;
        or_absent(n, 0)
    }
}
