//! Where the shared stores are, and dropping what earlier runs left there.

use super::*;

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
pub(crate) fn mysql_url_for(db: &str) -> String {
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
