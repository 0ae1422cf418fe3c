//! A synthetic catalogue with the shape of the real one: movies from a few
//! providers (some with no source, image or date), actors with ages, blood
//! types and birthplaces (some unknown), tags with a long tail, their links,
//! and favorites, watchlists, ratings and history spread over the last days,
//! plus sync-queue rows. The same rows are kept in memory, so a test can
//! compute what a report must say from them, independently of the SQL.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::mysql::MySqlConnection;
use sqlx::{Executor, MySql, QueryBuilder};

/// How much of everything (the benchmark's full size is [`Shape::FULL`]).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub movies: usize,
    pub actors: usize,
    pub tags: usize,
    pub users: u64,
    /// Engagement rows (each of favorites, watchlists, ratings, history).
    pub engagement: usize,
    /// Days back that engagement, recent movies and actors are spread over.
    pub days: i64,
    pub queue_rows: usize,
}

impl Shape {
    pub const FULL: Shape = Shape {
        movies: 200_000,
        actors: 20_000,
        tags: 2_000,
        users: 100_000,
        engagement: 100_000,
        days: 90,
        queue_rows: 2_000,
    };

    pub const SMALL: Shape = Shape {
        movies: 400,
        actors: 120,
        tags: 40,
        users: 50,
        engagement: 300,
        days: 90,
        queue_rows: 20,
    };
}

pub const PROVIDERS: [&str; 4] = ["onejav", "141jav", "ffjav", "missav"];
pub const BLOOD_TYPES: [&str; 4] = ["A", "B", "O", "AB"];
pub const BIRTHPLACES: [&str; 8] = [
    "Tokyo", "Osaka", "Kanagawa", "Saitama", "Chiba", "Hokkaido", "Fukuoka", "Aichi",
];

