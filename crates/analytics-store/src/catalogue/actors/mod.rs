//! The actor segment analytics' reads: actors counted by age bucket, blood
//! type or birthplace, alone or with a genre, and the genres of a segment —
//! each one SQL aggregation over `actors` and the actor–genre index that
//! `refresh_actor_index` rebuilds from the movie links (`flush-worker
//! refresh-catalogue-index`). Profiles (predict, one actor's insights),
//! growth over time and search-box suggestions have modules of their own.

use analytics_domain::actor_segments::{Dimension, AGE_BUCKETS, UNKNOWN};
use sqlx::mysql::MySqlRow;
use sqlx::{MySql, QueryBuilder, Row};

use super::CatalogueStore;
use crate::error::StoreError;

mod profiles;
mod suggest;
mod trends;

pub use profiles::{ActorProfile, PeriodCounts, ProfileQuery};
pub use trends::Grain;

const AGE: &str = "TIMESTAMPDIFF(YEAR, a.birth_date, CURDATE())";

/// The segment of actor `a` in a dimension, as SQL (NULL: in none).
fn segment_sql(dimension: Dimension) -> String {
    match dimension {
        Dimension::AgeBucket => {
            let mut case = String::from("CASE");
            for (label, min, max) in AGE_BUCKETS {
                match max {
                    Some(max) => {
                        case += &format!(" WHEN {AGE} BETWEEN {min} AND {max} THEN '{label}'")
                    }
                    None => case += &format!(" WHEN {AGE} >= {min} THEN '{label}'"),
                }
            }
            case + " END"
        }
        Dimension::BloodType => format!("COALESCE(NULLIF(TRIM(a.blood_type), ''), '{UNKNOWN}')"),
        Dimension::Birthplace => format!("COALESCE(NULLIF(TRIM(a.birthplace), ''), '{UNKNOWN}')"),
    }
}

/// `a.blood_type` is the value as given, lower-cased or upper-cased.
fn push_blood_type(q: &mut QueryBuilder<'_, MySql>, value: &str) {
    q.push("a.blood_type IN (")
        .push_bind(value.to_string())
        .push(", ")
        .push_bind(value.to_lowercase())
        .push(", ")
        .push_bind(value.to_uppercase())
        .push(")");
}

/// Which actors a segment holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `[min, max)` years old.
    Ages(u32, u32),
    /// The blood type as given, lower-cased or upper-cased.
    BloodType(String),
    Birthplace(String),
}

impl Segment {
    fn push_filter(&self, q: &mut QueryBuilder<'_, MySql>) {
        match self {
            Segment::Ages(min, max) => {
                q.push(format!("a.birth_date IS NOT NULL AND {AGE} >= "))
                    .push_bind(*min)
                    .push(format!(" AND {AGE} < "))
                    .push_bind(*max);
            }
            Segment::BloodType(v) => push_blood_type(q, v),
            Segment::Birthplace(v) => {
                q.push("a.birthplace = ").push_bind(v.clone());
            }
        }
    }
}

/// A genre of a segment: how many of its actors play in it, and how many
/// actors do in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentGenre {
    pub genre: String,
    pub count: i64,
    pub genre_actors: i64,
}

/// How many actors have each profile field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileCoverage {
    pub actors: i64,
    pub with_genres: i64,
    pub with_birth_date: i64,
    pub with_blood_type: i64,
    pub with_birthplace: i64,
}

/// A row of a name and its count (the statements' first two columns).
type Counted = (String, i64);

impl<'r> sqlx::FromRow<'r, MySqlRow> for SegmentGenre {
    fn from_row(row: &'r MySqlRow) -> Result<Self, sqlx::Error> {
        Ok(SegmentGenre {
            genre: row.try_get("genre")?,
            count: row.try_get("count")?,
            genre_actors: row.try_get("genre_actors")?,
        })
    }
}

