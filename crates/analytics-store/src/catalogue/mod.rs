//! MySQL: the catalogue's migrations, the `jav.views`/`jav.downloads`
//! replicas of the Mongo totals, the reads parity needs and the admin
//! snapshot's aggregations.

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::{MySql, MySqlPool, QueryBuilder, Row, Transaction};

use crate::error::StoreError;

mod actors;
mod migrations;
mod snapshot;

pub use crate::settings::MySqlSettings;
pub use actors::{
    ActorProfile, Grain, PeriodCounts, ProfileCoverage, ProfileQuery, Segment, SegmentGenre,
};
pub use snapshot::XcityCoverage;

/// Applied migrations later edited in their comments only: (version, the
/// SHA-384 of the text as first applied).
const COMMENT_EDITS: [(i64, &str); 1] = [(
    20261121000001,
    "7623d0c53c6c35d1f8fedaf75100df32d6202c83a61a269848ded7d5ff0719b4d786c0a8c6c02938ab87aa7c0629ada6",
)];

/// Binding limit per statement, well under MySQL's 65,535 placeholders.
const CHUNK: usize = 1000;

impl MySqlSettings {
    /// The URL parsed into connection options.
    pub fn options(&self) -> Result<MySqlConnectOptions, StoreError> {
        self.url
            .parse()
            .map_err(|e| StoreError::Config(format!("mysql.url: {e}")))
    }
}

/// A catalogue movie as parity sees it (NULL counters read as 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovieCounters {
    pub uuid: String,
    pub code: Option<String>,
    pub views: i64,
    pub downloads: i64,
}

#[derive(Clone)]
pub struct CatalogueStore {
    pool: MySqlPool,
}

impl CatalogueStore {
    /// Connects lazily: a service starts (and reports not ready) while
    /// MySQL is down; the first query pays for the connection.
    pub async fn connect(settings: &MySqlSettings) -> Result<Self, StoreError> {
        Ok(Self::lazy(settings, settings.options()?))
    }

    /// [`CatalogueStore::connect`] with options checked beforehand, for
    /// where a fallible step has no place (an HTTP worker's factory).
    pub fn lazy(settings: &MySqlSettings, options: MySqlConnectOptions) -> Self {
        let pool = MySqlPoolOptions::new()
            .max_connections(settings.pool_size)
            .acquire_timeout(settings.connect_timeout)
            .connect_lazy_with(options);
        CatalogueStore { pool }
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = migrations::Embedded::migrator().await?;
        self.accept_comment_edits(&migrator).await?;
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// An applied migration whose file changed only in its comments would be
    /// refused as modified; for those listed in [`COMMENT_EDITS`], a stored
    /// checksum of the old text is replaced by the current one first.
    async fn accept_comment_edits(
        &self,
        migrator: &sqlx::migrate::Migrator,
    ) -> Result<(), StoreError> {
        let table: Option<String> = sqlx::query_scalar("SHOW TABLES LIKE '_sqlx_migrations'")
            .fetch_optional(&self.pool)
            .await?;
        if table.is_none() {
            return Ok(());
        }
        for (version, old) in COMMENT_EDITS {
            let Some(current) = migrator.iter().find(|m| m.version == version) else {
                continue;
            };
            sqlx::query(
                "UPDATE _sqlx_migrations SET checksum = ? WHERE version = ? AND HEX(checksum) = ?",
            )
            .bind(current.checksum.as_ref())
            .bind(version)
            .bind(old.to_ascii_uppercase())
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    pub(crate) fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Locks the catalogue rows of these movies (those that exist) until the
    /// returned sync is written. Whoever locks last reads the Mongo totals
    /// last, so concurrent flushers can never leave an older total behind.
    pub async fn lock_movies(&self, ids: &[String]) -> Result<ReplicaSync, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut rows = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let mut q = jav_rows_in(LOCKED_COUNTERS, chunk, " ORDER BY uuid FOR UPDATE");
            rows.extend(q.build_query_as::<Locked>().fetch_all(&mut *tx).await?);
        }
        Ok(ReplicaSync::new(tx, rows))
    }

    /// Locks the next `limit` catalogue movies after `after` in uuid order
    /// (the cut-over's page), as [`Self::lock_movies`] does.
    pub async fn lock_movie_page(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<ReplicaSync, StoreError> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query_as::<_, Locked>(&format!(
            "SELECT {LOCKED_COUNTERS} FROM jav WHERE uuid > ? ORDER BY uuid LIMIT ? FOR UPDATE"
        ))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        Ok(ReplicaSync::new(tx, rows))
    }

    /// Catalogue movies (the cut-over's progress line).
    pub async fn movie_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jav")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The legacy parity sample: the top `limit` movies by views, with a
    /// uuid tie-break so the sample is deterministic.
    pub async fn top_movies(&self, limit: i64) -> Result<Vec<MovieCounters>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "{MOVIE_COUNTERS} ORDER BY views DESC, uuid ASC LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every movie, a page at a time in uuid order.
    pub async fn movies_page(
        &self,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<MovieCounters>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "{MOVIE_COUNTERS} WHERE uuid > ? ORDER BY uuid ASC LIMIT ?"
        ))
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// `uuid → (code, title)` of the movies that exist (admin lists show them).
    pub async fn movie_titles(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, (Option<String>, Option<String>)>, StoreError>
    {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(CHUNK) {
            let mut q = jav_rows_in("uuid, code, title", chunk, "");
            let rows: Vec<(String, Option<String>, Option<String>)> =
                q.build_query_as().fetch_all(&self.pool).await?;
            out.extend(
                rows.into_iter()
                    .map(|(id, code, title)| (id, (code, title))),
            );
        }
        Ok(out)
    }

    /// Which of these uuids have a catalogue row.
    pub async fn existing_movies(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(CHUNK) {
            let mut q = jav_rows_in("uuid", chunk, "");
            out.extend(
                q.build_query_scalar::<String>()
                    .fetch_all(&self.pool)
                    .await?,
            );
        }
        Ok(out)
    }
}

/// `SELECT {columns} FROM jav WHERE uuid IN (…)` + `suffix`, ids bound.
fn jav_rows_in<'a>(columns: &str, ids: &'a [String], suffix: &str) -> QueryBuilder<'a, MySql> {
    let mut q = QueryBuilder::<MySql>::new(format!("SELECT {columns} FROM jav WHERE uuid IN ("));
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    q.push(")").push(suffix);
    q
}

