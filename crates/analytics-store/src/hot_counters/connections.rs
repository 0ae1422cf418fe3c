//! Connections to one Redis or to a Redis Cluster, behind one type.
//!
//! One Redis: shared multiplexed connections for the ingest hot path (a
//! multiplexed connection pipelines concurrent commands on one socket, so
//! handing out clones avoids the pool's per-checkout `UNWATCH`+`PING` round
//! trip, half of Redis's work per event) and a pool for the rest. A slot
//! that errors is dropped and reconnects on next use, so ingest recovers by
//! itself after a Redis restart. A connection's driver task runs on the
//! runtime that opened it, so each HTTP worker builds its own
//! `HotCounters`: a worker that stops first during a graceful shutdown
//! cannot take the others' connections with it.
//!
//! A cluster (`redis.cluster_nodes`): one cluster connection, itself
//! multiplexed, which routes each command to the master of its key's slot,
//! follows `MOVED`/`ASK`, and loads a script on every master. Every script
//! and transaction works on keys of one `{p}` hash tag, so each is
//! slot-local; a pipeline across partitions is split by [`Link`] into its
//! commands, each routed on its own.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

use deadpool_redis::redis::aio::{ConnectionLike, MultiplexedConnection};
use deadpool_redis::redis::cluster::ClusterClient;
use deadpool_redis::redis::cluster_async::ClusterConnection;
use deadpool_redis::redis::{self, Cmd, Pipeline, RedisFuture, ServerError, Value};
use futures_util::FutureExt;

use super::RedisSettings;
use crate::error::StoreError;

/// A connection to whichever Redis is configured; every command of the
/// hot counters goes through one.
pub enum Link {
    Pooled(deadpool_redis::Connection),
    Shared(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Link::Pooled(c) => c.req_packed_command(cmd),
            Link::Shared(c) => c.req_packed_command(cmd),
            Link::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Link::Pooled(c) => c.req_packed_commands(pipeline, offset, count),
            Link::Shared(c) => c.req_packed_commands(pipeline, offset, count),
            Link::Cluster(c) => {
                // A transaction is one slot's (MULTI/EXEC goes to one node).
                if pipeline.is_transaction() {
                    c.req_packed_commands(pipeline, offset, count)
                } else {
                    command_by_command(c.clone(), pipeline).boxed()
                }
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Link::Pooled(c) => c.get_db(),
            Link::Shared(c) => c.get_db(),
            Link::Cluster(c) => c.get_db(),
        }
    }
}

/// A pipeline on a cluster: its commands sent at once, each to the master
/// of its own slot (the connection multiplexes them), the replies in
/// order. A command the server refused is its reply, as in a pipeline;
/// a connection failure fails the whole.
async fn command_by_command(
    conn: ClusterConnection,
    pipeline: &Pipeline,
) -> redis::RedisResult<Vec<Value>> {
    let sends = pipeline.cmd_iter().map(|cmd| {
        let mut conn = conn.clone();
        async move { conn.req_packed_command(cmd).await }
    });
    futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|reply| match reply {
            Ok(value) => Ok(value),
            Err(e) => ServerError::try_from(e).map(Value::ServerError),
        })
        .collect()
}

/// The connections of one `HotCounters`.
pub(crate) enum Connections {
    Single {
        pool: deadpool_redis::Pool,
        shared: SharedConnections,
    },
    Cluster(ClusterLink),
}

impl Connections {
    pub fn new(settings: &RedisSettings) -> Result<Self, StoreError> {
        if !settings.cluster_nodes.is_empty() {
            return Ok(Connections::Cluster(ClusterLink::new(settings)?));
        }
        let mut cfg = deadpool_redis::Config::from_url(settings.url.clone());
        cfg.pool = Some(deadpool_redis::PoolConfig {
            max_size: settings.pool_size,
            timeouts: deadpool_redis::Timeouts {
                wait: Some(settings.command_timeout),
                create: Some(settings.connect_timeout),
                recycle: Some(settings.command_timeout),
            },
            ..deadpool_redis::PoolConfig::default()
        });
        let pool = cfg
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| StoreError::Config(format!("redis.url: {e}")))?;
        Ok(Connections::Single {
            pool,
            shared: SharedConnections::new(settings)?,
        })
    }

    /// A connection for one exchange (flush, reads, admin commands).
    pub async fn pooled(&self) -> Result<Link, StoreError> {
        match self {
            Connections::Single { pool, .. } => Ok(Link::Pooled(pool.get().await?)),
            Connections::Cluster(c) => c.get().await.map(Link::Cluster),
        }
    }

    /// A connection of the ingest hot path and its slot (to discard it
    /// after an error).
    pub async fn shared(&self) -> Result<(usize, Link), StoreError> {
        match self {
            Connections::Single { shared, .. } => {
                let (slot, conn) = shared.get().await?;
                Ok((slot, Link::Shared(conn)))
            }
            Connections::Cluster(c) => Ok((0, Link::Cluster(c.get().await?))),
        }
    }

    /// Forgets a shared connection after an error; the next use
    /// reconnects (a cluster connection reconnects by itself).
    pub fn discard(&self, slot: usize) {
        if let Connections::Single { shared, .. } = self {
            shared.discard(slot);
        }
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Connections::Cluster(_))
    }
}

