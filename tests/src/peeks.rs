//! Reading a test's slice of the stores directly: what the services
//! wrote, to compare with a model.

use super::*;

impl TestEnv {
    pub async fn mongo(&self) -> anyhow::Result<mongodb::Database> {
        let client = mongodb::Client::with_uri_str(&self.mongo_url).await?;
        Ok(client.database(&self.id))
    }

    /// All documents of a rollup collection, without `_id` and the marks of
    /// the batches applied (and a totals document without the weeks, months
    /// and years it holds: see [`TestEnv::period_docs`]).
    pub async fn docs(&self, collection: &str) -> anyhow::Result<Vec<Document>> {
        let db = self.mongo().await?;
        let cursor = db
            .collection::<Document>(collection)
            .find(doc! {})
            .projection(doc! {"_id": 0, "weeks": 0, "months": 0, "years": 0, "applied": 0})
            .sort(doc! {"entity_id": 1, "date": 1, "week": 1, "month": 1, "year": 1})
            .await?;
        Ok(cursor.try_collect().await?)
    }

    /// Every entity's buckets of a week, month or year period, one document
    /// per bucket as `{domain, entity_type, entity_id, <period>: label,
    /// view, download, …}` (`view` and `download` always, as a daily
    /// document has them), in entity and label order: the figures the
    /// totals documents hold, in the shape of the days.
    pub async fn period_docs(&self, period: Period) -> anyhow::Result<Vec<Document>> {
        let field = analytics_store::rollups::period_counts_field(period)
            .ok_or_else(|| anyhow::anyhow!("{period:?} has documents of its own"))?;
        let mut out = Vec::new();
        for totals in self.totals_docs().await? {
            let Ok(buckets) = totals.get_document(field) else {
                continue;
            };
            for (label, counts) in buckets {
                let mut d = doc! {
                    "domain": totals.get_str("domain")?,
                    "entity_type": totals.get_str("entity_type")?,
                    "entity_id": totals.get_str("entity_id")?,
                    period.field(): label,
                    "view": 0_i64,
                    "download": 0_i64,
                };
                if let Some(counts) = counts.as_document() {
                    d.extend(counts.clone());
                }
                out.push(d);
            }
        }
        out.sort_by(|a, b| {
            let key = |d: &Document| {
                (
                    d.get_str("entity_id").unwrap_or_default().to_string(),
                    d.get_str(period.field()).unwrap_or_default().to_string(),
                )
            };
            key(a).cmp(&key(b))
        });
        Ok(out)
    }

    /// The totals documents whole, weeks, months and years included.
    pub async fn totals_docs(&self) -> anyhow::Result<Vec<Document>> {
        let db = self.mongo().await?;
        let cursor = db
            .collection::<Document>("analytics_entity_totals")
            .find(doc! {})
            .projection(doc! {"_id": 0})
            .sort(doc! {"entity_type": 1, "entity_id": 1})
            .await?;
        Ok(cursor.try_collect().await?)
    }

    pub async fn totals(&self, entity_type: &str, entity_id: &str) -> anyhow::Result<Counts> {
        let db = self.mongo().await?;
        let found = db
            .collection::<Document>("analytics_entity_totals")
            .find_one(doc! {"domain": "jav", "entity_type": entity_type, "entity_id": entity_id})
            .await?;
        Ok(found.map(|d| counts_of(&d)).unwrap_or_default())
    }

