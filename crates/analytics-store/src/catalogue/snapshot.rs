//! The admin snapshot's reads of the catalogue: each one aggregation MySQL
//! answers from an index, all run at once; the figures that need a pass over
//! the whole catalogue are kept by the catalogue refresh. A table the
//! catalogue does not have reads as empty (older catalogues lack some).

use analytics_domain::snapshot::{
    CatalogueFigures, DayCounts, RatedMovie, SnapshotFacts, TopMovie,
};
use serde::Serialize;
use sqlx::{MySql, QueryBuilder, Row};

use super::CatalogueStore;
use crate::error::StoreError;

/// Best rated movies the refresh keeps (the most a report lists).
const STORED_TOP_RATED: usize = 100;

/// The queue the catalogue's sync jobs run on.
const SYNC_QUEUE: &str = "jav";

/// A movie's catalogue row as the top lists show it.
const TOP_MOVIE: &str = "SELECT uuid, code, title, CAST(COALESCE(views, 0) AS SIGNED), \
    CAST(COALESCE(downloads, 0) AS SIGNED) FROM jav";

/// A [`TOP_MOVIE`] row: uuid, code, title, views, downloads.
type TopMovieRow = (String, Option<String>, Option<String>, i64, i64);
/// A best-rated row: uuid, code, title, average rating, ratings.
type RatedRow = (String, Option<String>, Option<String>, f64, i64);

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

    /// The whole-catalogue figures, computed now (`top` best rated).
    async fn catalogue_figures(&self, top: i64) -> Result<CatalogueFigures, StoreError> {
        let (
            movies_without_actors,
            movies_without_tags,
            (movies_without_image, movies_without_date),
            actors_without_movies,
            tags_without_movies,
            actor_links,
            tag_links,
            top_rated,
        ) = tokio::try_join!(
            self.count(
                "SELECT COUNT(*) FROM jav j WHERE NOT EXISTS (SELECT 1 FROM jav_actor l \
                 JOIN actors a ON a.id = l.actor_id WHERE l.jav_id = j.id)"
            ),
            self.count(
                "SELECT COUNT(*) FROM jav j WHERE NOT EXISTS (SELECT 1 FROM jav_tag l \
                 JOIN tags t ON t.id = l.tag_id WHERE l.jav_id = j.id)"
            ),
            self.movies_missing_fields(),
            self.count(
                "SELECT COUNT(*) FROM actors a WHERE NOT EXISTS (SELECT 1 FROM jav_actor l \
                 JOIN jav j ON j.id = l.jav_id WHERE l.actor_id = a.id)"
            ),
            self.count(
                "SELECT COUNT(*) FROM tags t WHERE NOT EXISTS (SELECT 1 FROM jav_tag l \
                 JOIN jav j ON j.id = l.jav_id WHERE l.tag_id = t.id)"
            ),
            self.count("SELECT COUNT(*) FROM jav_actor"),
            self.count("SELECT COUNT(*) FROM jav_tag"),
            self.top_rated(top),
        )?;
        Ok(CatalogueFigures {
            movies_without_actors,
            movies_without_tags,
            movies_without_image,
            movies_without_date,
            actors_without_movies,
            tags_without_movies,
            actor_links,
            tag_links,
            top_rated,
        })
    }

    /// Computes the whole-catalogue figures and keeps them for the
    /// snapshots until the next refresh.
    pub async fn refresh_catalogue_stats(&self) -> Result<(), StoreError> {
        let f = self.catalogue_figures(STORED_TOP_RATED as i64).await?;
        let top_rated = serde_json::to_string(&f.top_rated).map_err(|e| StoreError::Protocol {
            store: "mysql",
            detail: format!("best rated: {e}"),
        })?;
        sqlx::query(
            "REPLACE INTO catalogue_stats (id, refreshed_at, movies_without_actors, \
             movies_without_tags, movies_without_image, movies_without_date, \
             actors_without_movies, tags_without_movies, actor_links, tag_links, top_rated) \
             VALUES (1, CURRENT_TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(f.movies_without_actors)
        .bind(f.movies_without_tags)
        .bind(f.movies_without_image)
        .bind(f.movies_without_date)
        .bind(f.actors_without_movies)
        .bind(f.tags_without_movies)
        .bind(f.actor_links)
        .bind(f.tag_links)
        .bind(top_rated)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The figures the last refresh kept, with when (`YYYY-MM-DD HH:MM:SS`
    /// UTC); none before the first refresh.
    async fn stored_figures(&self) -> Result<Option<(String, CatalogueFigures)>, StoreError> {
        let row = sqlx::query(
            "SELECT DATE_FORMAT(refreshed_at, '%Y-%m-%d %H:%i:%s') AS refreshed, \
             movies_without_actors, movies_without_tags, movies_without_image, \
             movies_without_date, actors_without_movies, tags_without_movies, actor_links, \
             tag_links, top_rated FROM catalogue_stats WHERE id = 1",
        )
        .fetch_optional(self.pool())
        .await;
        let Some(r) = or_absent(row, None)? else {
            return Ok(None);
        };
        let count = |column: &str| r.try_get::<i64, _>(column);
        let top_rated: String = r.try_get("top_rated")?;
        let figures = CatalogueFigures {
            movies_without_actors: count("movies_without_actors")?,
            movies_without_tags: count("movies_without_tags")?,
            movies_without_image: count("movies_without_image")?,
            movies_without_date: count("movies_without_date")?,
            actors_without_movies: count("actors_without_movies")?,
            tags_without_movies: count("tags_without_movies")?,
            actor_links: count("actor_links")?,
            tag_links: count("tag_links")?,
            top_rated: serde_json::from_str(&top_rated).map_err(|e| StoreError::Protocol {
                store: "mysql",
                detail: format!("catalogue_stats.top_rated: {e}"),
            })?,
        };
        Ok(Some((r.try_get("refreshed")?, figures)))
    }

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

    /// The best average ratings (at least one rating), more ratings first
    /// among equal averages.
    async fn top_rated(&self, top: i64) -> Result<Vec<RatedMovie>, StoreError> {
        let rows = sqlx::query_as::<_, RatedRow>(
            "SELECT j.uuid, j.code, j.title, r.avg_rating, r.ratings FROM (\
               SELECT jav_id, CAST(AVG(rating) AS DOUBLE) AS avg_rating, COUNT(*) AS ratings \
               FROM ratings GROUP BY jav_id) r \
             JOIN jav j ON j.id = r.jav_id \
             ORDER BY r.avg_rating DESC, r.ratings DESC, j.id ASC LIMIT ?",
        )
        .bind(top)
        .fetch_all(self.pool())
        .await;
        Ok(or_absent(rows, Vec::new())?
            .into_iter()
            .map(|(uuid, code, title, average, count)| RatedMovie {
                uuid,
                code,
                title,
                ratings_avg_rating: average,
                ratings_count: count,
            })
            .collect())
    }

    /// Movies without an image, and without a release date.
    async fn movies_missing_fields(&self) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(image IS NULL OR image = ''), 0) AS SIGNED), \
             CAST(COALESCE(SUM(`date` IS NULL), 0) AS SIGNED) FROM jav",
        )
        .fetch_one(self.pool())
        .await;
        or_absent(row, (0, 0))
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
