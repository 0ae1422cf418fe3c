//! The store boundary's one error type. Services map it to their own errors;
//! `is_unavailable` tells an outage (retry later) from a bug.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] deadpool_redis::redis::RedisError),
    #[error("redis pool: {0}")]
    RedisPool(#[from] deadpool_redis::PoolError),
    #[error("{store} did not answer within {millis} ms")]
    Timeout { store: &'static str, millis: u128 },
    #[error("mongodb: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[error("mysql: {0}")]
    MySql(#[from] sqlx::Error),
    #[error("mysql migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("flush lease on partition {partition} was lost to another flusher")]
    LeaseLost { partition: u16 },
    #[error("unexpected reply from {store}: {detail}")]
    Protocol { store: &'static str, detail: String },
    #[error("invalid store configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// True when the store could not be reached in time: callers answer 503
    /// or retry; nothing was half-done that they need to undo.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Timeout { .. } | StoreError::RedisPool(_) => true,
            StoreError::Redis(e) => {
                e.is_io_error()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_connection_dropped()
            }
            StoreError::Mongo(e) => matches!(
                *e.kind,
                mongodb::error::ErrorKind::ServerSelection { .. }
                    | mongodb::error::ErrorKind::Io(_)
            ),
            StoreError::MySql(e) => matches!(
                e,
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
            ),
            _ => false,
        }
    }
}

/// Bounds a store call: an unreachable store costs at most `limit`.
pub(crate) async fn bounded<T, E>(
    store: &'static str,
    limit: std::time::Duration,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, StoreError>
where
    StoreError: From<E>,
{
    match tokio::time::timeout(limit, fut).await {
        Ok(result) => result.map_err(StoreError::from),
        Err(_) => Err(StoreError::Timeout {
            store,
            millis: limit.as_millis(),
        }),
    }
}
