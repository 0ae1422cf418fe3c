//! The actor segment analytics' reads: actors counted by age bucket, blood
//! type or birthplace, alone or with a genre, and the genres of a segment —
//! each one SQL aggregation over `actors` and the actor–genre index that
//! `refresh_actor_index` rebuilds from the movie links (`flush-worker
//! refresh-catalogue-index`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use analytics_domain::actor_segments::{Dimension, AGE_BUCKETS, UNKNOWN};
use chrono::{Datelike, NaiveDate};
use sqlx::{MySql, QueryBuilder, Row};

use super::CatalogueStore;
use crate::error::StoreError;

const AGE: &str = "TIMESTAMPDIFF(YEAR, a.birth_date, CURDATE())";

/// How many statements count a profile's genres side by side (see
/// `matched_genres`).
const PROFILE_PARTS: u64 = 2;

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

fn pairs(rows: &[sqlx::mysql::MySqlRow]) -> Result<Vec<(String, i64)>, StoreError> {
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
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
        let row = sqlx::query(
            "SELECT DATE_FORMAT(refreshed_at, '%Y-%m-%d %H:%i:%s'), CAST(actors AS SIGNED) \
             FROM actor_index_runs WHERE id = 1",
        )
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose()
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
        let rows = sqlx::query(&format!(
            "SELECT {segment} AS s, COUNT(*) FROM actors a WHERE {segment} IS NOT NULL GROUP BY s"
        ))
        .fetch_all(self.pool())
        .await?;
        pairs(&rows)
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
        let rows = sqlx::query(&format!(
            "SELECT {segment} AS s, COUNT(*), CAST(SUM(a.id IN \
             (SELECT actor_id FROM actor_genres WHERE tag_id = ?)) AS SIGNED) \
             FROM actors a WHERE {segment} IS NOT NULL GROUP BY s"
        ))
        .bind(tag_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect()
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
            "SELECT LOWER(t.name) AS genre, c.n, CAST(k.actors AS SIGNED) FROM (\
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
        q.build()
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                Ok(SegmentGenre {
                    genre: r.try_get(0)?,
                    count: r.try_get(1)?,
                    genre_actors: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// The genres with the most actors.
    pub async fn top_genres(&self, limit: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT LOWER(t.name), CAST(c.actors AS SIGNED) FROM genre_actor_counts c \
             JOIN tags t ON t.id = c.tag_id ORDER BY c.actors DESC, t.name ASC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        pairs(&rows)
    }

    /// Actors created per month (`YYYY-MM`), oldest first; months without
    /// any are left out.
    pub async fn actors_per_month(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT DATE_FORMAT(created_at, '%Y-%m') AS m, COUNT(*) FROM actors \
             WHERE created_at IS NOT NULL GROUP BY m ORDER BY m",
        )
        .fetch_all(self.pool())
        .await?;
        pairs(&rows)
    }

    /// How many actors have a genre, a birth date, a blood type, a birthplace.
    pub async fn profile_coverage(&self) -> Result<ProfileCoverage, StoreError> {
        let row = sqlx::query(
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
            actors: row.try_get(0)?,
            with_genres,
            with_birth_date: row.try_get(1)?,
            with_blood_type: row.try_get(2)?,
            with_birthplace: row.try_get(3)?,
        })
    }

    /// Actors whose name or uuid contains `q`, by name: (name, uuid).
    pub async fn suggest_actors(
        &self,
        q: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let like = like_pattern(q);
        let rows = sqlx::query(
            "SELECT name, uuid FROM actors WHERE name LIKE ? OR uuid LIKE ? ORDER BY name, id LIMIT ?",
        )
        .bind(&like)
        .bind(&like)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Genre (tag) names containing `q`, by name.
    pub async fn suggest_genres(&self, q: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT name FROM tags WHERE name LIKE ? ORDER BY name LIMIT ?")
                .bind(like_pattern(q))
                .bind(limit)
                .fetch_all(self.pool())
                .await?,
        )
    }

    /// Distinct birthplaces containing `q`, by name.
    pub async fn suggest_birthplaces(
        &self,
        q: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT birthplace FROM actors WHERE birthplace IS NOT NULL \
             AND TRIM(birthplace) <> '' AND birthplace LIKE ? ORDER BY birthplace LIMIT ?",
        )
        .bind(like_pattern(q))
        .bind(limit)
        .fetch_all(self.pool())
        .await?)
    }
}

