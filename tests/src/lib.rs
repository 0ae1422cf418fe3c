//! Test harness: every test gets its own Redis key prefix, Mongo database and
//! MySQL schema on the shared real stores, so tests run in parallel.
//! Store addresses come from `ANALYTICS_REDIS_URL`, `ANALYTICS_MONGO_URL` and
//! `ANALYTICS_MYSQL_URL` (set by scripts/test.sh), with the dev ports as defaults.

pub mod browser;
pub mod catalogue_data;
pub mod private_servers;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use analytics_domain::rollup::Counts;
use analytics_domain::Period;
use analytics_store::rollups::counts_of;
use anyhow::Context;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, MySqlConnection};

pub fn redis_url() -> String {
    std::env::var("ANALYTICS_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6390/".into())
}

/// The Redis Cluster the tests run on instead of one Redis, when
/// `ANALYTICS_TEST_REDIS_CLUSTER` names its nodes (`host:port,…`;
/// `scripts/test.sh` runs the pipeline's tests a second time so).
pub fn redis_cluster_nodes() -> Option<String> {
    std::env::var("ANALYTICS_TEST_REDIS_CLUSTER")
        .ok()
        .filter(|n| !n.trim().is_empty())
}

/// A connection to the tests' Redis: the cluster when one is named.
async fn tests_redis() -> anyhow::Result<analytics_store::hot_counters::Link> {
    let settings = analytics_store::hot_counters::RedisSettings {
        url: redis_url(),
        pool_size: 2,
        connect_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(10),
        shared_connections: 1,
        cluster_nodes: redis_cluster_nodes()
            .map(|n| n.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default(),
    };
    let keys = analytics_domain::KeySpace::new("tests", 1)?;
    let counters = analytics_store::HotCounters::new(&settings, keys)?;
    Ok(counters.link().await?)
}

pub fn mongo_url() -> String {
    std::env::var("ANALYTICS_MONGO_URL").unwrap_or_else(|_| "mongodb://127.0.0.1:27027/".into())
}

pub fn mysql_url() -> String {
    std::env::var("ANALYTICS_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://analytics:analytics@127.0.0.1:3316/analytics".into())
}

/// `mysql://user:pass@host:port/db` with the database replaced.
fn mysql_url_for(db: &str) -> String {
    let base = mysql_url();
    let cut = base.rfind('/').unwrap_or(base.len());
    format!("{}/{db}", &base[..cut])
}

/// Whether `name` is a test's store namespace (`TestEnv::id`).
fn is_test_id(name: &str) -> bool {
    name.len() == 17
        && name.starts_with('t')
        && name[1..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Drops what earlier test runs left in the stores (a test's Mongo
/// database, MySQL schema and Redis keys outlive it, for inspection).
/// Returns (databases, schemas, keys) dropped. Only for a machine where no
/// tests are running.
pub async fn drop_leftover_test_data() -> anyhow::Result<(usize, usize, usize)> {
    let mongo = mongodb::Client::with_uri_str(mongo_url()).await?;
    let mut databases = 0;
    for name in mongo.list_database_names().await? {
        if is_test_id(&name) {
            mongo.database(&name).drop().await?;
            databases += 1;
        }
    }
    let mut mysql = MySqlConnection::connect(&mysql_url()).await?;
    let schemas: Vec<String> = sqlx::query_scalar("SHOW DATABASES")
        .fetch_all(&mut mysql)
        .await?;
    let mut dropped_schemas = 0;
    for name in schemas.iter().filter(|n| is_test_id(n)) {
        mysql
            .execute(format!("DROP DATABASE `{name}`").as_str())
            .await?;
        dropped_schemas += 1;
    }
    let mut keys = 0;
    if redis_cluster_nodes().is_some() {
        // SCAN walks one node: a cluster's keys are listed by KEYS, which
        // the client asks of every master.
        let mut conn = tests_redis().await?;
        let all: Vec<String> = redis::cmd("KEYS")
            .arg("t*:*")
            .query_async(&mut conn)
            .await?;
        let ours: Vec<&String> = all
            .iter()
            .filter(|k| k.split(':').next().is_some_and(is_test_id))
            .collect();
        for page in ours.chunks(1000) {
            let _: () = redis::cmd("UNLINK")
                .arg(page)
                .query_async(&mut conn)
                .await?;
        }
        return Ok((databases, dropped_schemas, ours.len()));
    }
    let client = redis::Client::open(redis_url())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg("t*:*")
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        let ours: Vec<&String> = batch
            .iter()
            .filter(|k| k.split(':').next().is_some_and(is_test_id))
            .collect();
        if !ours.is_empty() {
            let _: () = redis::cmd("UNLINK")
                .arg(&ours)
                .query_async(&mut conn)
                .await?;
            keys += ours.len();
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    Ok((databases, dropped_schemas, keys))
}

/// The admin bearer token every test's read-api accepts.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// The producer token every test's ingest-svc accepts (values above the
/// public limit need it).
pub const INGEST_PRODUCER_TOKEN: &str = "test-ingest-producer-token";

/// The telemetry tokens every test's telemetry-svc accepts.
pub const PRODUCER_TOKEN: &str = "test-producer-token";
pub const OPERATOR_TOKEN: &str = "test-operator-token";

/// One test's isolated slice of the stores.
pub struct TestEnv {
    pub id: String,
    pub redis_url: String,
    pub mongo_url: String,
    pub mysql_url: String,
    /// Extra `ANALYTICS__…` settings for every app and binary of this test.
    pub settings: BTreeMap<String, String>,
    /// Other environment variables for the binaries this test runs.
    pub process_env: BTreeMap<String, String>,
}

impl TestEnv {
    pub async fn new() -> anyhow::Result<Self> {
        let id = format!("t{}", uuid::Uuid::new_v4().simple())
            .chars()
            .take(17)
            .collect::<String>();
        let mut admin = MySqlConnection::connect(&mysql_url())
            .await
            .context("connect to MariaDB (run scripts/test.sh, which starts it)")?;
        admin
            .execute(format!("CREATE DATABASE `{id}`").as_str())
            .await?;
        let mut settings = BTreeMap::new();
        let mysql = mysql_url_for(&id);
        if let Some(nodes) = redis_cluster_nodes() {
            settings.insert("redis.cluster_nodes".to_string(), nodes);
        }
        for (k, v) in [
            ("redis.url", redis_url()),
            ("redis.key_prefix", id.clone()),
            ("mongo.url", mongo_url()),
            ("mongo.database", id.clone()),
            ("mysql.url", mysql.clone()),
            ("ingest.bind", "127.0.0.1:0".into()),
            ("read_api.bind", "127.0.0.1:0".into()),
            ("read_api.admin_token", ADMIN_TOKEN.into()),
            ("telemetry.bind", "127.0.0.1:0".into()),
            ("telemetry.producer_token", PRODUCER_TOKEN.into()),
            ("telemetry.operator_token", OPERATOR_TOKEN.into()),
            ("ingest.rate_limit_per_minute", "0".into()),
            ("ingest.producer_token", INGEST_PRODUCER_TOKEN.into()),
            ("read_api.counts_rate_limit_per_minute", "0".into()),
            // Counts exact at once; the cache has its own test.
            ("read_api.counts_cache_ms", "0".into()),
            ("read_api.report_cache_ms", "0".into()),
            ("read_api.snapshot_cache_ms", "0".into()),
            ("flush.lease_ttl_ms", "300".into()),
        ] {
            settings.insert(k.to_string(), v);
        }
        Ok(TestEnv {
            redis_url: redis_url(),
            mongo_url: mongo_url(),
            mysql_url: mysql,
            id,
            settings,
            process_env: BTreeMap::new(),
        })
    }

    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.settings.insert(key.into(), value.into());
        self
    }

    /// Points this test at one Redis of its own (`url`), also when the
    /// suite runs on a cluster: a test of one server's own behaviour (its
    /// outage, memory, refusals, ACLs) needs that server.
    pub fn use_redis(&mut self, url: impl Into<String>) -> &mut Self {
        let url = url.into();
        self.settings.remove("redis.cluster_nodes");
        self.redis_url = url.clone();
        self.set("redis.url", url)
    }

    /// Sets a non-`ANALYTICS__` environment variable for the binaries.
    pub fn set_process_env(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.process_env.insert(key.into(), value.into());
        self
    }

    /// This test's settings as the `ANALYTICS__SECTION__KEY` env vars a
    /// real binary reads.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        self.settings
            .iter()
            .map(|(k, v)| {
                (
                    format!("ANALYTICS__{}", k.replace('.', "__").to_uppercase()),
                    v.clone(),
                )
            })
            .collect()
    }

    fn overrides(&self) -> Vec<(&str, &str)> {
        self.settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    pub fn ingest_settings(&self) -> anyhow::Result<ingest_svc::Settings> {
        Ok(analytics_runtime::config::load_with(&self.overrides())?)
    }

    /// Starts ingest-svc in this process on a free port.
    pub async fn spawn_ingest(&self) -> anyhow::Result<Ingest> {
        self.spawn_ingest_with(self.ingest_settings()?).await
    }

    pub async fn spawn_ingest_with(
        &self,
        settings: ingest_svc::Settings,
    ) -> anyhow::Result<Ingest> {
        let app = ingest_svc::build(settings)?;
        let handle = app.server.handle();
        tokio::spawn(app.server);
        Ok(Ingest {
            base: format!("http://127.0.0.1:{}", app.port),
            client: reqwest::Client::new(),
            handle,
        })
    }

    /// Starts read-api in this process on a free port.
    pub async fn spawn_read_api(&self) -> anyhow::Result<ReadApi> {
        let settings: read_api::Settings = analytics_runtime::config::load_with(&self.overrides())?;
        let app = read_api::build(settings).await?;
        let handle = app.server.handle();
        tokio::spawn(app.server);
        Ok(ReadApi {
            base: format!("http://127.0.0.1:{}", app.port),
            client: reqwest::Client::new(),
            handle,
        })
    }

    /// Starts telemetry-svc in this process; returns its base URL.
    pub async fn spawn_telemetry(&self) -> anyhow::Result<String> {
        let settings: telemetry_svc::Settings =
            analytics_runtime::config::load_with(&self.overrides())?;
        let app = telemetry_svc::build(settings).await?;
        tokio::spawn(app.server);
        Ok(format!("http://127.0.0.1:{}", app.port))
    }

    /// The operator's `/pipeline` verdict, from a telemetry-svc of this test.
    pub async fn pipeline_verdict(&self) -> anyhow::Result<Value> {
        let telemetry = self.spawn_telemetry().await?;
        let (_, verdict) = get_json(
            &reqwest::Client::new(),
            &format!("{telemetry}/api/v1/telemetry/pipeline"),
            Some(OPERATOR_TOKEN),
        )
        .await?;
        Ok(verdict)
    }

    /// Runs a flush-worker subcommand as a real process.
    pub async fn flush_worker(
        &self,
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<Output> {
        let mut cmd = tokio::process::Command::new(binary("flush-worker")?);
        cmd.args(args)
            .env("RUST_LOG", "warn")
            .envs(&self.process_env);
        for (k, v) in &self.settings {
            cmd.env(
                format!("ANALYTICS__{}", k.replace('.', "__").to_uppercase()),
                v,
            );
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        Ok(cmd.output().await?)
    }

    /// Runs `flush` until a run finds every partition free (a killed run's
    /// lease has to expire first) and reports no errors.
    pub async fn flush_until_clean(&self) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self
                .flush_worker(&["flush"], &[("RUST_LOG", "flush_worker=info")])
                .await?;
            let stdout = String::from_utf8_lossy(&out.stdout).to_string();
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.success() && stderr.contains("\"skipped_partitions\":0") {
                return Ok(stdout);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "flush never ran clean: {stdout} {stderr}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

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

    /// Creates the MySQL tables and Mongo indexes.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let out = self.flush_worker(&["migrate"], &[]).await?;
        anyhow::ensure!(
            out.status.success(),
            "migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }
}

/// What a job printed for its operator on stderr, without its JSON log
/// lines: a warning logged meanwhile (sqlx logs a statement slower than a
/// second) is not part of the message a test compares exactly.
pub fn job_messages(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|line| serde_json::from_str::<serde_json::Map<String, Value>>(line).is_err())
        .fold(String::new(), |mut out, line| {
            out.push_str(line);
            out.push('\n');
            out
        })
}

/// The value of one series (`name` or `name{labels}`) in a Prometheus text
/// page.
pub fn metric(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// A response as (status, its `Retry-After`, its JSON body or null): what
/// the outage and backpressure tests check.
pub async fn answer(resp: reqwest::Response) -> anyhow::Result<(u16, Option<String>, Value)> {
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((status, retry, resp.json().await.unwrap_or(Value::Null)))
}

/// GET `url` with an optional bearer token; returns (status, JSON body or null).
pub async fn get_json(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = client.get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}

/// A service binary running as its own process (killed when dropped).
pub struct ServiceProcess {
    pub base: String,
    pub client: reqwest::Client,
    _child: tokio::process::Child,
}

impl ServiceProcess {
    /// GET `path` with an optional bearer token; returns (status, JSON body).
    pub async fn get_as(&self, path: &str, token: Option<&str>) -> anyhow::Result<(u16, Value)> {
        get_json(&self.client, &format!("{}{path}", self.base), token).await
    }
}

impl TestEnv {
    /// Starts the real `name` binary with this test's settings, listening
    /// on a free port set through `bind_key`, and waits until it is ready.
    pub async fn run_service(&self, name: &str, bind_key: &str) -> anyhow::Result<ServiceProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut cmd = tokio::process::Command::new(binary(name)?);
        cmd.envs(self.env_vars())
            .envs(&self.process_env)
            .env(
                format!("ANALYTICS__{}", bind_key.replace('.', "__").to_uppercase()),
                format!("127.0.0.1:{port}"),
            )
            // Warnings and errors end up in the test's captured output.
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        let child = cmd.spawn()?;
        let service = ServiceProcess {
            base: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            _child: child,
        };
        eventually(Duration::from_secs(20), || async {
            Ok(service
                .client
                .get(format!("{}/ready", service.base))
                .send()
                .await
                .ok()
                .filter(|r| r.status() == 200)
                .map(|_| ()))
        })
        .await
        .with_context(|| format!("{name} never became ready"))?;
        Ok(service)
    }
}

/// A running in-process ingest-svc.
pub struct Ingest {
    pub base: String,
    pub client: reqwest::Client,
    handle: ingest_svc::ServerHandle,
}

impl Ingest {
    pub async fn post_json(&self, body: &Value) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}/api/v1/analytics/events", self.base))
            .json(body)
            .send()
            .await?)
    }

    pub async fn post_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}/api/v1/analytics/events", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?)
    }

    /// Posts a body of any type to any path, as the server-side producer.
    pub async fn post_to(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(INGEST_PRODUCER_TOKEN)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?)
    }

    /// Posts JSON to a path as the server-side producer; the status and
    /// the JSON answer (Null when the answer is not JSON).
    pub async fn post_json_to(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let resp = self
            .post_to(path, "application/json", body.to_string())
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await.unwrap_or(Value::Null)))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await?)
    }

    /// Posts an event as the server-side producer (with the producer
    /// token, so any contract value is allowed).
    pub async fn post_as_producer(&self, body: &Value) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .post(format!("{}/api/v1/analytics/events", self.base))
            .bearer_auth(INGEST_PRODUCER_TOKEN)
            .json(body)
            .send()
            .await?)
    }

    /// Posts an event now as the server-side producer;
    /// asserts it was accepted.
    pub async fn send(
        &self,
        event_id: &str,
        entity_type: &str,
        entity_id: &str,
        action: &str,
        value: i64,
    ) -> anyhow::Result<()> {
        let resp = self
            .post_as_producer(&event(event_id, entity_type, entity_id, action, value))
            .await?;
        let status = resp.status().as_u16();
        anyhow::ensure!(
            status == 202,
            "event {event_id}: {status} {}",
            resp.text().await?
        );
        Ok(())
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// A running in-process read-api.
pub struct ReadApi {
    pub base: String,
    pub client: reqwest::Client,
    handle: read_api::ServerHandle,
}

impl ReadApi {
    /// GET with the admin token; returns (status, JSON body).
    pub async fn admin(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.get_as(path, Some(ADMIN_TOKEN)).await
    }

    pub async fn get_as(&self, path: &str, token: Option<&str>) -> anyhow::Result<(u16, Value)> {
        get_json(&self.client, &format!("{}{path}", self.base), token).await
    }

    /// The Prometheus page of `/metrics`.
    pub async fn metrics_page(&self) -> anyhow::Result<String> {
        Ok(self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?)
    }

    /// GET with the admin token; returns (status, headers, JSON body).
    pub async fn admin_with_headers(
        &self,
        path: &str,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Value)> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await?;
        let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
        Ok((status, headers, resp.json().await.unwrap_or(Value::Null)))
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

/// telemetry-svc in this process, and the requests its tests make.
pub struct Telemetry {
    pub base: String,
    pub client: reqwest::Client,
}

impl Telemetry {
    pub async fn spawn(env: &TestEnv) -> anyhow::Result<Self> {
        Ok(Telemetry {
            base: env.spawn_telemetry().await?,
            client: reqwest::Client::new(),
        })
    }

    /// Posts a job event with the producer token; returns the answer,
    /// which must be a 202.
    pub async fn post(&self, body: Value) -> anyhow::Result<Value> {
        let resp = self
            .client
            .post(format!("{}/api/v1/telemetry/jobs/events", self.base))
            .bearer_auth(PRODUCER_TOKEN)
            .json(&body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let answer: Value = resp.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status == 202, "{body} → {status} {answer}");
        Ok(answer)
    }

    /// GET `path` with an optional bearer token: (status, JSON body).
    pub async fn get(&self, path: &str, token: Option<&str>) -> anyhow::Result<(u16, Value)> {
        get_json(&self.client, &format!("{}{path}", self.base), token).await
    }
}

/// An entity of the `jav` domain.
pub fn jav_entity(
    entity_type: analytics_domain::EntityType,
    id: &str,
) -> analytics_domain::EntityKey {
    analytics_domain::EntityKey {
        domain: analytics_domain::Domain::new("jav").expect("jav is a valid domain name"),
        entity_type,
        entity_id: id.into(),
    }
}

/// Counts an event straight into Redis with the real ingest script (UTC
/// buckets), as ingest-svc would, for events the HTTP contract would refuse
/// (an `occurred_at` far from now) or volumes HTTP would make slow.
pub async fn count_in_redis(
    counters: &analytics_store::HotCounters,
    event: &analytics_domain::Event,
) -> anyhow::Result<analytics_store::hot_counters::IngestOutcome> {
    Ok(counters
        .ingest_event(event, &analytics_domain::BucketMode::default(), true)
        .await?)
}

/// The fields a 422 body names, in order.
pub fn error_fields(body: &Value) -> Vec<String> {
    body["errors"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// A valid event occurring now.
pub fn event(
    event_id: &str,
    entity_type: &str,
    entity_id: &str,
    action: &str,
    value: i64,
) -> Value {
    json!({
        "event_id": event_id,
        "domain": "jav",
        "entity_type": entity_type,
        "entity_id": entity_id,
        "action": action,
        "value": value,
        "occurred_at": chrono::Utc::now().to_rfc3339(),
    })
}

/// A workspace binary built next to the test executable (`cargo build
/// --workspace --bins` first; scripts/test.sh does).
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("test executable has no target dir")?;
    let path = dir.join(name);
    anyhow::ensure!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins`",
        path.display()
    );
    Ok(path)
}

/// Polls `check` until it returns `Some`, or fails after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
