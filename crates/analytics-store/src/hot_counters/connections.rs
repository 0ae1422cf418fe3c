//! Shared multiplexed connections for the ingest hot path. A multiplexed
//! connection pipelines concurrent commands on one socket, so handing out
//! clones avoids the pool's per-checkout `UNWATCH`+`PING` round trip (half
//! of Redis's work per event). A slot that errors is dropped and reconnects
//! on next use, so ingest recovers by itself after a Redis restart.
//!
//! A connection's driver task runs on the runtime that opened it, so each
//! HTTP worker builds its own `HotCounters`: a worker that stops first
//! during a graceful shutdown cannot take the others' connections with it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;

use deadpool_redis::redis::{self, aio::MultiplexedConnection};

use super::RedisSettings;
use crate::error::StoreError;

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