#[derive(Debug, Clone)]
pub struct Movie {
    pub id: u64,
    pub uuid: String,
    pub code: Option<String>,
    pub title: String,
    pub image: Option<String>,
    pub date: Option<NaiveDate>,
    pub source: Option<String>,
    pub views: Option<i64>,
    pub downloads: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Actor {
    pub id: u64,
    pub uuid: String,
    pub name: String,
    pub birth_date: Option<NaiveDate>,
    pub blood_type: Option<String>,
    pub birthplace: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Tag {
    pub id: u64,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A favorite, watchlist entry, rating (with `rating`) or history row.
#[derive(Debug, Clone)]
pub struct Engagement {
    pub user_id: u64,
    pub jav_id: u64,
    pub rating: u8,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct QueueRow {
    pub queue: String,
    /// Failed jobs only: when it failed.
    pub failed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct CatalogueData {
    pub movies: Vec<Movie>,
    pub actors: Vec<Actor>,
    pub tags: Vec<Tag>,
    /// (jav_id, actor_id) and (jav_id, tag_id).
    pub actor_links: Vec<(u64, u64)>,
    pub tag_links: Vec<(u64, u64)>,
    pub favorites: Vec<Engagement>,
    pub watchlists: Vec<Engagement>,
    pub ratings: Vec<Engagement>,
    pub history: Vec<Engagement>,
    pub jobs: Vec<QueueRow>,
    pub failed_jobs: Vec<QueueRow>,
}

/// A time within the last `days` days before `now` (never in the future).
fn recent(rng: &mut StdRng, now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    now - Duration::seconds(rng.random_range(0..days.max(1) * 86_400))
}

/// A creation time: a share of rows is recent, the rest up to 3 years old.
fn created(rng: &mut StdRng, now: DateTime<Utc>, days: i64, recent_share: f64) -> DateTime<Utc> {
    if rng.random_bool(recent_share) {
        recent(rng, now, days)
    } else {
        now - Duration::days(days) - Duration::seconds(rng.random_range(0..3 * 365 * 86_400))
    }
}

/// A long-tailed pick from `0..n` (small indexes much more likely).
fn skewed(rng: &mut StdRng, n: usize) -> usize {
    let u: f64 = rng.random_range(0.0..1.0);
    ((u * u * u) * n as f64) as usize % n.max(1)
}

impl Movie {
    /// Movie `id`: a few without a source, code, image or date; views in
    /// coarse steps, so equal counts (ties) are common.
    fn generate(rng: &mut StdRng, id: u64, shape: &Shape, now: DateTime<Utc>) -> Self {
        let source = match rng.random_range(0..20) {
            0 => None,
            1 => Some(String::new()),
            n => Some(PROVIDERS[n % PROVIDERS.len()].to_string()),
        };
        let views = (!rng.random_bool(0.02))
            .then(|| 10 * (1000.0 / (skewed(rng, 1000) as f64 + 1.0)) as i64);
        Movie {
            id,
            uuid: format!("m-{id:07}"),
            code: (!rng.random_bool(0.03)).then(|| format!("ABC-{id:06}")),
            title: format!("Movie {id}"),
            image: match rng.random_range(0..40) {
                0 => None,
                1 => Some(String::new()),
                _ => Some(format!("https://img.example/{id}.jpg")),
            },
            date: (!rng.random_bool(0.03)).then(|| {
                NaiveDate::from_ymd_opt(2015, 1, 1).unwrap_or_default()
                    + Duration::days(rng.random_range(0..4000))
            }),
            source,
            downloads: views.map(|v| v / 10 + rng.random_range(0..3)),
            views,
            created_at: created(rng, now, shape.days, 0.3),
        }
    }
}

impl Actor {
    /// Actor `id`: some without a birth date, blood type or birthplace.
    fn generate(rng: &mut StdRng, id: u64, shape: &Shape, now: DateTime<Utc>) -> Self {
        Actor {
            id,
            uuid: format!("00000000-0000-4000-8000-{id:012}"),
            name: format!("Actor {id}"),
            birth_date: (!rng.random_bool(0.15)).then(|| {
                NaiveDate::from_ymd_opt(1980, 1, 1).unwrap_or_default()
                    + Duration::days(rng.random_range(0..9000))
            }),
            blood_type: (!rng.random_bool(0.2))
                .then(|| BLOOD_TYPES[rng.random_range(0..BLOOD_TYPES.len())].to_string()),
            birthplace: (!rng.random_bool(0.25))
                .then(|| BIRTHPLACES[skewed(rng, BIRTHPLACES.len())].to_string()),
            created_at: created(rng, now, shape.days, 0.2),
        }
    }
}

impl CatalogueData {
    /// The catalogue of `shape`, the same for the same seed: the random
    /// draws go in a fixed order (movies, actors, tags, links, engagement,
    /// queue rows).
    pub fn generate(shape: Shape, seed: u64, now: DateTime<Utc>) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let rng = &mut rng;
        let mut data = CatalogueData {
            movies: (1..=shape.movies as u64)
                .map(|id| Movie::generate(rng, id, &shape, now))
                .collect(),
            actors: (1..=shape.actors as u64)
                .map(|id| Actor::generate(rng, id, &shape, now))
                .collect(),
            ..CatalogueData::default()
        };
        for i in 0..shape.tags {
            data.tags.push(Tag {
                id: i as u64 + 1,
                name: format!("genre-{i:04}"),
                created_at: created(rng, now, shape.days, 0.1),
            });
        }
        data.link(rng, &shape);
        let movies = data.movies.len();
        let engagement = |rng: &mut StdRng, rated: bool| -> Vec<Engagement> {
            (0..shape.engagement)
                .map(|_| Engagement {
                    user_id: rng.random_range(1..=shape.users.max(1)),
                    jav_id: skewed(rng, movies.max(1)) as u64 + 1,
                    rating: if rated { rng.random_range(1..=5) } else { 0 },
                    created_at: recent(rng, now, shape.days + 10),
                })
                .collect()
        };
        data.favorites = engagement(rng, false);
        data.watchlists = engagement(rng, false);
        data.ratings = engagement(rng, true);
        data.history = engagement(rng, false);
        for i in 0..shape.queue_rows {
            let queue = if i % 4 == 3 { "default" } else { "jav" };
            data.jobs.push(QueueRow {
                queue: queue.into(),
                failed_at: None,
            });
            data.failed_jobs.push(QueueRow {
                queue: queue.into(),
                failed_at: Some(recent(rng, now, 2)),
            });
        }
        data
    }

    /// Movies' actors and tags. Actors and tags may be unused (orphans);
    /// ids past the tables' ends make a few links dangle, as a sloppy
    /// delete would.
    fn link(&mut self, rng: &mut StdRng, shape: &Shape) {
        for jav_id in 1..=self.movies.len() as u64 {
            let mut seen = std::collections::HashSet::new();
            for _ in 0..rng.random_range(0..4usize) {
                let actor = skewed(rng, shape.actors.max(1) * 11 / 10) as u64 + 1;
                if seen.insert(actor) {
                    self.actor_links.push((jav_id, actor));
                }
            }
            let mut seen = std::collections::HashSet::new();
            for _ in 0..rng.random_range(0..6usize) {
                let tag = skewed(rng, shape.tags.max(1) * 11 / 10) as u64 + 1;
                if seen.insert(tag) {
                    self.tag_links.push((jav_id, tag));
                }
            }
        }
    }

    /// Inserts every row (the catalogue tables must exist and be empty).
    pub async fn insert(&self, conn: &mut MySqlConnection) -> anyhow::Result<()> {
        conn.execute("SET unique_checks = 0").await?;
        self.insert_catalogue(conn).await?;
        self.insert_engagement(conn).await?;
        self.insert_queue(conn).await?;
        conn.execute("SET unique_checks = 1").await?;
        Ok(())
    }

    /// Movies, actors, tags and their links.
    async fn insert_catalogue(&self, conn: &mut MySqlConnection) -> anyhow::Result<()> {
        insert(
            conn,
            "INSERT INTO jav (id, uuid, code, title, image, `date`, source, views, downloads, created_at) ",
            &self.movies,
            |b, m| {
                b.push_bind(m.id)
                    .push_bind(m.uuid.clone())
                    .push_bind(m.code.clone())
                    .push_bind(m.title.clone())
                    .push_bind(m.image.clone())
                    .push_bind(m.date.map(|d| d.to_string()))
                    .push_bind(m.source.clone())
                    .push_bind(m.views)
                    .push_bind(m.downloads);
                push_time(b, m.created_at);
            },
        )
        .await?;
        insert(
            conn,
            "INSERT INTO actors (id, uuid, name, birth_date, blood_type, birthplace, created_at) ",
            &self.actors,
            |b, a| {
                b.push_bind(a.id)
                    .push_bind(a.uuid.clone())
                    .push_bind(a.name.clone())
                    .push_bind(a.birth_date.map(|d| d.to_string()))
                    .push_bind(a.blood_type.clone())
                    .push_bind(a.birthplace.clone());
                push_time(b, a.created_at);
            },
        )
        .await?;
        insert(
            conn,
            "INSERT INTO tags (id, name, created_at) ",
            &self.tags,
            |b, t| {
                b.push_bind(t.id).push_bind(t.name.clone());
                push_time(b, t.created_at);
            },
        )
        .await?;
        for (table, links) in [
            ("jav_actor (jav_id, actor_id)", &self.actor_links),
            ("jav_tag (jav_id, tag_id)", &self.tag_links),
        ] {
            insert(
                conn,
                &format!("INSERT INTO {table} "),
                links,
                |b, (m, o)| {
                    b.push_bind(*m).push_bind(*o);
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Favorites, watchlists, history and ratings.
    async fn insert_engagement(&self, conn: &mut MySqlConnection) -> anyhow::Result<()> {
        for (table, rows) in [
            ("favorites", &self.favorites),
            ("watchlists", &self.watchlists),
            ("user_jav_history", &self.history),
        ] {
            let history = table == "user_jav_history";
            let columns = if history {
                "(user_id, jav_id, action, created_at)"
            } else {
                "(user_id, jav_id, created_at)"
            };
            insert(
                conn,
                &format!("INSERT INTO {table} {columns} "),
                rows,
                |b, e| {
                    b.push_bind(e.user_id).push_bind(e.jav_id);
                    if history {
                        b.push_bind("view");
                    }
                    push_time(b, e.created_at);
                },
            )
            .await?;
        }
        insert(
            conn,
            "INSERT INTO ratings (user_id, jav_id, rating, created_at) ",
            &self.ratings,
            |b, e| {
                b.push_bind(e.user_id)
                    .push_bind(e.jav_id)
                    .push_bind(e.rating);
                push_time(b, e.created_at);
            },
        )
        .await
    }

    /// The sync queue's waiting and failed jobs.
    async fn insert_queue(&self, conn: &mut MySqlConnection) -> anyhow::Result<()> {
        insert(
            conn,
            "INSERT INTO jobs (queue, payload) ",
            &self.jobs,
            |b, j| {
                b.push_bind(j.queue.clone()).push_bind("{}");
            },
        )
        .await?;
        let failed: Vec<(usize, &QueueRow)> = self.failed_jobs.iter().enumerate().collect();
        insert(
            conn,
            "INSERT INTO failed_jobs (uuid, connection, queue, payload, exception, failed_at) ",
            &failed,
            |b, (i, f)| {
                b.push_bind(format!("f-{i}"))
                    .push_bind("redis")
                    .push_bind(f.queue.clone())
                    .push_bind("{}")
                    .push_bind("Exception");
                push_time(b, f.failed_at.unwrap_or_default());
            },
        )
        .await
    }
}

const CHUNK: usize = 1000;

type Values<'b> = sqlx::query_builder::Separated<'b, 'static, MySql, &'static str>;

/// `FROM_UNIXTIME(epoch seconds)`: right in any session time zone.
fn push_time(b: &mut Values<'_>, at: DateTime<Utc>) {
    b.push("FROM_UNIXTIME(")
        .push_bind_unseparated(at.timestamp())
        .push_unseparated(")");
}

/// `head` and every row's values, [`CHUNK`] rows a statement.
async fn insert<T>(
    conn: &mut MySqlConnection,
    head: &str,
    rows: &[T],
    mut push: impl FnMut(&mut Values<'_>, &T),
) -> anyhow::Result<()> {
    for chunk in rows.chunks(CHUNK) {
        let mut q = QueryBuilder::<MySql>::new(head);
        q.push_values(chunk, |mut b, row| push(&mut b, row));
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}
