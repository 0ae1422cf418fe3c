//! Profiles: which actors match a profile and the genres they play in
//! (predict), and one actor in depth (insights).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use sqlx::mysql::MySqlRow;
use sqlx::{FromRow, MySql, QueryBuilder, Row};

use super::{like_pattern, push_blood_type, Counted, Grain, AGE};
use crate::catalogue::CatalogueStore;
use crate::error::StoreError;

/// How many statements count a profile's genres side by side (see
/// `matched_genres`).
const PROFILE_PARTS: u64 = 2;

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActorProfile {
    pub id: u64,
    pub uuid: String,
    pub name: String,
    pub age: Option<i64>,
    pub blood_type: Option<String>,
    pub birthplace: Option<String>,
}

/// An [`ActorProfile`]'s columns of actor `a`, named as its fields.
const PROFILE_COLUMNS: &str = "a.id AS id, a.uuid AS uuid, a.name AS name, \
    CASE WHEN a.birth_date IS NULL THEN NULL ELSE CAST(TIMESTAMPDIFF(YEAR, a.birth_date, CURDATE()) AS SIGNED) END AS age, \
    a.blood_type AS blood_type, a.birthplace AS birthplace";

impl<'r> sqlx::FromRow<'r, MySqlRow> for ActorProfile {
    fn from_row(row: &'r MySqlRow) -> Result<Self, sqlx::Error> {
        Ok(ActorProfile {
            id: row.try_get("id")?,
            uuid: row.try_get("uuid")?,
            name: row.try_get("name")?,
            age: row.try_get("age")?,
            blood_type: row.try_get("blood_type")?,
            birthplace: row.try_get("birthplace")?,
        })
    }
}

impl CatalogueStore {
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
                let counted: (i64, i64) = count.build_query_as().fetch_one(self.pool()).await?;
                Ok::<_, StoreError>(counted)
            },
            async {
                if samples > 0 {
                    Ok(best.build_query_as().fetch_all(self.pool()).await?)
                } else {
                    Ok(Vec::new())
                }
            },
        )?;
        let genres = self
            .matched_genres(profile, &genre_ids, 2 * matched > actors, limit)
            .await?;
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
            async move {
                let counted: Vec<Counted> = q.build_query_as().fetch_all(self.pool()).await?;
                Ok::<_, StoreError>(counted)
            }
        });
        let totals = async {
            if most_match {
                Ok(sqlx::query_as::<_, Counted>(
                    "SELECT LOWER(t.name), CAST(k.actors AS SIGNED) FROM genre_actor_counts k \
                     JOIN tags t ON t.id = k.tag_id",
                )
                .fetch_all(self.pool())
                .await?)
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
             AS movies FROM actors a WHERE a.uuid = ?"
        ))
        .bind(uuid)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((ActorProfile::from_row(&r)?, r.try_get("movies")?)))
            .transpose()
    }

    /// An actor's genres with their movies, most first (ties by name).
    pub async fn actor_genres(&self, actor: u64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, Counted>(
            "SELECT LOWER(t.name) AS genre, CAST(g.movies AS SIGNED) FROM actor_genres g \
             JOIN tags t ON t.id = g.tag_id WHERE g.actor_id = ? ORDER BY g.movies DESC, genre ASC",
        )
        .bind(actor)
        .fetch_all(self.pool())
        .await?)
    }

    /// Per week, month and year of an actor's movies (their release date,
    /// else when added): distinct movies, and distinct genres of those
    /// movies. One read of the actor's movies with their tags (a row per
    /// movie and tag, or one with no tag), folded into the three grains.
    pub async fn actor_periods(&self, actor: u64) -> Result<[PeriodCounts; 3], StoreError> {
        // Tags are checked against `tags` as a set (semi-join) rather than
        // joined row by row: an actor may have thousands of movies.
        // (movie, its day, one of its tags).
        let rows: Vec<(u64, Option<String>, Option<u64>)> = sqlx::query_as(
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
        for (movie, day, tag) in rows {
            let Some(day) = day.and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()) else {
                continue;
            };
            let (movies, tags) = days.entry(day).or_default();
            movies.insert(movie);
            tags.extend(tag);
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
