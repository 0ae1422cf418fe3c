//! The store boundary's one error type. Services map it to their own errors:
//! `is_unavailable` tells an outage (answer 503, retry later) from a bug, and
//! `is_transient` tells a transaction that may simply run again.

#[cfg(feature = "mongo")]
use mongodb::error::{
    ErrorKind, WriteFailure, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[cfg(feature = "redis")]
    #[error("redis: {0}")]
    Redis(#[from] deadpool_redis::redis::RedisError),
    #[cfg(feature = "redis")]
    #[error("redis pool: {0}")]
    RedisPool(#[from] deadpool_redis::PoolError),
    #[error("{store} did not answer within {millis} ms")]
    Timeout { store: &'static str, millis: u128 },
    #[cfg(feature = "mongo")]
    #[error("mongodb: {0}")]
    Mongo(#[from] mongodb::error::Error),
    #[cfg(feature = "mysql")]
    #[error("mysql: {0}")]
    MySql(#[from] sqlx::Error),
    #[cfg(feature = "mysql")]
    #[error("mysql migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("flush lease on partition {partition} was lost to another flusher")]
    LeaseLost { partition: u16 },
    #[error("partition {partition} is being flushed (waited {waited_seconds} s for it); retry when the flush is done")]
    PartitionsBusy { partition: u16, waited_seconds: u64 },
    #[error("unexpected reply from {store}: {detail}")]
    Protocol { store: &'static str, detail: String },
    #[error("invalid store configuration: {0}")]
    Config(String),
}

/// Redis error codes that mean "not now": out of memory (`maxmemory`), a
/// failed snapshot refusing writes (`MISCONF`), a replica (`READONLY`), a
/// cluster moving or missing slots, a server loading its data or busy with
/// a script. A call refused so did nothing; it may be sent again later.
#[cfg(feature = "redis")]
const REDIS_REFUSALS: [&str; 11] = [
    "OOM",
    "MISCONF",
    "READONLY",
    "MOVED",
    "ASK",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "LOADING",
    "MASTERDOWN",
    "NOREPLICAS",
    "BUSY",
];

/// MongoDB command codes that mean the server cannot serve now: host
/// unreachable, network timeout, shutting down, not the primary (any
/// more), a time limit exceeded.
#[cfg(feature = "mongo")]
const MONGO_UNAVAILABLE: [i32; 10] = [6, 7, 50, 89, 91, 189, 262, 10107, 11600, 13436];

/// MariaDB error numbers that mean the same: too many connections, a
/// lock wait or statement time limit, the server going away or shutting
/// down, the connection lost mid-query.
#[cfg(feature = "mysql")]
const MYSQL_UNAVAILABLE: [u16; 7] = [1040, 1053, 1205, 1969, 2006, 2013, 3024];

/// Write conflict: another transaction wrote the same document first.
#[cfg(feature = "mongo")]
const WRITE_CONFLICT: i32 = 112;
#[cfg(feature = "mongo")]
pub(crate) const DUPLICATE_KEY: i32 = 11000;

impl StoreError {
    /// Which store the error came from (safe to show to anyone; the error
    /// text itself may name hosts and ports).
    pub fn store(&self) -> &'static str {
        match self {
            StoreError::LeaseLost { .. } | StoreError::PartitionsBusy { .. } => "redis",
            #[cfg(feature = "redis")]
            StoreError::Redis(_) | StoreError::RedisPool(_) => "redis",
            #[cfg(feature = "mongo")]
            StoreError::Mongo(_) => "mongodb",
            #[cfg(feature = "mysql")]
            StoreError::MySql(_) | StoreError::Migrate(_) => "mysql",
            StoreError::Timeout { store, .. } | StoreError::Protocol { store, .. } => store,
            StoreError::Config(_) => "configuration",
        }
    }

    /// True when the store could not be reached in time: callers answer 503
    /// or retry; nothing was half-done that they need to undo.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Timeout { .. } | StoreError::PartitionsBusy { .. } => true,
            #[cfg(feature = "redis")]
            StoreError::RedisPool(_) => true,
            #[cfg(feature = "redis")]
            StoreError::Redis(e) => {
                e.is_io_error()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || redis_refuses(e)
            }
            #[cfg(feature = "mongo")]
            StoreError::Mongo(e) => match &*e.kind {
                ErrorKind::ServerSelection { .. }
                | ErrorKind::Io(_)
                | ErrorKind::ConnectionPoolCleared { .. } => true,
                ErrorKind::Command(c) => MONGO_UNAVAILABLE.contains(&c.code),
                _ => false,
            },
            #[cfg(feature = "mysql")]
            StoreError::MySql(e) => match e {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                sqlx::Error::Database(d) => d
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .is_some_and(|m| MYSQL_UNAVAILABLE.contains(&m.number())),
                _ => false,
            },
            _ => false,
        }
    }

    /// The Redis error code (`OOM`, `READONLY`…), if Redis answered one.
    pub fn redis_code(&self) -> Option<&str> {
        match self {
            #[cfg(feature = "redis")]
            StoreError::Redis(e) => e.code(),
            _ => None,
        }
    }

    /// True when Redis answered but refuses to write now (full, read-only,
    /// a cluster reshaping): readiness says so in those words.
    pub fn is_refusal(&self) -> bool {
        match self {
            #[cfg(feature = "redis")]
            StoreError::Redis(e) => redis_refuses(e),
            _ => false,
        }
    }

    /// Whether a Mongo transaction failed only because another transaction
    /// got in its way, so running it again from the start is safe and may
    /// succeed: the driver's transient label, a write conflict (reported
    /// per write inside a bulk write by some servers, without the label),
    /// or a duplicate key from a concurrent upsert or ledger insert that won
    /// the race (the retry re-reads the ledger and its upserts then match).
    #[cfg(feature = "mongo")]
    pub fn is_transient(&self) -> bool {
        let StoreError::Mongo(e) = self else {
            return false;
        };
        if e.contains_label(TRANSIENT_TRANSACTION_ERROR)
            || e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
        {
            return true;
        }
        let transient = |code: i32| code == WRITE_CONFLICT || code == DUPLICATE_KEY;
        match &*e.kind {
            ErrorKind::Command(c) => transient(c.code),
            ErrorKind::Write(WriteFailure::WriteError(w)) => transient(w.code),
            ErrorKind::InsertMany(m) => m
                .write_errors
                .as_ref()
                .is_some_and(|errs| errs.iter().any(|w| transient(w.code))),
            ErrorKind::BulkWrite(b) => b.write_errors.values().any(|w| transient(w.code)),
            _ => false,
        }
    }

    /// Without the MongoDB driver there is no transaction to run again.
    #[cfg(not(feature = "mongo"))]
    pub fn is_transient(&self) -> bool {
        false
    }
}

/// Whether Redis refused a command for now (see [`REDIS_REFUSALS`]).
#[cfg(feature = "redis")]
pub(crate) fn redis_refuses(e: &deadpool_redis::redis::RedisError) -> bool {
    e.code().is_some_and(|c| REDIS_REFUSALS.contains(&c))
}

/// Whether a Mongo error is a duplicate key (a concurrent insert won).
#[cfg(feature = "mongo")]
pub(crate) fn is_duplicate_key(e: &mongodb::error::Error) -> bool {
    matches!(
        e.kind.as_ref(),
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == DUPLICATE_KEY
    )
}

/// Bounds a store call: an unreachable store costs at most `limit`.
// Used by the Redis adapter and the jobs that span MongoDB and MySQL.
#[cfg(any(feature = "redis", all(feature = "mongo", feature = "mysql")))]
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

#[cfg(all(test, feature = "redis"))]
mod tests {
    use super::*;
    use deadpool_redis::redis::{self, Value};

    /// The error a Redis server answers with this reply line.
    fn redis_error(reply: &str) -> StoreError {
        match redis::parse_redis_value(format!("-{reply}\r\n").as_bytes()) {
            Ok(Value::ServerError(e)) => StoreError::Redis(e.into()),
            other => panic!("not a server error: {other:?}"),
        }
    }

    #[test]
    fn a_redis_that_refuses_writes_is_unavailable_and_a_bug_is_not() {
        for reply in [
            "OOM command not allowed when used memory > 'maxmemory'.",
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
            "READONLY You can't write against a read only replica.",
            "MOVED 3999 127.0.0.1:6381",
            "CLUSTERDOWN The cluster is down",
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "LOADING Redis is loading the dataset in memory",
        ] {
            let e = redis_error(reply);
            assert!(e.is_unavailable() && e.is_refusal(), "{reply}");
            assert_eq!(e.redis_code(), reply.split(' ').next(), "{reply}");
        }
        for reply in [
            "ERR wrong number of arguments for 'set' command",
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "NOPERM this user has no permissions to access one of the keys used as arguments",
        ] {
            let e = redis_error(reply);
            assert!(!e.is_unavailable() && !e.is_refusal(), "{reply}");
        }
    }
}