/// The columns a [`MovieCounters`] is read from; NULL counters read as 0.
/// (The counters' aliases are not the columns' names: `ORDER BY views`
/// must still sort by the stored column.)
const MOVIE_COUNTERS: &str =
    "SELECT uuid, code, CAST(COALESCE(views, 0) AS SIGNED) AS view_count, \
    CAST(COALESCE(downloads, 0) AS SIGNED) AS download_count FROM jav";

impl<'r> sqlx::FromRow<'r, MySqlRow> for MovieCounters {
    fn from_row(row: &'r MySqlRow) -> Result<Self, sqlx::Error> {
        Ok(MovieCounters {
            uuid: row.try_get("uuid")?,
            code: row.try_get("code")?,
            views: row.try_get("view_count")?,
            downloads: row.try_get("download_count")?,
        })
    }
}

/// A locked catalogue row: (uuid, views, downloads), NULL counters as 0.
type Locked = (String, i64, i64);

/// The columns of a [`Locked`] row.
const LOCKED_COUNTERS: &str =
    "uuid, CAST(COALESCE(views, 0) AS SIGNED), CAST(COALESCE(downloads, 0) AS SIGNED)";

/// Locked catalogue rows waiting for their absolute replica values.
pub struct ReplicaSync {
    tx: Transaction<'static, MySql>,
    present: Vec<String>,
    /// `uuid → (views, downloads)` as the rows held them when locked.
    current: std::collections::HashMap<String, (i64, i64)>,
}

impl ReplicaSync {
    fn new(tx: Transaction<'static, MySql>, rows: Vec<(String, i64, i64)>) -> Self {
        let present = rows.iter().map(|(id, _, _)| id.clone()).collect();
        let current = rows.into_iter().map(|(id, v, d)| (id, (v, d))).collect();
        ReplicaSync {
            tx,
            present,
            current,
        }
    }

    /// The locked movies that exist in the catalogue (others are ignored),
    /// in uuid order.
    pub fn present(&self) -> &[String] {
        &self.present
    }

    /// A locked movie's `(views, downloads)` as the catalogue holds them.
    pub fn current(&self, uuid: &str) -> Option<(i64, i64)> {
        self.current.get(uuid).copied()
    }

    /// Sets `views`/`downloads` to absolute values (idempotent) and commits.
    /// Rows: `(uuid, views, downloads)`.
    pub async fn write(mut self, rows: &[(String, i64, i64)]) -> Result<u64, StoreError> {
        let mut changed = 0;
        for chunk in rows.chunks(CHUNK) {
            let mut q = QueryBuilder::<MySql>::new("UPDATE jav JOIN (");
            for (i, (uuid, views, downloads)) in chunk.iter().enumerate() {
                q.push(if i == 0 {
                    "SELECT "
                } else {
                    " UNION ALL SELECT "
                });
                q.push_bind(uuid).push(" AS uuid, ");
                q.push_bind(views).push(" AS views, ");
                q.push_bind(downloads).push(" AS downloads");
            }
            q.push(
                ") AS s ON jav.uuid = s.uuid SET jav.views = s.views, jav.downloads = s.downloads",
            );
            changed += q.build().execute(&mut *self.tx).await?.rows_affected();
        }
        self.tx.commit().await?;
        Ok(changed)
    }
}