    /// Rows of the raw event log in MySQL.
    pub async fn logged_events(&self) -> anyhow::Result<i64> {
        let mut db = self.mysql().await?;
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM analytics_events")
            .fetch_one(&mut db)
            .await?)
    }

    pub async fn mysql(&self) -> anyhow::Result<MySqlConnection> {
        Ok(MySqlConnection::connect(&self.mysql_url).await?)
    }

    /// Inserts catalogue movies (uuid, code) with the given counters.
    pub async fn insert_movies(&self, movies: &[(&str, &str, i64, i64)]) -> anyhow::Result<()> {
        let mut conn = self.mysql().await?;
        for (uuid, code, views, downloads) in movies {
            sqlx::query(
                "INSERT INTO jav (uuid, code, title, views, downloads) VALUES (?, ?, ?, ?, ?)",
            )
            .bind(uuid)
            .bind(code)
            .bind(format!("Title of {code}"))
            .bind(views)
            .bind(downloads)
            .execute(&mut conn)
            .await?;
        }
        Ok(())
    }

    /// `jav.views`, `jav.downloads` of a movie, or `None` without a row.
    pub async fn replica(&self, uuid: &str) -> anyhow::Result<Option<(i64, i64)>> {
        let mut conn = self.mysql().await?;
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT CAST(views AS SIGNED), CAST(downloads AS SIGNED) FROM jav WHERE uuid = ?",
        )
        .bind(uuid)
        .fetch_optional(&mut conn)
        .await?;
        Ok(row)
    }

    /// A connection to this test's Redis (its cluster, when it runs on one).
    pub async fn redis(&self) -> anyhow::Result<analytics_store::hot_counters::Link> {
        let stores = self.ingest_settings()?.stores;
        let counters =
            analytics_store::HotCounters::new(&stores.redis_settings()?, stores.key_space()?)?;
        Ok(counters.link().await?)
    }

    /// Redis's day (days since 1970-01-01), as the dedupe scripts read it.
    pub async fn redis_day(&self) -> anyhow::Result<i64> {
        let (seconds, _): (i64, i64) = redis::cmd("TIME")
            .query_async(&mut self.redis().await?)
            .await?;
        Ok(seconds.div_euclid(86_400))
    }

    /// The dedupe hash that holds `event_id`'s entry if it was accepted on
    /// `day`.
    pub fn seen_hash(&self, event_id: &str, day: i64) -> anyhow::Result<String> {
        let keys = self.ingest_settings()?.stores.key_space()?;
        let (shard, _) = analytics_domain::keys::seen_entry(event_id);
        Ok(keys.seen(keys.partition_of(event_id), day, shard))
    }

    /// Every Redis key of this test.
    pub async fn redis_keys(&self) -> anyhow::Result<Vec<String>> {
        let mut conn = self.redis().await?;
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.id))
            .query_async(&mut conn)
            .await?;
        keys.sort();
        Ok(keys)
    }

    /// Redis keys of this test other than the dedupe day hashes: what a
    /// drained pipeline must not leave behind.
    pub async fn leftover_keys(&self) -> anyhow::Result<Vec<String>> {
        Ok(self
            .redis_keys()
            .await?
            .into_iter()
            // Dedupe entries and the realtime tallies expire by themselves;
            // the rollup generation is one number kept for good.
            .filter(|k| {
                !k.contains(":seen:")
                    && !k.contains(":live:")
                    && !k.ends_with(":rollups:generation")
            })
            .collect())
    }

    /// Counter keys waiting for a flush, over every partition.
    pub async fn dirty_keys(&self) -> anyhow::Result<u64> {
        let counters = self.hot_counters()?;
        let mut total = 0;
        for p in counters.keys().partitions() {
            total += counters.dirty_count(p).await?;
        }
        Ok(total)
    }

    /// The values counted and not yet flushed, over every partition.
    pub async fn counts_waiting(&self) -> anyhow::Result<i64> {
        let counters = self.hot_counters()?;
        Ok(counters
            .backlog()
            .await?
            .iter()
            .map(|b| b.counts_waiting as i64)
            .sum())
    }

    /// Waits until no flush lease of this test is held (a killed run's
    /// leases expire after `flush.lease_ttl_ms`).
    pub async fn leases_expired(&self) -> anyhow::Result<()> {
        eventually(Duration::from_secs(60), || async {
            let held = self
                .redis_keys()
                .await?
                .iter()
                .any(|k| k.ends_with(":flush:lease"));
            Ok((!held).then_some(()))
        })
        .await
    }

    /// The store-level Redis adapter, for writing counters the HTTP contract
    /// would refuse (e.g. an `occurred_at` far from now).
    pub fn hot_counters(&self) -> anyhow::Result<analytics_store::HotCounters> {
        let stores = self.ingest_settings()?.stores;
        Ok(analytics_store::HotCounters::new(
            &stores.redis_settings()?,
            stores.key_space()?,
        )?)
    }

    /// The store-level Mongo adapter (rollups, ledger, leaderboards).
    pub async fn rollup_store(&self) -> anyhow::Result<analytics_store::RollupStore> {
        let stores = self.ingest_settings()?.stores;
        Ok(analytics_store::RollupStore::connect(&stores.mongo_settings()?).await?)
    }
}