/// What a profile asks of an actor; an actor matches when any given part
/// does (none given: every actor), and scores one per part it matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileQuery {
    /// Within two years of this age.
    pub age: Option<u32>,
    pub blood_type: Option<String>,
    /// Contained in the birthplace.
    pub birthplace: Option<String>,
    /// Plays in any of these genres.
    pub genres: Vec<String>,
}

impl ProfileQuery {
    fn is_empty(&self) -> bool {
        self.age.is_none()
            && self.blood_type.is_none()
            && self.birthplace.is_none()
            && self.genres.is_empty()
    }

    /// Each part as a 0/1 SQL term (summed: the score; any: a match).
    /// `genre_ids` are the tags the profile's genres name (found by
    /// [`CatalogueStore::genre_ids`]): looked up once, so the genre part is
    /// one set the actors are checked against instead of a join per actor.
    fn push_terms(&self, genre_ids: &[u64], q: &mut QueryBuilder<'_, MySql>) {
        if self.is_empty() {
            q.push("1");
            return;
        }
        let mut first = true;
        let mut plus = |q: &mut QueryBuilder<'_, MySql>| {
            if !first {
                q.push(" + ");
            }
            first = false;
        };
        if let Some(age) = self.age {
            plus(q);
            q.push(format!("(a.birth_date IS NOT NULL AND {AGE} BETWEEN "))
                .push_bind(age.saturating_sub(2))
                .push(" AND ")
                .push_bind(age + 2)
                .push(")");
        }
        if let Some(blood) = &self.blood_type {
            plus(q);
            q.push("COALESCE(");
            push_blood_type(q, blood);
            q.push(", 0)");
        }
        if let Some(place) = &self.birthplace {
            plus(q);
            q.push("(COALESCE(a.birthplace LIKE ")
                .push_bind(like_pattern(place))
                .push(", 0))");
        }
        if !self.genres.is_empty() {
            plus(q);
            if genre_ids.is_empty() {
                // Genres no tag has: nobody plays in them.
                q.push("0");
            } else {
                q.push("(a.id IN (SELECT pg.actor_id FROM actor_genres pg WHERE pg.tag_id IN (");
                let mut list = q.separated(", ");
                for id in genre_ids {
                    list.push_bind(*id);
                }
                q.push(")))");
            }
        }
    }
}

/// An actor as the analytics show one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActorProfile {
    pub id: u64,
    pub uuid: String,
    pub name: String,
    pub age: Option<i64>,
    pub blood_type: Option<String>,
    pub birthplace: Option<String>,
}

const PROFILE_COLUMNS: &str = "a.id, a.uuid, a.name, \
    CASE WHEN a.birth_date IS NULL THEN NULL ELSE CAST(TIMESTAMPDIFF(YEAR, a.birth_date, CURDATE()) AS SIGNED) END, \
    a.blood_type, a.birthplace";

