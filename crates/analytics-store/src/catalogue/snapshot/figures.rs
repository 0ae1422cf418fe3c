//! The figures that need a pass over the whole catalogue (movies without
//! actors, tags, image or date; actors and tags without movies; the links;
//! the best rated): computed by `flush-worker refresh-catalogue-index` and
//! kept in `catalogue_stats`, or now, before the first refresh.

use analytics_domain::snapshot::{CatalogueFigures, RatedMovie};
use sqlx::Row;

use super::{or_absent, CatalogueStore};
use crate::error::StoreError;

/// Best rated movies the refresh keeps (the most a report lists).
const STORED_TOP_RATED: usize = 100;

/// A best-rated row: uuid, code, title, average rating, ratings.
type RatedRow = (String, Option<String>, Option<String>, f64, i64);

impl CatalogueStore {
    /// The whole-catalogue figures, computed now (`top` best rated).
    pub(super) async fn catalogue_figures(&self, top: i64) -> Result<CatalogueFigures, StoreError> {
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
    pub(super) async fn stored_figures(
        &self,
    ) -> Result<Option<(String, CatalogueFigures)>, StoreError> {
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
}