impl CatalogueStore {
    /// Rebuilds the actor–genre index from the movie links (actors and tags
    /// that exist only), in one transaction: readers see the old index until
    /// the new one is whole. Returns (actors with a genre, actor–genre pairs).
    pub async fn refresh_actor_index(&self) -> Result<(i64, i64), StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM actor_genres")
            .execute(&mut *tx)
            .await?;
        let pairs = sqlx::query(
            "INSERT INTO actor_genres (actor_id, tag_id, movies) \
             SELECT l.actor_id, t.tag_id, COUNT(*) FROM jav_actor l \
             JOIN actors a ON a.id = l.actor_id \
             JOIN jav_tag t ON t.jav_id = l.jav_id \
             JOIN tags g ON g.id = t.tag_id \
             GROUP BY l.actor_id, t.tag_id",
        )
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM genre_actor_counts")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO genre_actor_counts (tag_id, actors) \
             SELECT tag_id, COUNT(*) FROM actor_genres GROUP BY tag_id",
        )
        .execute(&mut *tx)
        .await?;
        let actors: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT actor_id) FROM actor_genres")
            .fetch_one(&mut *tx)
            .await?;
        let pairs = i64::try_from(pairs).unwrap_or(i64::MAX);
        sqlx::query(
            "REPLACE INTO actor_index_runs (id, refreshed_at, actors, pairs) \
             VALUES (1, CURRENT_TIMESTAMP, ?, ?)",
        )
        .bind(actors)
        .bind(pairs)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((actors, pairs))
    }

    /// When the index was last rebuilt (`YYYY-MM-DD HH:MM:SS` UTC) and how
    /// many actors have a genre; none before the first rebuild.
    pub async fn actor_index_run(&self) -> Result<Option<(String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT DATE_FORMAT(refreshed_at, '%Y-%m-%d %H:%i:%s'), CAST(actors AS SIGNED) \
             FROM actor_index_runs WHERE id = 1",
        )
        .fetch_optional(self.pool())
        .await?)
    }

    /// The tag a genre name stands for (names compare case-insensitively).
    pub async fn genre_id(&self, genre: &str) -> Result<Option<u64>, StoreError> {
        let ids = self.genre_ids(&[genre.to_string()]).await?;
        Ok(ids.first().copied())
    }

    pub async fn actors_total(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM actors")
            .fetch_one(self.pool())
            .await?)
    }

    /// Actors playing in a genre.
    pub async fn genre_actors(&self, tag_id: u64) -> Result<i64, StoreError> {
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(actors AS SIGNED) FROM genre_actor_counts WHERE tag_id = ?",
        )
        .bind(tag_id)
        .fetch_optional(self.pool())
        .await?;
        Ok(n.unwrap_or(0))
    }

    /// Actors per segment of a dimension (those in no segment left out).
    pub async fn segment_counts(
        &self,
        dimension: Dimension,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let segment = segment_sql(dimension);
        Ok(sqlx::query_as::<_, Counted>(&format!(
            "SELECT {segment} AS s, COUNT(*) FROM actors a WHERE {segment} IS NOT NULL GROUP BY s"
        ))
        .fetch_all(self.pool())
        .await?)
    }

    /// Per segment of a dimension (those in no segment left out): its
    /// actors, and how many of them play in a genre. One pass over the
    /// actors, each checked against the genre's actors as a set: cheaper
    /// than looking up each of a big genre's actors, and the baseline comes
    /// with it.
    pub async fn segment_counts_in_genre(
        &self,
        dimension: Dimension,
        tag_id: u64,
    ) -> Result<Vec<(String, i64, i64)>, StoreError> {
        let segment = segment_sql(dimension);
        Ok(sqlx::query_as(&format!(
            "SELECT {segment} AS s, COUNT(*), CAST(SUM(a.id IN \
             (SELECT actor_id FROM actor_genres WHERE tag_id = ?)) AS SIGNED) \
             FROM actors a WHERE {segment} IS NOT NULL GROUP BY s"
        ))
        .bind(tag_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Actors in a segment.
    pub async fn segment_size(&self, segment: &Segment) -> Result<i64, StoreError> {
        let mut q = QueryBuilder::<MySql>::new("SELECT COUNT(*) FROM actors a WHERE ");
        segment.push_filter(&mut q);
        Ok(q.build_query_scalar().fetch_one(self.pool()).await?)
    }

    /// The genres played in by at least `min_support` actors of a segment,
    /// most actors first (ties by name), at most `limit`.
    pub async fn segment_genres(
        &self,
        segment: &Segment,
        min_support: i64,
        limit: i64,
    ) -> Result<Vec<SegmentGenre>, StoreError> {
        // Counted per tag first, named after: grouping by the index's tag
        // id alone keeps the aggregation on actor_genres. Actors first, as
        // in `matched_genres`: the segment's actors are read once.
        let mut q = QueryBuilder::<MySql>::new(
            "SELECT LOWER(t.name) AS genre, c.n AS count, CAST(k.actors AS SIGNED) AS genre_actors FROM (\
             SELECT g.tag_id, COUNT(*) AS n FROM actors a \
             STRAIGHT_JOIN actor_genres g ON g.actor_id = a.id WHERE ",
        );
        segment.push_filter(&mut q);
        q.push(" GROUP BY g.tag_id HAVING n >= ")
            .push_bind(min_support)
            .push(
                ") c JOIN tags t ON t.id = c.tag_id JOIN genre_actor_counts k ON k.tag_id = c.tag_id \
                 ORDER BY c.n DESC, genre ASC LIMIT ",
            )
            .push_bind(limit);
        Ok(q.build_query_as().fetch_all(self.pool()).await?)
    }

    /// The genres with the most actors.
    pub async fn top_genres(&self, limit: i64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, Counted>(
            "SELECT LOWER(t.name), CAST(c.actors AS SIGNED) FROM genre_actor_counts c \
             JOIN tags t ON t.id = c.tag_id ORDER BY c.actors DESC, t.name ASC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }

    /// Actors created per month (`YYYY-MM`), oldest first; months without
    /// any are left out.
    pub async fn actors_per_month(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, Counted>(
            "SELECT DATE_FORMAT(created_at, '%Y-%m') AS m, COUNT(*) FROM actors \
             WHERE created_at IS NOT NULL GROUP BY m ORDER BY m",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// How many actors have a genre, a birth date, a blood type, a birthplace.
    pub async fn profile_coverage(&self) -> Result<ProfileCoverage, StoreError> {
        let (actors, with_birth_date, with_blood_type, with_birthplace) = sqlx::query_as(
            "SELECT COUNT(*), \
             CAST(COALESCE(SUM(birth_date IS NOT NULL), 0) AS SIGNED), \
             CAST(COALESCE(SUM(blood_type IS NOT NULL AND TRIM(blood_type) <> ''), 0) AS SIGNED), \
             CAST(COALESCE(SUM(birthplace IS NOT NULL AND TRIM(birthplace) <> ''), 0) AS SIGNED) \
             FROM actors",
        )
        .fetch_one(self.pool())
        .await?;
        // Counted by the last index refresh (a pass over the whole index).
        let with_genres = self
            .actor_index_run()
            .await?
            .map_or(0, |(_, actors)| actors);
        Ok(ProfileCoverage {
            actors,
            with_genres,
            with_birth_date,
            with_blood_type,
            with_birthplace,
        })
    }
}

/// `%q%` with LIKE's wildcards in `q` taken literally.
fn like_pattern(q: &str) -> String {
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
