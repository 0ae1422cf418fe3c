//! How to reach each store: plain values the services' typed configuration
//! fills, defined here without any driver so that a crate can name them
//! (the runtime's configuration does) without compiling the drivers.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: String,
    pub pool_size: usize,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// Multiplexed connections the ingest hot path shares.
    pub shared_connections: usize,
    /// A Redis Cluster's seed nodes (`host:port`); empty: one Redis at
    /// `url`. The nodes take `url`'s scheme and credentials.
    pub cluster_nodes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct MongoSettings {
    pub url: String,
    pub database: String,
    pub connect_timeout: Duration,
    /// How long a ledger entry is kept; a batch left open longer than this
    /// could be applied twice, so it is days, not minutes.
    pub ledger_ttl: Duration,
    pub exactly_once: ExactlyOnce,
}

/// How a flush round is applied exactly once (`mongo.exactly_once`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExactlyOnce {
    /// One transaction writes the round's documents and its ledger entries
    /// (one replica set: cheap).
    #[default]
    Transaction,
    /// Each document's marks (`applied.<partition>`) make its update count
    /// once; the ledger entries follow the documents. No multi-document
    /// transaction, so none spans shards on a sharded cluster.
    Markers,
}

#[derive(Debug, Clone)]
pub struct MySqlSettings {
    pub url: String,
    pub pool_size: u32,
    pub connect_timeout: Duration,
}