fn profile_of(r: &sqlx::mysql::MySqlRow) -> Result<ActorProfile, StoreError> {
    Ok(ActorProfile {
        id: r.try_get(0)?,
        uuid: r.try_get(1)?,
        name: r.try_get(2)?,
        age: r.try_get(3)?,
        blood_type: r.try_get(4)?,
        birthplace: r.try_get(5)?,
    })
}

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
        let (totals, split) = tokio::try_join!(
            totals.build().fetch_all(self.pool()),
            split.build().fetch_all(self.pool()),
        )?;
        let split = split
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
            .collect::<Result<_, StoreError>>()?;
        Ok((pairs(&totals)?, split))
    }

    /// The actors matching a profile: how many, the genres they play in
    /// most (at most `limit`), and the best-matching few.
    pub async fn profile_matches(
        &self,
        profile: &ProfileQuery,
        limit: i64,
        samples: i64,
    ) -> Result<(i64, Vec<(String, i64)>, Vec<ActorProfile>), StoreError> {
        let genre_ids = self.genre_ids(&profile.genres).await?;
        let mut count = QueryBuilder::<MySql>::new("SELECT COUNT(*), CAST(COALESCE(SUM((");
        profile.push_terms(&genre_ids, &mut count);
        count.push(") > 0), 0) AS SIGNED) FROM actors a");
        // The best few by id and score first, their profiles after: sorting
        // narrow rows is half the work of sorting whole profiles.
        let mut best =
            QueryBuilder::<MySql>::new(format!("SELECT {PROFILE_COLUMNS} FROM (SELECT a.id, ("));
        profile.push_terms(&genre_ids, &mut best);
        best.push(") AS score FROM actors a HAVING score > 0 ORDER BY score DESC, a.id ASC LIMIT ")
            .push_bind(samples)
            .push(") s JOIN actors a ON a.id = s.id ORDER BY s.score DESC, a.id ASC");
        let ((actors, matched), best) = tokio::try_join!(
            async {
                let row = count.build().fetch_one(self.pool()).await?;
                Ok::<(i64, i64), StoreError>((row.try_get(0)?, row.try_get(1)?))
            },
            async {
                if samples > 0 {
                    Ok(best.build().fetch_all(self.pool()).await?)
                } else {
                    Ok(Vec::new())
                }
            },
        )?;
        let genres = self
            .matched_genres(profile, &genre_ids, 2 * matched > actors, limit)
            .await?;
        let best = best.iter().map(profile_of).collect::<Result<_, _>>()?;
        Ok((matched, genres, best))
    }

    /// The genres the actors matching a profile play in most. Each matched
    /// actor's genre rows are counted, or — when most actors match
    /// (`most_match`) — the unmatched ones' are taken off each genre's
    /// actors, which reads fewer rows for the same numbers. (One
    /// difference: an actor deleted since the last index refresh still
    /// counts as matched that way, as it still counts in the genre's
    /// actors, until the next refresh.)
    ///
    /// The counting is split over [`PROFILE_PARTS`] disjoint sets of actors
    /// (by id), read side by side and summed here: one MySQL statement runs
    /// on one core, and this is the slowest read of the actor analytics.
    async fn matched_genres(
        &self,
        profile: &ProfileQuery,
        genre_ids: &[u64],
        most_match: bool,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let matching = if most_match { "= 0" } else { "> 0" };
        let parts = (0..PROFILE_PARTS).map(|part| {
            // Actors first (STRAIGHT_JOIN): each actor's terms are evaluated
            // once before its genre rows are read. Left to itself the
            // optimizer may instead count per tag, re-reading the actors for
            // each of thousands of tags (a "lateral" plan, ten times slower).
            let mut q = QueryBuilder::<MySql>::new(
                "SELECT LOWER(t.name), c.n FROM (SELECT g.tag_id, COUNT(*) AS n FROM actors a \
                 STRAIGHT_JOIN actor_genres g ON g.actor_id = a.id WHERE (",
            );
            profile.push_terms(genre_ids, &mut q);
            q.push(format!(") {matching} AND a.id % {PROFILE_PARTS} = "))
                .push_bind(part)
                .push(" GROUP BY g.tag_id) c JOIN tags t ON t.id = c.tag_id");
            async move { pairs(&q.build().fetch_all(self.pool()).await?) }
        });
        let totals = async {
            if most_match {
                let rows = sqlx::query(
                    "SELECT LOWER(t.name), CAST(k.actors AS SIGNED) FROM genre_actor_counts k \
                     JOIN tags t ON t.id = k.tag_id",
                )
                .fetch_all(self.pool())
                .await?;
                pairs(&rows)
            } else {
                Ok(Vec::new())
            }
        };
        let (parts, totals) = tokio::try_join!(futures_util::future::try_join_all(parts), totals)?;
        let mut per_genre: HashMap<String, i64> = totals.into_iter().collect();
        for (genre, n) in parts.into_iter().flatten() {
            *per_genre.entry(genre).or_default() += if most_match { -n } else { n };
        }
        let mut genres: Vec<(String, i64)> =
            per_genre.into_iter().filter(|(_, n)| *n > 0).collect();
        genres.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        genres.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(genres)
    }

    /// The tags genre names stand for (names compare case-insensitively;
    /// names no tag has are left out).
    pub async fn genre_ids(&self, genres: &[String]) -> Result<Vec<u64>, StoreError> {
        if genres.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<MySql>::new("SELECT id FROM tags WHERE name IN (");
        let mut list = q.separated(", ");
        for g in genres {
            list.push_bind(g.clone());
        }
        q.push(")");
        Ok(q.build_query_scalar().fetch_all(self.pool()).await?)
    }

    /// An actor by uuid, with the number of movies they are linked to.
    pub async fn actor_by_uuid(
        &self,
        uuid: &str,
    ) -> Result<Option<(ActorProfile, i64)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {PROFILE_COLUMNS}, (SELECT COUNT(*) FROM jav_actor l WHERE l.actor_id = a.id) \
             FROM actors a WHERE a.uuid = ?"
        ))
        .bind(uuid)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((profile_of(&r)?, r.try_get(6)?)))
            .transpose()
    }

    /// An actor's genres with their movies, most first (ties by name).
    pub async fn actor_genres(&self, actor: u64) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT LOWER(t.name) AS genre, CAST(g.movies AS SIGNED) FROM actor_genres g \
             JOIN tags t ON t.id = g.tag_id WHERE g.actor_id = ? ORDER BY g.movies DESC, genre ASC",
        )
        .bind(actor)
        .fetch_all(self.pool())
        .await?;
        pairs(&rows)
    }

    /// Per week, month and year of an actor's movies (their release date,
    /// else when added): distinct movies, and distinct genres of those
    /// movies. One read of the actor's movies with their tags (a row per
    /// movie and tag, or one with no tag), folded into the three grains.
    pub async fn actor_periods(&self, actor: u64) -> Result<[PeriodCounts; 3], StoreError> {
        // Tags are checked against `tags` as a set (semi-join) rather than
        // joined row by row: an actor may have thousands of movies.
        let rows = sqlx::query(
            "SELECT l.jav_id, DATE_FORMAT(COALESCE(j.`date`, DATE(j.created_at)), '%Y-%m-%d'), \
             t.tag_id FROM jav_actor l JOIN jav j ON j.id = l.jav_id \
             LEFT JOIN jav_tag t ON t.jav_id = l.jav_id AND t.tag_id IN (SELECT id FROM tags) \
             WHERE l.actor_id = ?",
        )
        .bind(actor)
        .fetch_all(self.pool())
        .await?;
        // Per day first (a movie has one day), then per period of each grain.
        let mut days: BTreeMap<NaiveDate, (BTreeSet<u64>, BTreeSet<u64>)> = BTreeMap::new();
        for r in &rows {
            let day: Option<String> = r.try_get(1)?;
            let Some(day) = day.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()) else {
                continue;
            };
            let (movies, tags) = days.entry(day).or_default();
            movies.insert(r.try_get(0)?);
            if let Some(tag) = r.try_get::<Option<u64>, _>(2)? {
                tags.insert(tag);
            }
        }
        let mut out: [PeriodCounts; 3] = Default::default();
        for (grain, counts) in Grain::ALL.into_iter().zip(out.iter_mut()) {
            let mut movies: BTreeMap<String, usize> = BTreeMap::new();
            let mut genres: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
            for (day, (day_movies, day_tags)) in &days {
                let period = grain.label(*day);
                if !day_tags.is_empty() {
                    genres.entry(period.clone()).or_default().extend(day_tags);
                }
                *movies.entry(period).or_default() += day_movies.len();
            }
            let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            counts.movies = movies.into_iter().map(|(p, n)| (p, count(n))).collect();
            counts.genres = genres
                .into_iter()
                .map(|(p, tags)| (p, count(tags.len())))
                .collect();
        }
        Ok(out)
    }
}

/// An actor's movies and their genres per period, oldest first (periods
/// without any left out).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodCounts {
    pub movies: Vec<(String, i64)>,
    pub genres: Vec<(String, i64)>,
}

/// `%q%` with LIKE's wildcards in `q` taken literally.
fn like_pattern(q: &str) -> String {
    let escaped = q
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