/// The cluster connection, opened on first use.
pub(crate) struct ClusterLink {
    client: ClusterClient,
    conn: tokio::sync::OnceCell<ClusterConnection>,
}

impl ClusterLink {
    fn new(settings: &RedisSettings) -> Result<Self, StoreError> {
        let nodes = node_urls(&settings.url, &settings.cluster_nodes);
        let client = ClusterClient::builder(nodes)
            .connection_timeout(settings.connect_timeout)
            .response_timeout(settings.command_timeout)
            .build()
            .map_err(|e| StoreError::Config(format!("redis.cluster_nodes: {e}")))?;
        Ok(ClusterLink {
            client,
            conn: tokio::sync::OnceCell::new(),
        })
    }

    async fn get(&self) -> Result<ClusterConnection, StoreError> {
        let conn = self
            .conn
            .get_or_try_init(|| self.client.get_async_connection())
            .await?;
        Ok(conn.clone())
    }
}

/// The cluster's seed nodes as URLs with the scheme (TLS or not) and the
/// credentials of `redis.url`: the nodes of one cluster share them.
pub fn node_urls(url: &str, nodes: &[String]) -> Vec<String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
    let authority = rest.split('/').next().unwrap_or_default();
    let userinfo = authority
        .rsplit_once('@')
        .map(|(user, _)| format!("{user}@"))
        .unwrap_or_default();
    nodes
        .iter()
        .map(|node| format!("{scheme}://{userinfo}{node}/"))
        .collect()
}

pub(crate) struct SharedConnections {
    client: redis::Client,
    slots: Vec<RwLock<Option<MultiplexedConnection>>>,
    next: AtomicUsize,
    config: redis::AsyncConnectionConfig,
}

impl SharedConnections {
    pub fn new(settings: &RedisSettings) -> Result<Self, StoreError> {
        let client = redis::Client::open(settings.url.as_str())
            .map_err(|e| StoreError::Config(format!("redis.url: {e}")))?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(settings.connect_timeout))
            .set_response_timeout(Some(settings.command_timeout));
        Ok(SharedConnections {
            client,
            slots: (0..settings.shared_connections.max(1))
                .map(|_| RwLock::new(None))
                .collect(),
            next: AtomicUsize::new(0),
            config,
        })
    }

    /// A connection (round robin over the slots) and its slot number.
    pub async fn get(&self) -> Result<(usize, MultiplexedConnection), StoreError> {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let cached = self.slots[slot]
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(conn) = cached {
            return Ok((slot, conn));
        }
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await?;
        *self.slots[slot].write().unwrap_or_else(|p| p.into_inner()) = Some(conn.clone());
        Ok((slot, conn))
    }

    /// Forgets a slot's connection after an error; the next use reconnects.
    pub fn discard(&self, slot: usize) {
        *self.slots[slot].write().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::node_urls;

    #[test]
    fn cluster_nodes_take_the_scheme_and_credentials_of_the_url() {
        let nodes = ["10.0.0.1:7000".to_string(), "redis-2:7001".to_string()];
        assert_eq!(
            node_urls("rediss://app:s3cret@redis:6379/0", &nodes),
            [
                "rediss://app:s3cret@10.0.0.1:7000/",
                "rediss://app:s3cret@redis-2:7001/"
            ]
        );
        assert_eq!(
            node_urls("redis://127.0.0.1:6390/", &nodes[..1]),
            ["redis://10.0.0.1:7000/"]
        );
    }
}
